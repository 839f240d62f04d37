#!/usr/bin/env bash
# Instructions per run of the end-to-end server benchmark, counted by callgrind: a figure
# that does not move with the load of a shared machine (wall-clock benchmarks here vary
# by +-20% from one minute to the next), for comparing two builds of one change.
#
# Usage: bench/server_callgrind.sh [path/to/rampart] [out.callgrind]
#   default binary: $RAMPART_BIN, else build/release/apps/rampart/rampart
#   env: DURATION (20s) of the wrk load (8 connections; rampart runs ~50x slower under
#        valgrind, so this is ~1,000 runs); IDEMPOTENCY_KEYS=1: every counted request
#        carries a new Idempotency-Key (the cost of a keyed first use).
# Starts `rampart serve` under valgrind with instrumentation off, bootstraps it, publishes
# bench/server/workflow.yaml, warms it up with 3 runs, then counts instructions (Ir, user
# space only, every thread) only while wrk posts runs with `wait`. Prints Ir per answered
# run; `callgrind_annotate --inclusive=yes OUT` shows where they go.
# Needs: valgrind, wrk, curl, jq.
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
rampart_bin="$(realpath "${1:-${RAMPART_BIN:-$root/build/release/apps/rampart/rampart}}")"
out="$(realpath -m "${2:-$root/server.callgrind}")"
duration="${DURATION:-20s}"
[[ -x "$rampart_bin" ]] || { echo "rampart binary not found at $rampart_bin" >&2; exit 1; }
for tool in valgrind callgrind_control callgrind_annotate wrk curl jq; do
  command -v "$tool" > /dev/null || { echo "$tool is required" >&2; exit 1; }
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/rampart-callgrind.XXXXXX")"
rampart_pid=""
cleanup() {
  stop_pid "$rampart_pid"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { printf 'server_callgrind: %s\n' "$*" >&2; exit 1; }
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
# One API key drives the load: lift its request bucket (api_rate_limit) as server_load.sh
# does, so the count includes the limiter's check but never a 429.
EXTRA_CONFIG="api_rate_limit: { rpm: 100000000, burst: 1000000 }${EXTRA_CONFIG:+
$EXTRA_CONFIG}"

# start_rampart runs "$bin serve ...": a wrapper puts valgrind in front.
callgrind_wrapper "$out" "$rampart_bin"
start_rampart
bootstrap
deploy "$here/server/workflow.yaml" bench-order
jq -c '{input: ., wait: 5}' "$here/server/input.json" > "$tmp/run.json"
runs_path="/v1/orgs/$org/workflows/bench-order/runs"
for _ in 1 2 3; do
  api POST "$runs_path" -H "$auth" -H 'Content-Type: application/json' \
    --data-binary "@$tmp/run.json" > /dev/null
done
counted_wrk "$tmp/wrk.txt" -t1 -c8 "-d$duration" -s "$here/server/post_run.lua" \
  "$base$runs_path" -- "$tmp/run.json" "Bearer $key" "${IDEMPOTENCY_KEYS:-}"
runs="$(bench "$tmp/wrk.txt" requests)"
non200="$(bench "$tmp/wrk.txt" non200)"
[[ "$non200" == 0 ]] || die "$non200 answers were not 200"
total="$(callgrind_total "$out")"
echo "server_callgrind: $runs runs answered 200; $total instructions; $((total / runs)) per run ($out)"
