// ajv baseline for bench/schema_bench.cc: the same schema and instances (bench/data/),
// draft 2020-12 (ajv/dist/2020), formats on (ajv-formats), allErrors: false, compiled once.
// Prints one JSON object: validations per second for the valid and the invalid instance.
'use strict';
const fs = require('fs');
const path = require('path');
const Ajv2020 = require('ajv/dist/2020');
const addFormats = require('ajv-formats');

const dataDir = process.env.SCHEMA_BENCH_DATA || path.join(__dirname, '..', 'data');
const load = (name) => JSON.parse(fs.readFileSync(path.join(dataDir, name), 'utf8'));
const schema = load('schema_bench_schema.json');
const valid = load('schema_bench_valid.json');
const invalid = load('schema_bench_invalid.json');

const ajv = new Ajv2020({ allErrors: false, strict: false });
addFormats(ajv);
const validate = ajv.compile(schema);
if (!validate(valid)) throw new Error('valid instance rejected: ' + JSON.stringify(validate.errors));
if (validate(invalid)) throw new Error('invalid instance accepted');

// Best of several timed rounds of ~1 s each, after a warm-up that lets V8 optimize.
function opsPerSecond(data) {
  for (let i = 0; i < 200000; i++) validate(data);
  let best = 0;
  for (let round = 0; round < 5; round++) {
    let n = 0;
    let sink = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0n;
    while (elapsed < 1000000000n) {
      for (let i = 0; i < 10000; i++) sink += validate(data) ? 1 : 0;
      n += 10000;
      elapsed = process.hrtime.bigint() - start;
    }
    if (sink < 0) console.log(sink);
    best = Math.max(best, n / (Number(elapsed) / 1e9));
  }
  return best;
}

const result = {
  ajv_version: require('ajv/package.json').version,
  node_version: process.version,
  valid_per_s: opsPerSecond(valid),
  invalid_per_s: opsPerSecond(invalid),
};
console.log(JSON.stringify(result));
