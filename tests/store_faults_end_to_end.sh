#!/usr/bin/env bash
# End-to-end failure modes of the store as an operator meets them: a file size limit
# reached while runs are accepted (RLIMIT_FSIZE, the disk-full path without a mount), a
# second `rampart serve` on a data directory that one already serves, and a lost
# <data>/master.key. Talks only to 127.0.0.1 on ephemeral ports.
set -uo pipefail
BIN="$1"
SRC="$2"
TMP=$(mktemp -d)
PID=""
UP_PID=""
source "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
trap e2e_cleanup EXIT

DATA="$TMP/data"
start() {  # start [ULIMIT-F]: serves $DATA, under `ulimit -f` when given
  : >"$TMP/serve.out"  # not the last instance's port (e2e_lib.sh, wait_for_port)
  (
    [[ $# -ge 1 ]] && ulimit -f "$1"
    exec "$BIN" serve --data "$DATA" --listen 127.0.0.1:0
  ) >"$TMP/serve.out" 2>>"$TMP/serve.err" &
  PID=$!
  wait_for_port "$TMP/serve.out" "$PID"
  BASE="http://127.0.0.1:$PORT"
}
api() {  # api METHOD PATH [BODY] -> status code; body in $TMP/body
  local args=(-s -o "$TMP/body" -w '%{http_code}' -X "$1" "$BASE$2" -H "Authorization: Bearer $KEY")
  if [[ $# -ge 3 ]]; then args+=(-H 'Content-Type: application/json' --data-binary "$3"); fi
  curl "${args[@]}"
}

# The file size limit (in KiB) leaves room for the first start and the bootstrap: the
# write-ahead log then reaches it within a few dozen runs.
start 1000
check "server started under a file size limit" 1 "$([[ -n "$PORT" ]] && echo 1 || echo 0)"
e2e_bootstrap Acme owner@acme.test
code=$(curl -s -o "$TMP/body" -w '%{http_code}' -X POST "$BASE/v1/orgs/$ORG/workflows" \
  -H "Authorization: Bearer $KEY" -H 'Content-Type: application/yaml' --data-binary @"$SRC/examples/hello.yaml")
check "create workflow" 201 "$code"
check "publish workflow" 200 "$(api POST "/v1/orgs/$ORG/workflows/hello/publish" '{"version":1}')"
check "create a connector" 201 \
  "$(api POST "/v1/orgs/$ORG/connectors" '{"id":"api","type":"bearer","secrets":{"token":"s3cret-token"}}')"
INPUT=$(cat "$SRC/examples/hello.input.json")

# Runs until a write fails (EFBIG at the limit): that answer is a generic 5xx in the
# error shape, the process lives on and keeps serving reads.
accepted=()
refused=""
for i in $(seq 1 300); do
  code=$(api POST "/v1/orgs/$ORG/workflows/hello/runs" "{\"input\":$INPUT,\"wait\":10}")
  if [[ "$code" == 200 || "$code" == 202 ]]; then
    accepted+=("$(json "$TMP/body" 'd["run_id"]')")
  else
    refused="$code"
    break
  fi
done
echo "file size limit: ${#accepted[@]} runs accepted before a write failed (answer '$refused')"
check "a write past the file size limit is answered 500" 500 "$refused"
check "its error is the generic internal error" "internal|internal error" \
  "$(json "$TMP/body" 'd["error"]["code"] + "|" + d["error"]["message"]')"
check "the server survives the file size limit" 0 "$(kill -0 "$PID" 2>/dev/null; echo $?)"
check "reads are still served" 200 "$(api GET "/v1/orgs/$ORG/runs?limit=5")"
check "healthz still answers" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")"
check "a second write fails the same way" 500 \
  "$(api POST "/v1/orgs/$ORG/workflows/hello/runs" "{\"input\":$INPUT}")"
kill -TERM "$PID"
wait "$PID"
check "SIGTERM at the file size limit exits 0" 0 $?
PID=""

# Restarted without the limit: the store is intact, every accepted run is there, and
# writes work again.
start
check "restart after the file size limit" 1 "$([[ -n "$PORT" ]] && echo 1 || echo 0)"
missing=0
for id in "${accepted[@]}"; do
  [[ "$(api GET "/v1/orgs/$ORG/runs/$id")" == 200 ]] || missing=$((missing + 1))
done
check "every run answered 200 before the limit is stored" 0 "$missing"
check "runs are accepted again" 200 "$(api POST "/v1/orgs/$ORG/workflows/hello/runs" "{\"input\":$INPUT,\"wait\":10}")"
check "integrity_check" ok "$(python3 -c 'import sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
print(c.execute("PRAGMA integrity_check").fetchone()[0])' "$DATA/rampart.db")"

# A second `rampart serve` on the same data directory: two writers with their own memory
# would run the same queued runs and fail each other's running ones as interrupted.
"$BIN" serve --data "$DATA" --listen 127.0.0.1:0 >"$TMP/second.out" 2>&1 &
UP_PID=$!
for _ in $(seq 1 100); do
  kill -0 "$UP_PID" 2>/dev/null || break
  grep -q "listening on" "$TMP/second.out" && break
  sleep 0.1
done
wait_second=$(kill -0 "$UP_PID" 2>/dev/null && echo running || { wait "$UP_PID"; echo "exit $?"; })
check "a second serve on the same data directory is refused" "exit 2" "$wait_second"
[[ "$wait_second" == running ]] && kill -9 "$UP_PID"
UP_PID=""
grep -q "data directory $DATA is in use by another rampart serve" "$TMP/second.out"
check "the refusal says why" 0 $?
grep -q "setup-token\|listening" "$TMP/second.out"
check "the refused serve started nothing" 1 $?
check "the first server still serves" 200 "$(api GET "/v1/orgs/$ORG/runs?limit=1")"
"$BIN" audit verify --data "$DATA" >"$TMP/verify.out" 2>&1
check "audit verify while serve runs" 0 $?
kill -TERM "$PID"
wait "$PID"
check "SIGTERM exits 0" 0 $?
PID=""
"$BIN" audit verify --data "$DATA" >"$TMP/verify.out" 2>&1
check "audit verify after the faults" 0 $?
# <data>/master.key lost while the store holds data keys wrapped by it: refused, and no
# new key left in its place (a restored backup then goes back as it was).
mv "$DATA/master.key" "$TMP/master.key.backup"
"$BIN" serve --data "$DATA" --listen 127.0.0.1:0 >"$TMP/nokey.out" 2>&1
check "serve without the master key of the stored data keys exits 2" 2 $?
grep -q "master key file $DATA/master.key is missing but the store holds data keys wrapped by another master key: restore it from its backup" "$TMP/nokey.out"
check "the refusal says the master key file is missing" 0 $?
check "no master key generated in its place" 0 "$([[ -e "$DATA/master.key" ]] && echo 1 || echo 0)"
grep -q "first start" "$TMP/nokey.out"
check "no first-start message" 1 $?
mv "$TMP/master.key.backup" "$DATA/master.key"
# The lock ends with the process: the next start takes it.
start
check "serve starts once the first one stopped, with the key restored" 1 "$([[ -n "$PORT" ]] && echo 1 || echo 0)"
check "the connector is still readable" 200 "$(api GET "/v1/orgs/$ORG/connectors/api")"
kill -TERM "$PID"
wait "$PID"
PID=""

summary store_faults_end_to_end
