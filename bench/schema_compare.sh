#!/usr/bin/env bash
# Rampart's JSON Schema validator vs ajv on the same inputs (bench/data/schema_bench_*.json).
# Usage: bench/schema_compare.sh [path/to/schema_bench] [rounds]
#   default binary: build/h-schema-rel/bench/schema_bench (a Release build with
#   -DRAMPART_BUILD_BENCH=ON). Installs bench/js dependencies when missing.
# Both sides are timed in wall-clock time, one thread, and run alternately for `rounds`
# rounds (default 3); each reports its best rate, which is the least disturbed by other
# load on the machine.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
bin="${1:-$root/build/h-schema-rel/bench/schema_bench}"
rounds="${2:-3}"
if [[ ! -x "$bin" ]]; then
  echo "schema_bench not found at $bin (build it: cmake --build <release dir> --target schema_bench)" >&2
  exit 1
fi
if [[ ! -d "$here/js/node_modules/ajv" || ! -d "$here/js/node_modules/ajv-formats" ]]; then
  (cd "$here/js" && { [[ -f package-lock.json ]] && npm ci --silent || npm install --silent; })
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for ((r = 0; r < rounds; r++)); do
  "$bin" --benchmark_filter='BM_Schema(Valid|Invalid|InvalidAllErrors)/' \
    --benchmark_repetitions=5 --benchmark_format=json --benchmark_min_time=0.5 > "$tmp/cpp$r.json"
  node "$here/js/schema_bench.js" > "$tmp/js$r.json"
done

python3 - "$tmp" "$rounds" <<'PY'
import json, sys, os
tmp, rounds = sys.argv[1], int(sys.argv[2])
cpp, js = {}, {}
for r in range(rounds):
    for b in json.load(open(os.path.join(tmp, f"cpp{r}.json")))["benchmarks"]:
        if b.get("run_type") == "iteration":
            name = b["run_name"].split("/")[0]
            cpp[name] = max(cpp.get(name, 0), b["items_per_second"])
    j = json.load(open(os.path.join(tmp, f"js{r}.json")))
    for k in ("valid_per_s", "invalid_per_s"):
        js[k] = max(js.get(k, 0), j[k])
    meta = j
rows = [
    ("valid instance", cpp["BM_SchemaValid"], js["valid_per_s"]),
    ("invalid, first error", cpp["BM_SchemaInvalid"], js["invalid_per_s"]),
    ("invalid, all errors (Rampart)", cpp["BM_SchemaInvalidAllErrors"], js["invalid_per_s"]),
]
print(f"ajv {meta['ajv_version']} (allErrors: false) on node {meta['node_version']}; best of {rounds} rounds each")
print(f"{'case':32} {'rampart/s':>12} {'ajv/s':>12} {'ratio':>7}")
for name, r, a in rows:
    print(f"{name:32} {r:12,.0f} {a:12,.0f} {r / a:6.2f}x")
PY
