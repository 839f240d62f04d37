#!/usr/bin/env bash
# Instructions per webhook delivery (issue 5), counted by callgrind: the load-independent
# figure of bench/webhook_load.sh (whose wall-clock figures move +-15% on a shared
# machine), for comparing two builds of one change.
#
# Usage: bench/webhook_callgrind.sh [path/to/rampart] [out.callgrind]
#   default binary: $RAMPART_BIN, else build/release/apps/rampart/rampart
#   env: MODE=accepted (default): signed deliveries, each with its own webhook-id, each
#          answer must be 202; MODE=forged: the same request with a signature that does
#          not verify (bench/webhook/post_forged.lua), each answer must be 401.
#        DURATION (20s) of the wrk load (8 connections; rampart runs ~50x slower under
#          valgrind, so this is ~1,000-3,000 deliveries).
#        SIGNED (20000) deliveries pre-signed by bench/webhook/sign.mjs (must outlast the
#          load: a repeated id would answer 409 and fail the run).
# Starts `rampart serve` under valgrind with instrumentation off, bootstraps it, creates
# the webhook_secret connector, publishes bench/webhook/workflow.yaml and its trigger,
# warms up with 3 signed deliveries, then counts instructions (Ir, user space only, every
# thread) only while wrk sends deliveries. Prints Ir per answered delivery;
# `callgrind_annotate --inclusive=yes OUT` shows where they go.
# Needs: valgrind, wrk, node, curl, jq.
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
wh="$here/webhook"
rampart_bin="$(realpath "${1:-${RAMPART_BIN:-$root/build/release/apps/rampart/rampart}}")"
out="$(realpath -m "${2:-$root/webhook.callgrind}")"
duration="${DURATION:-20s}"
mode="${MODE:-accepted}"
signed_n="${SIGNED:-20000}"
[[ "$mode" == accepted || "$mode" == forged ]] || { echo "MODE must be accepted or forged" >&2; exit 1; }
[[ -x "$rampart_bin" ]] || { echo "rampart binary not found at $rampart_bin" >&2; exit 1; }
for tool in valgrind callgrind_control callgrind_annotate wrk node curl jq; do
  command -v "$tool" > /dev/null || { echo "$tool is required" >&2; exit 1; }
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/rampart-webhook-callgrind.XXXXXX")"
rampart_pid=""
cleanup() {
  stop_pid "$rampart_pid"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { printf 'webhook_callgrind: %s\n' "$*" >&2; exit 1; }
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
# As webhook_load.sh: lift the org's webhook bucket and the queue bound, so the count
# includes the limiter's check but never a 429.
EXTRA_CONFIG="webhook_org_rate_limit: { rpm: 100000000, burst: 1000000 }
max_queued_runs: 1000000${EXTRA_CONFIG:+
$EXTRA_CONFIG}"

# start_rampart runs "$bin serve ...": a wrapper puts valgrind in front.
callgrind_wrapper "$out" "$rampart_bin"
start_rampart
bootstrap
deploy_hook bench-hook
body_file="$wh/body.json"

node "$wh/sign.mjs" "$secret" 3 "$body_file" "$tmp/warm.txt" warmup_
while read -r w_id w_ts w_sig; do
  code="$(curl -sS -o "$tmp/warm.json" -w '%{http_code}' -X POST "$base$hook_path" \
    -H 'Content-Type: application/json' -H "webhook-id: $w_id" -H "webhook-timestamp: $w_ts" \
    -H "webhook-signature: $w_sig" --data-binary "@$body_file")"
  [[ "$code" == 202 ]] || die "a warm-up delivery answered $code: $(cat "$tmp/warm.json")"
done < "$tmp/warm.txt"

if [[ "$mode" == accepted ]]; then
  node "$wh/sign.mjs" "$secret" "$signed_n" "$body_file" "$tmp/signed.txt"
  load=(-s "$wh/post_signed.lua" "$base$hook_path" -- "$tmp/signed.txt" "$body_file" 202 1)
  want=202
else
  load=(-s "$wh/post_forged.lua" "$base$hook_path" -- "$body_file" "$(date +%s)" 401)
  want=401
fi
counted_wrk "$tmp/wrk.txt" -t1 -c8 "-d$duration" "${load[@]}"
requests="$(bench "$tmp/wrk.txt" requests)"
expected="$(bench "$tmp/wrk.txt" expected)"
((requests > 0)) || die "no request answered"
((expected == requests)) || die "$((requests - expected)) of $requests answers were not $want: $(awk '$1 == "BENCH" && $2 == "unexpected"' "$tmp/wrk.txt")"
if [[ "$mode" == accepted ]]; then
  repeats="$(bench "$tmp/wrk.txt" repeats)"
  [[ "$repeats" == 0 ]] || die "the $signed_n pre-signed ids ran out (set SIGNED higher)"
fi
total="$(callgrind_total "$out")"
echo "webhook_callgrind: $requests $mode deliveries answered $want; $total instructions; $((total / requests)) per delivery ($out)"
