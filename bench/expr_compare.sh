#!/usr/bin/env bash
# Rampart's expression language vs jexl (npm) on the same four cases.
# Usage: bench/expr_compare.sh [path/to/expr_bench]
#   default binary: build/h-expr-rel/bench/expr_bench (Release build with
#   -DRAMPART_BUILD_BENCH=ON). Installs bench/js dependencies with `npm ci`/`npm install`
#   when missing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
bin="${1:-$root/build/h-expr-rel/bench/expr_bench}"
if [[ ! -x "$bin" ]]; then
  echo "expr_bench not found at $bin (build it: cmake --build <release dir> --target expr_bench)" >&2
  exit 1
fi
if [[ ! -d "$here/js/node_modules/jexl" ]]; then
  (cd "$here/js" && { [[ -f package-lock.json ]] && npm ci --silent || npm install --silent; })
fi

cpp_json="$(mktemp)"
trap 'rm -f "$cpp_json"' EXIT
"$bin" --benchmark_filter='BM_(Eval|Compile)/' --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true --benchmark_format=json > "$cpp_json"
js_json="$(node "$here/js/expr_bench.js")"

node - "$cpp_json" "$js_json" <<'JS'
const fs = require('fs');
const cpp = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const js = JSON.parse(process.argv[3]);
const ns = {};
for (const b of cpp.benchmarks) {
  if (b.aggregate_name !== 'median') continue;
  const scale = { ns: 1, us: 1e3, ms: 1e6 }[b.time_unit] || 1;
  ns[b.run_name] = b.real_time * scale;
}
console.log(`jexl ${js.jexl_version} on node ${js.node_version}; Rampart median of 5, jexl best of 5`);
const pad = (s, n) => String(s).padStart(n);
console.log(`${'case'.padEnd(22)}${pad('rampart ns/op', 15)}${pad('jexl ns/op', 13)}${pad('speedup', 10)}`);
for (const kind of ['eval', 'compile']) {
  for (const name of ['path', 'condition', 'filters', 'template']) {
    const ours = ns[`BM_${kind === 'eval' ? 'Eval' : 'Compile'}/${name}`];
    const theirs = js[`${kind}_ns`][name];
    console.log(`${(kind + ' ' + name).padEnd(22)}${pad(ours.toFixed(1), 15)}${pad(theirs.toFixed(1), 13)}` +
                `${pad((theirs / ours).toFixed(1) + 'x', 10)}`);
  }
}
JS
