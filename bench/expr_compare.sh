#!/usr/bin/env bash
# Rampart's expression language vs jexl (npm) on the same four cases, eval and compile.
# Usage: bench/expr_compare.sh [path/to/expr_bench]
#   default binary: build/h-expr-rel/bench/expr_bench (Release build with
#   -DRAMPART_BUILD_BENCH=ON). Installs bench/js dependencies with `npm ci`/`npm install`
#   when missing. Both sides run in turn ROUNDS times (default 2) and each case keeps its
#   best figure (Rampart: fastest of 5 repetitions; jexl: fastest of 5 timed rounds), which
#   is the fairest summary on a shared, noisy machine.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
bin="${1:-$root/build/h-expr-rel/bench/expr_bench}"
rounds="${ROUNDS:-2}"
if [[ ! -x "$bin" ]]; then
  echo "expr_bench not found at $bin (build it: cmake --build <release dir> --target expr_bench)" >&2
  exit 1
fi
if [[ ! -d "$here/js/node_modules/jexl" ]]; then
  (cd "$here/js" && { [[ -f package-lock.json ]] && npm ci --silent || npm install --silent; })
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for ((r = 0; r < rounds; r++)); do
  "$bin" --benchmark_filter='BM_(Eval|Compile)/' --benchmark_repetitions=5 \
    --benchmark_format=json > "$tmp/cpp_$r.json"
  node "$here/js/expr_bench.js" > "$tmp/js_$r.json"
done

node - "$tmp" "$rounds" <<'JS'
const fs = require('fs');
const [dir, rounds] = [process.argv[2], Number(process.argv[3])];
const ours = {};
const theirs = { eval: {}, compile: {} };
let js;
for (let r = 0; r < rounds; r++) {
  const cpp = JSON.parse(fs.readFileSync(`${dir}/cpp_${r}.json`, 'utf8'));
  for (const b of cpp.benchmarks) {
    if (b.run_type !== 'iteration') continue;
    const scale = { ns: 1, us: 1e3, ms: 1e6 }[b.time_unit] || 1;
    const ns = b.real_time * scale;
    ours[b.run_name] = Math.min(ours[b.run_name] ?? Infinity, ns);
  }
  js = JSON.parse(fs.readFileSync(`${dir}/js_${r}.json`, 'utf8'));
  for (const kind of ['eval', 'compile']) {
    for (const [name, ns] of Object.entries(js[`${kind}_ns`])) {
      theirs[kind][name] = Math.min(theirs[kind][name] ?? Infinity, ns);
    }
  }
}
console.log(`jexl ${js.jexl_version} on node ${js.node_version}; best of ${rounds} interleaved rounds each`);
const pad = (s, n) => String(s).padStart(n);
console.log(`${'case'.padEnd(22)}${pad('rampart ns/op', 15)}${pad('jexl ns/op', 13)}${pad('speedup', 10)}`);
for (const kind of ['eval', 'compile']) {
  for (const name of ['path', 'condition', 'filters', 'template']) {
    const a = ours[`BM_${kind === 'eval' ? 'Eval' : 'Compile'}/${name}`];
    const b = theirs[kind][name];
    console.log(`${(kind + ' ' + name).padEnd(22)}${pad(a.toFixed(1), 15)}${pad(b.toFixed(1), 13)}` +
                `${pad((b / a).toFixed(1) + 'x', 10)}`);
  }
}
JS
