#!/usr/bin/env bash
# Webhook benchmark (issue 5): signed inbound webhooks -> durable queued runs, under wrk,
# against a fresh `rampart serve`.
#   1. accepted: POST /hooks/rwh_... with Standard Webhooks headers, every request signed
#      with its own webhook-id (pre-signed by bench/webhook/sign.mjs right before the
#      run, replayed once each by bench/webhook/post_signed.lua); each answer must be 202.
#   2. forged: the same request with a fixed signature that does not verify
#      (bench/webhook/post_forged.lua); each answer must be 401.
#   3. ceiling: nginx (nginx-light) answering a fixed 202 body of the size of Rampart's
#      answer, driven by the same generator and the same signed requests.
# Then the server is restarted on the same data directory and the stored runs counted.
#
# Usage: bench/webhook_load.sh [path/to/rampart]
#   default binary: $RAMPART_BIN, else build/release/apps/rampart/rampart
#   env: DURATION (15s), CONNECTIONS (32), THREADS (2),
#        SIGNED (deliveries to pre-sign; default 30000 per second of DURATION),
#        NGINX=0 to skip the ceiling, COUNT_RUNS=0 to skip the stored-run count,
#        IO_THREADS=N for the server's `io_threads` config.
# Needs: wrk, nginx (Debian nginx-light), node, curl, jq. Builds nothing.
# Targets: accepted/s >= 0.5 x nginx req/s; forged rejections/s >= 1.5 x accepted/s.
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
wh="$here/webhook"
bin="${1:-${RAMPART_BIN:-$root/build/release/apps/rampart/rampart}}"
duration="${DURATION:-15s}"
connections="${CONNECTIONS:-32}"
threads="${THREADS:-2}"
dur_s="${duration%s}"
signed_n="${SIGNED:-$((dur_s * 30000))}"
workflow_id="bench-hook"

if [[ ! -x "$bin" ]]; then
  echo "rampart binary not found at $bin; build it first (cmake --preset release &&" \
    "cmake --build --preset release --target rampart) or pass its path" >&2
  exit 1
fi
for tool in wrk nginx node curl jq; do
  command -v "$tool" > /dev/null || { echo "$tool is required (Debian: apt-get install wrk nginx-light nodejs curl jq)" >&2; exit 1; }
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/rampart-webhook-bench.XXXXXX")"
rampart_pid=""
nginx_pid=""
cleanup() {
  stop_pid "$nginx_pid"
  stop_pid "$rampart_pid"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { printf 'webhook_load: %s\n' "$*" >&2; exit 1; }
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
bench_line() { awk -v k="$2" '$1 == "BENCH" && $2 == k { $1 = ""; $2 = ""; sub(/^ +/, ""); print }' "$1"; }
# The load is one org's: lift its webhook bucket (default 60000/min) like the trigger's own
# rate_limit in bench/webhook/workflow.yaml, so the figures measure the server, not the limit.
# Accepting (a durable queued run) is cheaper than executing, so the queue grows during the
# load: max_queued_runs (default 100000, then 429) is lifted too. The backlog is executed
# before the forgeries start, and its CPU counts towards the accepted deliveries.
EXTRA_CONFIG="webhook_org_rate_limit: { rpm: 100000000, burst: 1000000 }
max_queued_runs: 1000000${EXTRA_CONFIG:+
$EXTRA_CONFIG}"

# ----- rampart: bootstrap, connector, workflow, trigger URL -----
log "rampart: $bin"
log "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); load average $(cut -d' ' -f1-3 /proc/loadavg)"
start_rampart
log "listening on $base (data $tmp/data)"
bootstrap
deploy_hook "$workflow_id"
body_file="$wh/body.json"

# One signed delivery before the load: checks the answer, gives nginx a body of its size.
node "$wh/sign.mjs" "$secret" 1 "$body_file" "$tmp/warm.txt" warmup_
read -r w_id w_ts w_sig < "$tmp/warm.txt"
code="$(curl -sS -o "$tmp/accepted.json" -w '%{http_code}' -X POST "$base$hook_path" \
  -H 'Content-Type: application/json' -H "webhook-id: $w_id" -H "webhook-timestamp: $w_ts" \
  -H "webhook-signature: $w_sig" --data-binary "@$body_file")"
[[ "$code" == 202 ]] || die "the warm-up delivery answered $code: $(cat "$tmp/accepted.json")"
code="$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$base$hook_path" \
  -H 'Content-Type: application/json' -H "webhook-id: $w_id" -H "webhook-timestamp: $w_ts" \
  -H "webhook-signature: $w_sig" --data-binary "@$body_file")"
[[ "$code" == 409 ]] || die "the replayed warm-up delivery answered $code, not 409"
warmup_runs=1
log "org $org, workflow $workflow_id published, trigger $base${hook_path:0:12}...; answer $(wc -c < "$tmp/accepted.json") bytes: $(cat "$tmp/accepted.json")"
sleep 1
idle_rss_kb="$(status_field "$rampart_pid" VmRSS)"

# ----- 1. signed deliveries -----
t0=$(date +%s%N)
node "$wh/sign.mjs" "$secret" "$signed_n" "$body_file" "$tmp/signed.txt"
log "signed $signed_n deliveries in $(( ($(date +%s%N) - t0) / 1000000 )) ms ($(du -h "$tmp/signed.txt" | cut -f1))"
wrk_base=(wrk "-t$threads" "-c$connections" "-d$duration" --latency)
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
cpu0="$(cpu_ticks "$rampart_pid")"
log "wrk -> rampart (signed): ${wrk_base[*]} -s post_signed.lua"
"${wrk_base[@]}" -s "$wh/post_signed.lua" "$base$hook_path" -- "$tmp/signed.txt" "$body_file" 202 "$threads" \
  > "$tmp/wrk-signed.txt" 2> "$tmp/wrk-signed.err" || { cat "$tmp/wrk-signed.err" >&2; die "wrk failed"; }
# Let the queued runs execute (bounded wait): the accepted deliveries' CPU includes running
# them, and the forgeries below are measured on an idle server.
for _ in $(seq 1 600); do
  queued="$(api GET /metrics -H "$auth" | awk '$1 == "rampart_run_queue_depth" { print $2 }')"
  running="$(api GET /metrics -H "$auth" | awk '$1 == "rampart_runs{status=\"running\"}" { print $2 }')"
  [[ "${queued:-1}" == 0 && "${running:-1}" == 0 ]] && break
  sleep 0.5
done
log "backlog executed (queued ${queued:-?}, running ${running:-?})"
cpu1="$(cpu_ticks "$rampart_pid")"
load_mid="$(cut -d' ' -f1-3 /proc/loadavg)"
kill -0 "$rampart_pid" 2> /dev/null || { tail -20 "$tmp/rampart.err" >&2; die "rampart exited during the load"; }
grep -v '^BENCH' "$tmp/wrk-signed.txt" >&2
[[ -s "$tmp/wrk-signed.err" ]] && head -5 "$tmp/wrk-signed.err" >&2

# ----- 2. forgeries -----
sleep 2
log "wrk -> rampart (forged): ${wrk_base[*]} -s post_forged.lua"
cpu2="$(cpu_ticks "$rampart_pid")"
"${wrk_base[@]}" -s "$wh/post_forged.lua" "$base$hook_path" -- "$body_file" "$(date +%s)" 401 \
  > "$tmp/wrk-forged.txt" 2> "$tmp/wrk-forged.err" || { cat "$tmp/wrk-forged.err" >&2; die "wrk failed"; }
cpu3="$(cpu_ticks "$rampart_pid")"
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
kill -0 "$rampart_pid" 2> /dev/null || { tail -20 "$tmp/rampart.err" >&2; die "rampart exited during the flood"; }
peak_rss_kb="$(status_field "$rampart_pid" VmHWM)"
grep -v '^BENCH' "$tmp/wrk-forged.txt" >&2
[[ -s "$tmp/wrk-forged.err" ]] && head -5 "$tmp/wrk-forged.err" >&2

# ----- durability: restart on the same data directory, count the stored runs -----
stored_total="-"
if [[ "${COUNT_RUNS:-1}" != 0 ]]; then
  sleep 1
  stop_pid "$rampart_pid"
  rampart_pid=""
  start_rampart
  sleep 1
  # One listing of every run, statuses tallied from it: runs still queued at the restart
  # run meanwhile, and listing per status would miss the ones changing status between two
  # listings.
  : > "$tmp/statuses"
  cursor=""
  while :; do
    page="$(api GET "/v1/orgs/$org/runs?limit=200${cursor:+&cursor=$cursor}" -H "$auth")"
    jq -r '.items[].status' <<< "$page" >> "$tmp/statuses"
    cursor="$(jq -r '.next_cursor // empty' <<< "$page")"
    [[ -n "$cursor" ]] || break
  done
  stored_total="$(wc -l < "$tmp/statuses")"
  stored_detail=""
  for status in succeeded failed queued running; do
    stored_detail+="$status $(grep -cx "$status" "$tmp/statuses" || true), "
  done
  stop_pid "$rampart_pid"
  rampart_pid=""
fi

# ----- 3. nginx ceiling, same generator, same signed requests -----
n_rate=""
if [[ "${NGINX:-1}" != 0 ]]; then
  mkdir -p "$tmp/nginx"
  nginx_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2> /dev/null ||
    echo $((20000 + RANDOM % 20000)))"
  body="$(tr -d '\n' < "$tmp/accepted.json")"
  body="${body//\\/\\\\}"
  body="${body//\'/\\\'}"
  body="${body//\$/S}"
  conf="$(< "$wh/nginx.conf")"
  if [[ "$(id -u)" == 0 ]]; then conf="${conf//@USER@/user root;}"; else conf="${conf//@USER@/}"; fi
  conf="${conf//@TMP@/$tmp/nginx}"
  conf="${conf//@PORT@/$nginx_port}"
  conf="${conf//@BODY@/$body}"
  printf '%s\n' "$conf" > "$tmp/nginx/nginx.conf"
  nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/nginx-error.log" > "$tmp/nginx.out" 2>&1 &
  nginx_pid=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$nginx_port/" && break
    kill -0 "$nginx_pid" 2> /dev/null || { cat "$tmp/nginx.out" "$tmp/nginx/nginx-error.log" >&2; die "nginx exited"; }
    sleep 0.1
  done
  log "wrk -> nginx ($(nproc) workers): ${wrk_base[*]} -s post_signed.lua"
  "${wrk_base[@]}" -s "$wh/post_signed.lua" "http://127.0.0.1:$nginx_port$hook_path" -- "$tmp/signed.txt" "$body_file" 202 "$threads" \
    > "$tmp/wrk-nginx.txt" 2> "$tmp/wrk-nginx.err" || { cat "$tmp/wrk-nginx.err" >&2; die "wrk failed"; }
  grep -v '^BENCH' "$tmp/wrk-nginx.txt" >&2
  stop_pid "$nginx_pid"
  nginx_pid=""
  n_rate="$(rate_of "$(bench "$tmp/wrk-nginx.txt" requests)" "$(bench "$tmp/wrk-nginx.txt" duration_us)")"
fi

# ----- summary -----
s_req="$(bench "$tmp/wrk-signed.txt" requests)"
s_ok="$(bench "$tmp/wrk-signed.txt" expected)"
s_rate="$(rate_of "$s_req" "$(bench "$tmp/wrk-signed.txt" duration_us)")"
a_rate="$(rate_of "$s_ok" "$(bench "$tmp/wrk-signed.txt" duration_us)")"
s_repeats="$(bench "$tmp/wrk-signed.txt" repeats)"
f_req="$(bench "$tmp/wrk-forged.txt" requests)"
f_ok="$(bench "$tmp/wrk-forged.txt" expected)"
f_rate="$(rate_of "$f_ok" "$(bench "$tmp/wrk-forged.txt" duration_us)")"
hz="$(getconf CLK_TCK)"
cpu_per() { awk -v t="$1" -v hz="$hz" -v n="$2" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }'; }
row() {  # row NAME FILE RATE
  printf '%-18s %10s %10s %10s %10s %s\n' "$1" "$3" "$(ms "$(bench "$2" p50_us)")" "$(ms "$(bench "$2" p99_us)")" \
    "$(ms "$(bench "$2" p99.9_us)")" "$(bench_line "$2" unexpected)"
}
echo
echo "Webhooks end to end: POST /hooks/rwh_... (standard-webhooks) x $connections connections, $duration, $threads wrk threads"
echo "machine: $(nproc) CPUs; load average before $load_before, after signed $load_mid, after forged $load_after"
printf '%-18s %10s %10s %10s %10s %s\n' load "req/s" p50 p99 p99.9 "unexpected (by status)"
row "rampart signed" "$tmp/wrk-signed.txt" "$a_rate"
row "rampart forged" "$tmp/wrk-forged.txt" "$f_rate"
[[ -n "$n_rate" ]] && row "nginx (ceiling)" "$tmp/wrk-nginx.txt" "$n_rate"
echo "accepted (202): $s_ok of $s_req requests ($s_rate req/s sent; $s_repeats sends past the $signed_n pre-signed ids)"
echo "forged rejected (401): $f_ok of $f_req requests"
echo "rampart CPU: $(cpu_per $((cpu1 - cpu0)) "$s_req") us per signed request, $(cpu_per $((cpu3 - cpu2)) "$f_req") us per forgery (user+sys); idle RSS $((idle_rss_kb / 1024)) MB, peak $((peak_rss_kb / 1024)) MB"
[[ "$stored_total" != - ]] && echo "stored runs after restart: $stored_total (${stored_detail%, }); expected $((s_ok + warmup_runs)).."
ok=1
if [[ -n "$n_rate" ]]; then
  r1="$(awk -v a="$a_rate" -v b="$n_rate" 'BEGIN { printf "%.3f", a / b }')"
  echo "accepted / nginx: $r1 (target >= 0.5)"
fi
r2="$(awk -v a="$f_rate" -v b="$a_rate" 'BEGIN { printf "%.2f", a / b }')"
echo "rejections / accepted: $r2 (target >= 1.5)"
echo "wrk socket errors: signed $(bench_line "$tmp/wrk-signed.txt" errors); forged $(bench_line "$tmp/wrk-forged.txt" errors)"
[[ -s "$tmp/rampart.err" ]] && { echo "rampart stderr (last lines):"; tail -5 "$tmp/rampart.err"; }
((s_ok == s_req)) || { echo "FAIL: $((s_req - s_ok)) signed deliveries were not answered 202" >&2; ok=0; }
((s_repeats == 0)) || { echo "FAIL: the $signed_n pre-signed ids ran out (set SIGNED higher)" >&2; ok=0; }
((f_ok == f_req)) || { echo "FAIL: $((f_req - f_ok)) forgeries were not answered 401" >&2; ok=0; }
if [[ "$stored_total" != - ]] && ((stored_total < s_ok + warmup_runs || stored_total > s_ok + warmup_runs + connections)); then
  echo "FAIL: $stored_total runs stored, expected $((s_ok + warmup_runs))..$((s_ok + warmup_runs + connections))" >&2
  ok=0
fi
((ok)) && echo "checks: every signed delivery answered 202 and is stored as a run; every forgery answered 401"
((ok))
