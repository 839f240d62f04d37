#!/usr/bin/env bash
# Soak: does `rampart serve` stay bounded (memory, descriptors, threads) under minutes of
# MIXED load? Against a fresh server on 127.0.0.1, for DURATION seconds at once:
#   - API runs with `wait` (bench/server/post_run.lua under wrk, paced);
#   - signed webhook deliveries (bench/webhook/post_signed.lua, pre-signed by sign.mjs;
#     once they are all sent the repeats answer 409) and forgeries (post_forged.lua, 401);
#   - failed logins, each from its own X-Forwarded-For address (trusted_proxies is
#     127.0.0.1/32, so each counts as a distinct source);
#   - runs that stop at an approval step: every other one approved by a second owner, the
#     others left to time out (timeout 60 s, on_timeout: fail);
#   - runs whose execution hooks POST to a local receiver (bench/soak/receiver.py) that
#     answers 500 to every other request, so retries pile up (retry_schedule 1, 2, 4, 8 s);
#   - a schedule trigger `* * * * *`.
# Every 10 s it samples the server's VmRSS, open descriptors, threads and the data
# directory's size; then stops the load, waits 30 s idle, samples again and prints the
# table and a verdict:
#   - RSS after warm-up (the first 30 s) does not keep growing: the mean of the second
#     half of the samples is within max(5 %, 4 MB) of the first half's;
#   - descriptors and threads are back to their idle counts (sampled before the load);
#   - SIGTERM exits 0 within the drain (60 s);
#   - `rampart audit verify` passes.
#
# Usage: bench/soak.sh [path/to/rampart]
#   default binary: $RAMPART_BIN, else build/release/apps/rampart/rampart
#   env: DURATION (180, seconds), SAMPLE (10, seconds between samples), IDLE (30, seconds
#        idle before the last sample), RUN_DELAY_MS (10) / HOOK_DELAY_MS (20) /
#        FORGED_DELAY_MS (20): the pause of each wrk connection between requests.
# Needs: wrk, node, python3, curl, jq. Builds nothing. Exit status 0 when the verdict passes.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
wh="$here/webhook"
bin="${1:-${RAMPART_BIN:-$root/build/release/apps/rampart/rampart}}"
duration="${DURATION:-180}"
sample_every="${SAMPLE:-10}"
idle_s="${IDLE:-30}"

if [[ ! -x "$bin" ]]; then
  echo "rampart binary not found at $bin; build it first (cmake --preset release &&" \
    "cmake --build --preset release --target rampart) or pass its path" >&2
  exit 1
fi
for tool in wrk node python3 curl jq; do
  command -v "$tool" > /dev/null || { echo "$tool is required" >&2; exit 1; }
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/rampart-soak.XXXXXX")"
rampart_pid=""
receiver_pid=""
load_pids=()  # the curl loops, stopped by stop_load
wrk_pids=()   # the wrk runs, which end by themselves after DURATION (then report)
stop_load() {
  local pid
  for pid in "${load_pids[@]}"; do kill -TERM "$pid" 2> /dev/null || true; done
  for pid in "${load_pids[@]}" "${wrk_pids[@]}"; do wait "$pid" 2> /dev/null || true; done
  load_pids=()
  wrk_pids=()
}
cleanup() {
  for pid in "${wrk_pids[@]}"; do kill -TERM "$pid" 2> /dev/null || true; done
  stop_load
  stop_pid "$receiver_pid"
  stop_pid "$rampart_pid"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { printf 'soak: %s\n' "$*" >&2; exit 1; }
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

# ----- the hook receiver, the server, an org with two owners -----
python3 "$here/soak/receiver.py" "$tmp/receiver.counts" > "$tmp/receiver.port" &
receiver_pid=$!
for _ in $(seq 50); do [[ -s "$tmp/receiver.port" ]] && break; sleep 0.1; done
receiver_port="$(head -1 "$tmp/receiver.port")"
[[ -n "$receiver_port" ]] || die "the hook receiver did not start"

# One API key drives the runs: its request bucket is lifted as in server_load.sh; the
# org's webhook bucket as in webhook_load.sh.
EXTRA_CONFIG="api_rate_limit: { rpm: 100000000, burst: 1000000 }
webhook_org_rate_limit: { rpm: 100000000, burst: 1000000 }
trusted_proxies: [\"127.0.0.1/32\"]
egress: { allow_http: true, allow_cidrs: [\"127.0.0.1/32\"], allow_ports: [$receiver_port] }
hooks: { retry_schedule: [1, 2, 4, 8] }${EXTRA_CONFIG:+
$EXTRA_CONFIG}"
log "rampart: $bin"
log "machine: $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
start_rampart
log "listening on $base (data $tmp/data), hook receiver on 127.0.0.1:$receiver_port"
bootstrap

approver_email="approver@example.com"
approver_password="approver-password-$RANDOM$RANDOM"
api POST "/v1/orgs/$org/members" -H "$auth" -H 'Content-Type: application/json' \
  -d "$(jq -nc --arg e "$approver_email" --arg p "$approver_password" \
    '{email: $e, role: "owner", password: $p}')" > /dev/null
approver_csrf="$(api POST /v1/auth/login -c "$tmp/approver.cookies" -H 'Content-Type: application/json' \
  -d "$(jq -nc --arg e "$approver_email" --arg p "$approver_password" '{email: $e, password: $p}')" |
  jq -r .csrf_token)"
# A member created with a password must change it before anything else; that answers a
# new session.
approver_csrf="$(api POST /v1/auth/password -b "$tmp/approver.cookies" -c "$tmp/approver.cookies" \
  -H "X-CSRF-Token: $approver_csrf" -H 'Content-Type: application/json' \
  -d "$(jq -nc --arg c "$approver_password" --arg n "$approver_password-2" \
    '{current_password: $c, new_password: $n}')" | jq -r .csrf_token)"

# Workflows: the benchmark order (API runs), the webhook one (signed deliveries), and
# three of the soak's own.
deploy "$here/server/workflow.yaml" bench-order
deploy_hook bench-hook
cat > "$tmp/approval.yaml" << 'EOF'
rampart: 1
id: soak-approval
steps:
  - { id: prepare, type: set, values: { amount: 500 } }
  - id: sign_off
    type: approval
    approvers: { roles: [owner], count: 1 }
    timeout: 60
    on_timeout: fail
  - { id: after, type: set, values: { done: true } }
EOF
cat > "$tmp/hooked.yaml" << EOF
rampart: 1
id: soak-hooked
hooks:
  - { url: "http://127.0.0.1:$receiver_port/hook", events: [run.succeeded], secret: hook }
steps:
  - { id: a, type: set, values: { v: 1 } }
EOF
cat > "$tmp/schedule.yaml" << 'EOF'
rampart: 1
id: soak-schedule
triggers:
  - { type: schedule, cron: "* * * * *" }
steps:
  - { id: a, type: set, values: { v: 1 } }
EOF
deploy "$tmp/approval.yaml" soak-approval
deploy "$tmp/hooked.yaml" soak-hooked
deploy "$tmp/schedule.yaml" soak-schedule
jq -c '{input: ., wait: 5}' "$here/server/input.json" > "$tmp/run.json"
runs_path="/v1/orgs/$org/workflows/bench-order/runs"
api POST "$runs_path" -H "$auth" -H 'Content-Type: application/json' --data-binary "@$tmp/run.json" |
  jq -e '.status == "succeeded"' > /dev/null || die "the warm-up run did not succeed"
node "$wh/sign.mjs" "$secret" $((duration * 120)) "$wh/body.json" "$tmp/signed.txt"
log "org $org: 5 workflows published, trigger ${hook_path:0:12}..., $((duration * 120)) deliveries signed"

# ----- samples -----
samples="$tmp/samples.txt"  # t rss_kb fds threads data_kb
sample() {  # sample LABEL
  local fds
  fds="$(find "/proc/$rampart_pid/fd" -mindepth 1 -maxdepth 1 2> /dev/null | wc -l)"
  printf '%s %s %s %s %s\n' "$1" "$(status_field "$rampart_pid" VmRSS)" "$fds" \
    "$(status_field "$rampart_pid" Threads)" "$(du -sk "$tmp/data" | cut -f1)" >> "$samples"
}
# Idle counts are taken after a short burst of concurrent requests: the store opens the
# files of its (fixed) pool of read connections on their first use.
SOAK_SCRIPT="$here/server/post_run.lua" wrk -t1 -c8 -d3s -s "$here/soak/paced.lua" "$base$runs_path" -- \
  "$tmp/run.json" "Bearer $key" > /dev/null 2>&1 || die "the warm-up burst failed"
sleep 12  # past the keep-alive idle time (10 s)
sample idle
read -r _ idle_rss idle_fds idle_threads _ < "$samples"
fd_targets() { find "/proc/$rampart_pid/fd" -mindepth 1 -maxdepth 1 -printf '%l\n' 2> /dev/null | sed 's/\[[0-9]*\]$//' | sort | uniq -c; }
fd_targets > "$tmp/fds.idle"
log "idle: RSS $idle_rss kB, $idle_fds fds, $idle_threads threads"

# ----- the load -----
paced() {  # paced DELAY_MS OUT SCRIPT WRK-ARGS...: a paced wrk in the background
  local delay="$1" out="$2" script="$3"
  shift 3
  SOAK_SCRIPT="$script" SOAK_DELAY_MS="$delay" wrk -d"${duration}s" -s "$here/soak/paced.lua" "$@" \
    > "$tmp/$out.txt" 2> "$tmp/$out.err" &
  wrk_pids+=($!)
}
paced "${RUN_DELAY_MS:-10}" wrk-runs "$here/server/post_run.lua" -t1 -c4 "$base$runs_path" -- \
  "$tmp/run.json" "Bearer $key"
paced "${HOOK_DELAY_MS:-20}" wrk-signed "$wh/post_signed.lua" -t1 -c2 "$base$hook_path" -- \
  "$tmp/signed.txt" "$wh/body.json" 202 1
paced "${FORGED_DELAY_MS:-20}" wrk-forged "$wh/post_forged.lua" -t1 -c1 "$base$hook_path" -- \
  "$wh/body.json" "$(date +%s)" 401
end_at=$((SECONDS + duration))
count() { echo "$1" >> "$tmp/$2.codes"; }
# Failed logins, each from a new address (10.a.b.c through the trusted proxy).
(
  i=0
  while ((SECONDS < end_at)); do
    i=$((i + 1))
    count "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/v1/auth/login" \
      -H "X-Forwarded-For: 10.$((i >> 16 & 255)).$((i >> 8 & 255)).$((i & 255))" \
      -H 'Content-Type: application/json' \
      -d "{\"email\": \"nobody$i@example.com\", \"password\": \"wrong-password-$i\"}")" logins
    sleep 0.1
  done
) &
load_pids+=($!)
# Approval runs (started by the key, so of the first owner): every other one approved by
# the second owner; the rest time out.
(
  i=0
  while ((SECONDS < end_at)); do
    i=$((i + 1))
    run_id="$(curl -s -X POST "$base/v1/orgs/$org/workflows/soak-approval/runs" -H "$auth" \
      -H 'Content-Type: application/json' -d '{"input": {}, "wait": 5}' | jq -r '.run_id // empty')"
    if [[ -n "$run_id" ]] && ((i % 2 == 0)); then
      count "$(curl -s -o "$tmp/approval.body" -w '%{http_code}' -X POST "$base/v1/orgs/$org/runs/$run_id/approvals" \
        -b "$tmp/approver.cookies" -H "X-CSRF-Token: $approver_csrf" -H 'Content-Type: application/json' \
        -d '{"step": "sign_off", "decision": "approve"}')" approvals
    elif [[ -n "$run_id" ]]; then
      count left approvals
    else
      count error approvals
    fi
    sleep 0.5
  done
) &
load_pids+=($!)
# Runs whose hooks go to the receiver.
(
  while ((SECONDS < end_at)); do
    count "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/v1/orgs/$org/workflows/soak-hooked/runs" \
      -H "$auth" -H 'Content-Type: application/json' -d '{"input": {}, "wait": 5}')" hooked
    sleep 0.2
  done
) &
load_pids+=($!)

log "load for ${duration}s, a sample every ${sample_every}s"
start=$SECONDS
while ((SECONDS < end_at)); do
  sleep "$sample_every"
  kill -0 "$rampart_pid" 2> /dev/null || { tail -20 "$tmp/rampart.err" >&2; die "rampart exited during the load"; }
  sample "$((SECONDS - start))"
done
stop_load
log "load stopped; ${idle_s}s idle"
sleep "$idle_s"
sample "idle+${idle_s}"
fd_targets > "$tmp/fds.end"

# ----- shutdown, audit chain -----
kill -TERM "$rampart_pid"
t0=$SECONDS
rc=""
for _ in $(seq 600); do
  kill -0 "$rampart_pid" 2> /dev/null || { wait "$rampart_pid" && rc=0 || rc=$?; break; }
  sleep 0.1
done
stop_s=$((SECONDS - t0))
[[ -n "$rc" ]] || stop_pid "$rampart_pid"
rampart_pid=""
verify="$("$bin" audit verify --data "$tmp/data" 2>&1)" && verify_rc=0 || verify_rc=$?

# ----- report -----
tally() { [[ -s "$tmp/$1.codes" ]] && sort "$tmp/$1.codes" | uniq -c | awk '{ printf "%s%s=%s", (NR > 1 ? "," : ""), $2, $1 }'; }
wrk_line() {  # wrk_line NAME: requests and unexpected answers of a wrk run
  local f="$tmp/$1.txt"
  printf '%s requests, %s' "$(bench "$f" requests)" \
    "$(awk '$1 == "BENCH" && ($2 == "non200" || $2 == "unexpected") { $1 = ""; $2 = ""; print "unexpected" $0 }' "$f")"
}
echo
echo "Soak: ${duration}s of mixed load on $base, then ${idle_s}s idle ($(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg))"
echo "  API runs (wait 5, 4 conns):      $(wrk_line wrk-runs)"
echo "  signed webhooks (2 conns):       $(wrk_line wrk-signed) (409 = repeats after all ids were sent)"
echo "  forged webhooks (1 conn):        $(wrk_line wrk-forged)"
echo "  failed logins (distinct XFF):    $(tally logins)"
echo "  approval runs (approve/left):    $(tally approvals); last decision answered $(head -c 300 "$tmp/approval.body" 2> /dev/null)"
echo "  hooked runs:                     $(tally hooked); receiver answered $(cat "$tmp/receiver.counts" 2> /dev/null)"
printf '\n%-10s %10s %6s %8s %12s\n' sample "RSS MB" fds threads "data MB"
awk '{ printf "%-10s %10.1f %6d %8d %12.1f\n", $1, $2 / 1024, $3, $4, $5 / 1024 }' "$samples"

# Verdict. Load samples are the numeric ones past the warm-up (30 s).
read -r first_mb second_mb < <(awk '$1 ~ /^[0-9]+$/ && $1 > 30 { v[n++] = $2 }
  END { h = int(n / 2); for (i = 0; i < h; i++) a += v[i]; for (i = h; i < n; i++) b += v[i];
        printf "%.1f %.1f\n", (h ? a / h / 1024 : 0), (n - h ? b / (n - h) / 1024 : 0) }' "$samples")
read -r _ end_rss end_fds end_threads _ < <(tail -1 "$samples")
ok=1
verdict() {  # verdict PASS? TEXT
  if (($1)); then echo "  ok:   $2"; else echo "  FAIL: $2"; ok=0; fi
}
echo
echo "verdict:"
grow_ok="$(awk -v a="$first_mb" -v b="$second_mb" 'BEGIN { t = a * 0.05; if (t < 4) t = 4; print (b - a <= t) ? 1 : 0 }')"
verdict "$grow_ok" "RSS under load: first half mean $first_mb MB, second half $second_mb MB (growth allowed: max(5 %, 4 MB))"
verdict "$((end_fds <= idle_fds))" "descriptors after ${idle_s}s idle: $end_fds (idle before the load: $idle_fds)"
((end_fds <= idle_fds)) || diff "$tmp/fds.idle" "$tmp/fds.end" | sed 's/^/        /' || true
verdict "$((end_threads <= idle_threads))" "threads after ${idle_s}s idle: $end_threads (idle before the load: $idle_threads)"
verdict "$([[ "$rc" == 0 ]] && echo 1 || echo 0)" "SIGTERM: exit status ${rc:-none (killed)} after ${stop_s}s"
verdict "$((verify_rc == 0))" "audit verify: $verify"
echo "  (RSS idle before the load $((idle_rss / 1024)) MB, after the idle wait $((end_rss / 1024)) MB)"
for f in wrk-runs wrk-signed wrk-forged; do [[ -s "$tmp/$f.err" ]] && { echo "$f stderr:"; head -3 "$tmp/$f.err"; }; done
[[ -s "$tmp/rampart.err" ]] && { echo "rampart stderr (last lines):"; tail -5 "$tmp/rampart.err"; }
((ok))
