#!/usr/bin/env bash
# Rampart's JSON Schema validator vs ajv on the same inputs (bench/data/schema_bench_*.json).
# Usage: bench/schema_compare.sh [path/to/schema_bench]
#   default binary: build/h-schema-rel/bench/schema_bench (Release build with
#   -DRAMPART_BUILD_BENCH=ON). Installs bench/js dependencies with `npm ci`/`npm install`
#   when missing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
bin="${1:-$root/build/h-schema-rel/bench/schema_bench}"
if [[ ! -x "$bin" ]]; then
  echo "schema_bench not found at $bin (build it: cmake --build <release dir> --target schema_bench)" >&2
  exit 1
fi
if [[ ! -d "$here/js/node_modules/ajv" || ! -d "$here/js/node_modules/ajv-formats" ]]; then
  (cd "$here/js" && { [[ -f package-lock.json ]] && npm ci --silent || npm install --silent; })
fi

cpp_json="$(mktemp)"
trap 'rm -f "$cpp_json"' EXIT
"$bin" --benchmark_filter='BM_Schema(Valid|Invalid|InvalidAllErrors)/' \
  --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  --benchmark_format=json --benchmark_min_time=1 > "$cpp_json"
js_json="$(node "$here/js/schema_bench.js")"

python3 - "$cpp_json" "$js_json" <<'PY'
import json, sys
cpp = json.load(open(sys.argv[1]))
js = json.loads(sys.argv[2])
rate = {}
for b in cpp["benchmarks"]:
    if b.get("aggregate_name") == "median":
        rate[b["run_name"].split("/")[0]] = b["items_per_second"]
rows = [
    ("valid instance", rate["BM_SchemaValid"], js["valid_per_s"]),
    ("invalid, first error", rate["BM_SchemaInvalid"], js["invalid_per_s"]),
    ("invalid, all errors (Rampart)", rate["BM_SchemaInvalidAllErrors"], js["invalid_per_s"]),
]
print(f"ajv {js['ajv_version']} on node {js['node_version']}; Rampart median of 5, ajv best of 5")
print(f"{'case':32} {'rampart/s':>12} {'ajv/s':>12} {'ratio':>7}")
for name, r, a in rows:
    print(f"{name:32} {r:12,.0f} {a:12,.0f} {r / a:6.2f}x")
PY
