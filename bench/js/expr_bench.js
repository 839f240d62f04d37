// jexl baseline for bench/expr_bench.cc: the same scope and the same four cases, written
// in jexl syntax (jexl has no templates: the text template is one concatenation, and the
// filters are jexl transforms implemented as plain JS functions). Expressions are compiled
// once and evaluated with evalSync. Prints one JSON object with ns/op per case, for
// evaluation and for compilation.
'use strict';
const jexlPkg = require('jexl/package.json');
const { Jexl } = require('jexl');

// Keep in sync with bench/expr_bench.cc.
const context = {
  inputs: {
    order_id: 'A-1042', amount: 150, currency: 'EUR', status: 'active',
    customer: {
      name: '  Ada Lovelace  ', email: 'ada@example.com',
      address: { street: '12 Rue de Rivoli', city: 'Paris', zip: '75001' },
    },
    items: [{ sku: 'x1', qty: 2, price: 10.5 }, { sku: 'y2', qty: 1, price: 129 }],
    tags: ['new', 'priority', 'eu'],
  },
  steps: { check: { output: { ok: true }, status: 'succeeded' } },
  secrets: { token: 'not-used-here' },
};

const jexl = new Jexl();
jexl.addTransform('trim', (s) => s.trim());
jexl.addTransform('lower', (s) => s.toLowerCase());
jexl.addTransform('upper', (s) => s.toUpperCase());
jexl.addTransform('replace', (s, a, b) => s.split(a).join(b));
jexl.addTransform('split', (s, sep) => s.split(sep));
jexl.addTransform('reverse', (a) => a.slice().reverse());
jexl.addTransform('join', (a, sep) => a.join(sep));
jexl.addTransform('slice', (s, b, e) => s.slice(b, e));
jexl.addTransform('length', (s) => s.length);

const cases = {
  path: 'inputs.customer.address.city',
  condition: "inputs.amount * 1.2 > 100 && inputs.status == 'active'",
  filters:
    "inputs.customer.name|trim|lower|replace('a', 'o')|upper|split(' ')|reverse|join('-')|slice(0, 20)|lower|length",
  template:
    "'Order ' + inputs.order_id + ' for ' + inputs.customer.email + ' (' + inputs.customer.address.city + '): ' + inputs.amount + ' ' + inputs.currency",
};
const expected = {
  path: 'Paris',
  condition: true,
  filters: 12,
  template: 'Order A-1042 for ada@example.com (Paris): 150 EUR',
};

// Best of 5 timed rounds of ~0.5 s, after a warm-up that lets V8 optimize.
function nsPerOp(fn) {
  for (let i = 0; i < 100000; i++) fn();
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    let n = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0n;
    while (elapsed < 500000000n) {
      for (let i = 0; i < 1000; i++) fn();
      n += 1000;
      elapsed = process.hrtime.bigint() - start;
    }
    best = Math.min(best, Number(elapsed) / n);
  }
  return best;
}

const result = {
  jexl_version: jexlPkg.version,
  node_version: process.version,
  eval_ns: {},
  compile_ns: {},
};
let sink = 0;
for (const [name, src] of Object.entries(cases)) {
  const expr = jexl.compile(src);
  const got = expr.evalSync(context);
  if (got !== expected[name]) throw new Error(`${name}: got ${JSON.stringify(got)}`);
  result.eval_ns[name] = nsPerOp(() => {
    sink += expr.evalSync(context) ? 1 : 0;
  });
  result.compile_ns[name] = nsPerOp(() => {
    sink += jexl.compile(src) ? 1 : 0;
  });
}
if (sink < 0) console.error(sink);
console.log(JSON.stringify(result));
