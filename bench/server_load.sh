#!/usr/bin/env bash
# End-to-end server benchmark (issue 8): `POST /v1/orgs/{org}/workflows/{id}/runs` with
# `wait` for the 5-step workflow bench/server/workflow.yaml, under wrk, against a fresh
# `rampart serve`; then nginx (nginx-light) answering a fixed 200 JSON body of the same
# size under the same wrk command, as the ceiling of this machine + load generator.
#
# Usage: bench/server_load.sh [path/to/rampart]
#   default binary: $RAMPART_BIN, else build/release/apps/rampart/rampart
#   env: DURATION (20s), CONNECTIONS (32), THREADS (2), WAIT (5, the run request's `wait`),
#        ORG_CONCURRENCY=N to PATCH the org's max_concurrent_runs (1..100; setup makes 10),
#        IO_THREADS=N for the server's `io_threads` config (default: rampart's own),
#        NGINX=0 to skip the nginx ceiling,
#        PERF=1 to record `perf record -g` of rampart for 5 s in the middle of its load
#        (written to ./perf-rampart.data).
# Needs: wrk, nginx (Debian nginx-light), curl, jq. Builds nothing.
#
# Reports runs/s, p50/p99 latency, the ratio to nginx, idle RSS (VmRSS after bootstrap)
# and peak RSS (VmHWM after the load); checks every rampart response was 200, and that
# the runs are durably stored: after the load the server is restarted on the same data
# directory and the succeeded runs are counted through the API.
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
bin="${1:-${RAMPART_BIN:-$root/build/release/apps/rampart/rampart}}"
duration="${DURATION:-20s}"
connections="${CONNECTIONS:-32}"
threads="${THREADS:-2}"
wait_s="${WAIT:-5}"
workflow_id="bench-order"

if [[ ! -x "$bin" ]]; then
  echo "rampart binary not found at $bin; build it first:" >&2
  echo "  cmake --preset release && cmake --build --preset release --target rampart" >&2
  echo "(or pass the path of a Release build: bench/server_load.sh path/to/rampart)" >&2
  exit 1
fi
for tool in wrk nginx curl jq; do
  if ! command -v "$tool" > /dev/null; then
    echo "$tool is required (Debian: apt-get install wrk nginx-light curl jq)" >&2
    exit 1
  fi
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/rampart-bench.XXXXXX")"
rampart_pid=""
nginx_pid=""
perf_pid=""
cleanup() {
  stop_pid "$perf_pid"
  stop_pid "$nginx_pid"
  stop_pid "$rampart_pid"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { printf 'server_load: %s\n' "$*" >&2; exit 1; }
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
# The load goes through ONE API key: lift its request bucket (api_rate_limit, default
# 6000/min, burst 1000) far above the load, so the figures measure the server with the
# limiter's check on the hot path, not the limit.
EXTRA_CONFIG="api_rate_limit: { rpm: 100000000, burst: 1000000 }${EXTRA_CONFIG:+
$EXTRA_CONFIG}"



# ----- rampart -----
log "rampart: $bin"
log "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); load average $(cut -d' ' -f1-3 /proc/loadavg)"
start_rampart
log "listening on $base (data $tmp/data)"

bootstrap
deploy "$here/server/workflow.yaml" "$workflow_id"
if [[ -n "${ORG_CONCURRENCY:-}" ]]; then
  api PATCH "/v1/orgs/$org" -H "$auth" -H 'Content-Type: application/json' \
    -d "{\"max_concurrent_runs\": $ORG_CONCURRENCY}" > /dev/null
fi
jq -c --argjson w "$wait_s" '{input: ., wait: $w}' "$here/server/input.json" > "$tmp/run.json"
runs_path="/v1/orgs/$org/workflows/$workflow_id/runs"

# One run before the load: checks the answer and gives nginx a body of the same size.
api POST "$runs_path" -H "$auth" -H 'Content-Type: application/json' \
  --data-binary "@$tmp/run.json" > "$tmp/record.json"
[[ "$(jq -r .status "$tmp/record.json")" == succeeded ]] ||
  die "the warm-up run did not succeed: $(cat "$tmp/record.json")"
warmup_runs=1
record_bytes="$(wc -c < "$tmp/record.json")"
log "org $org, workflow $workflow_id published; run record $record_bytes bytes"

sleep 1
idle_rss_kb="$(status_field "$rampart_pid" VmRSS)"
log "idle RSS after bootstrap: $idle_rss_kb kB"

wrk_cmd=(wrk "-t$threads" "-c$connections" "-d$duration" --latency -s "$here/server/post_run.lua")
cpu_before="$(cpu_ticks "$rampart_pid")"
wbytes_before="$(io_field "$rampart_pid" write_bytes)"
commits_before="$(metric rampart_store_commits)"
writes_before="$(metric rampart_store_writes)"
syscw_before="$(io_field "$rampart_pid" syscw)"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
if [[ "${PERF:-0}" == 1 ]] && command -v perf > /dev/null; then
  (sleep 5 && exec perf record -g -F 499 -p "$rampart_pid" -o "$root/perf-rampart.data" -- sleep 5) \
    > "$tmp/perf.log" 2>&1 &
  perf_pid=$!
fi
log "wrk -> rampart: ${wrk_cmd[*]} $base$runs_path"
"${wrk_cmd[@]}" "$base$runs_path" -- "$tmp/run.json" "Bearer $key" > "$tmp/wrk-rampart.txt" 2> "$tmp/wrk-rampart.err" ||
  { cat "$tmp/wrk-rampart.err" >&2; die "wrk failed"; }
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
kill -0 "$rampart_pid" 2> /dev/null || { tail -20 "$tmp/rampart.err" >&2; die "rampart exited during the load"; }
cpu_after="$(cpu_ticks "$rampart_pid")"
wbytes_after="$(io_field "$rampart_pid" write_bytes)"
commits_after="$(metric rampart_store_commits)"
writes_after="$(metric rampart_store_writes)"
syscw_after="$(io_field "$rampart_pid" syscw)"
load_rss_kb="$(status_field "$rampart_pid" VmRSS)"
peak_rss_kb="$(status_field "$rampart_pid" VmHWM)"
threads_n="$(status_field "$rampart_pid" Threads)"
if [[ -n "$perf_pid" ]]; then wait "$perf_pid" 2> /dev/null || true; perf_pid=""; fi
cat "$tmp/wrk-rampart.txt" | grep -v '^BENCH' >&2
[[ -s "$tmp/wrk-rampart.err" ]] && cat "$tmp/wrk-rampart.err" >&2

r_requests="$(bench "$tmp/wrk-rampart.txt" requests)"
r_duration_us="$(bench "$tmp/wrk-rampart.txt" duration_us)"
r_non200="$(bench "$tmp/wrk-rampart.txt" non200)"
r_errors="$(awk '$1 == "BENCH" && $2 == "errors" { print $3, $4, $5, $6, $7 }' "$tmp/wrk-rampart.txt")"

# ----- durability: restart on the same data directory and count the stored runs -----
sleep 1  # let runs of requests that wrk abandoned at its deadline finish
stop_pid "$rampart_pid"
rampart_pid=""
start_rampart
stored=0
for status in succeeded failed queued running; do
  n=0
  cursor=""
  while :; do
    page="$(api GET "/v1/orgs/$org/runs?status=$status&limit=200${cursor:+&cursor=$cursor}" -H "$auth")"
    n=$((n + $(jq '.items | length' <<< "$page")))
    cursor="$(jq -r '.next_cursor // empty' <<< "$page")"
    [[ -n "$cursor" ]] || break
  done
  eval "stored_$status=$n"
done
# A sample of stored records: the newest succeeded run, read back whole.
sample_id="$(api GET "/v1/orgs/$org/runs?status=succeeded&limit=1" -H "$auth" | jq -r '.items[0].run_id')"
sample_steps="$(api GET "/v1/orgs/$org/runs/$sample_id" -H "$auth" | jq '[.steps[] | select(.status == "succeeded")] | length')"
stop_pid "$rampart_pid"
rampart_pid=""

hz="$(getconf CLK_TCK)"
cpu_ms_per_run="$(awk -v t="$((cpu_after - cpu_before))" -v hz="$hz" -v n="$r_requests" \
  'BEGIN { printf "%.3f", t * 1000 / hz / n }')"
# Storage bytes and write-type system calls per answered run, during the load.
kb_per_run="$(awk -v b="$((wbytes_after - wbytes_before))" -v n="$r_requests" 'BEGIN { printf "%.1f", b / 1024 / n }')"
per_commit="$(awk -v w="$((writes_after - writes_before))" -v c="$((commits_after - commits_before))" \
  'BEGIN { printf "%.1f", (c > 0 ? w / c : 0) }')"
syscw_per_run="$(awk -v c="$((syscw_after - syscw_before))" -v n="$r_requests" 'BEGIN { printf "%.1f", c / n }')"

# The pass/fail checks of the rampart load (run with or without the nginx ceiling).
check_rampart() {
  local ok=1
  [[ "$r_non200" == 0 ]] || { echo "FAIL: $r_non200 rampart responses were not 200" >&2; ok=0; }
  # wrk stops with up to one request in flight per connection: those runs were accepted
  # (and stored) but their answers are not counted by wrk.
  if ((stored_succeeded < expected || stored_succeeded > expected + connections)); then
    echo "FAIL: $stored_succeeded succeeded runs stored, expected $expected..$((expected + connections))" >&2
    ok=0
  fi
  ((stored_failed + stored_queued + stored_running == 0)) || { echo "FAIL: runs not succeeded were stored" >&2; ok=0; }
  [[ "$sample_steps" == 5 ]] || { echo "FAIL: the sampled run record has $sample_steps succeeded steps, not 5" >&2; ok=0; }
  ((ok)) && echo "checks: every rampart response was 200; every answered run is stored as succeeded"
  ((ok))
}

# ----- nginx ceiling -----
if [[ "${NGINX:-1}" == 0 ]]; then
  echo "rampart: $(rate_of "$r_requests" "$r_duration_us") runs/s, p50 $(bench "$tmp/wrk-rampart.txt" p50_us) us," \
    "p99 $(bench "$tmp/wrk-rampart.txt" p99_us) us, non-200 $r_non200, idle RSS $idle_rss_kb kB," \
    "peak RSS $peak_rss_kb kB, stored succeeded $stored_succeeded (expected $((r_requests + warmup_runs))..)"
  echo "rampart: CPU $cpu_ms_per_run ms per run (user+sys), storage writes $kb_per_run KiB per run, $syscw_per_run write calls per run, $per_commit writes per group commit"
  expected=$((r_requests + warmup_runs))
  check_rampart
  exit
fi
mkdir -p "$tmp/nginx"
nginx_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2> /dev/null ||
  echo $((20000 + RANDOM % 20000)))"
body="$(tr -d '\n' < "$tmp/record.json")"
body="${body//\\/\\\\}"
body="${body//\'/\\\'}"
body="${body//\$/S}"  # nginx has no escape for `$` (variables); same size, fixed text
conf="$(< "$here/server/nginx.conf")"
if [[ "$(id -u)" == 0 ]]; then conf="${conf//@USER@/user root;}"; else conf="${conf//@USER@/}"; fi
conf="${conf//@TMP@/$tmp/nginx}"
conf="${conf//@PORT@/$nginx_port}"
conf="${conf//@BODY@/$body}"
printf '%s\n' "$conf" > "$tmp/nginx/nginx.conf"
nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/nginx-error.log" \
  > "$tmp/nginx.out" 2>&1 &
nginx_pid=$!
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$nginx_port/" && break
  kill -0 "$nginx_pid" 2> /dev/null || { cat "$tmp/nginx.out" "$tmp/nginx/nginx-error.log" >&2; die "nginx exited"; }
  sleep 0.1
done
nginx_bytes="$(curl -s -X POST -H 'Content-Type: application/json' --data-binary "@$tmp/run.json" \
  "http://127.0.0.1:$nginx_port/v1/runs" | wc -c)"
log "wrk -> nginx ($(nproc) workers, body $nginx_bytes bytes): ${wrk_cmd[*]} http://127.0.0.1:$nginx_port$runs_path"
"${wrk_cmd[@]}" "http://127.0.0.1:$nginx_port$runs_path" -- "$tmp/run.json" "Bearer $key" \
  > "$tmp/wrk-nginx.txt" 2> "$tmp/wrk-nginx.err" || { cat "$tmp/wrk-nginx.err" >&2; die "wrk failed"; }
grep -v '^BENCH' "$tmp/wrk-nginx.txt" >&2
stop_pid "$nginx_pid"
nginx_pid=""
n_requests="$(bench "$tmp/wrk-nginx.txt" requests)"
n_duration_us="$(bench "$tmp/wrk-nginx.txt" duration_us)"
n_non200="$(bench "$tmp/wrk-nginx.txt" non200)"

# ----- summary -----
r_rate="$(rate_of "$r_requests" "$r_duration_us")"
n_rate="$(rate_of "$n_requests" "$n_duration_us")"
ratio="$(awk -v a="$r_rate" -v b="$n_rate" 'BEGIN { printf "%.3f", a / b }')"
expected=$((r_requests + warmup_runs))

echo
echo "Server end to end: POST $runs_path (wait $wait_s) x $connections connections, $duration, $threads wrk threads"
echo "machine: $(nproc) CPUs; load average before $load_before, after $load_after"
printf '%-10s %10s %10s %10s %10s %8s %12s %12s\n' server "req/s" p50 p99 p99.9 non-200 "idle RSS" "peak RSS"
printf '%-10s %10s %10s %10s %10s %8s %12s %12s\n' rampart "$r_rate" \
  "$(ms "$(bench "$tmp/wrk-rampart.txt" p50_us)")" "$(ms "$(bench "$tmp/wrk-rampart.txt" p99_us)")" \
  "$(ms "$(bench "$tmp/wrk-rampart.txt" p99.9_us)")" "$r_non200" "$((idle_rss_kb / 1024)) MB" "$((peak_rss_kb / 1024)) MB"
printf '%-10s %10s %10s %10s %10s %8s %12s %12s\n' nginx "$n_rate" \
  "$(ms "$(bench "$tmp/wrk-nginx.txt" p50_us)")" "$(ms "$(bench "$tmp/wrk-nginx.txt" p99_us)")" \
  "$(ms "$(bench "$tmp/wrk-nginx.txt" p99.9_us)")" "$n_non200" - -
echo "ratio rampart/nginx: $ratio (target >= 0.4)"
echo "rampart: RSS at the end of the load $((load_rss_kb / 1024)) MB, $threads_n threads, CPU $cpu_ms_per_run ms per run (user+sys)"
echo "rampart: storage writes $kb_per_run KiB per run, $syscw_per_run write calls per run (/proc/PID/io), $per_commit write transactions per group commit"
echo "rampart wrk socket errors: $r_errors"
echo "stored after restart: succeeded $stored_succeeded, failed $stored_failed, queued $stored_queued, running $stored_running" \
  "(wrk completed $r_requests + $warmup_runs warm-up = $expected); sample $sample_id: $sample_steps succeeded steps"
[[ -s "$tmp/rampart.err" ]] && { echo "rampart stderr (last lines):"; tail -5 "$tmp/rampart.err"; }

check_rampart
