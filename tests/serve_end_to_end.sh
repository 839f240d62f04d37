#!/usr/bin/env bash
# End-to-end checks of `rampart serve` as an operator runs it: first start with a setup
# token, the API over real HTTP, kill -9 during a burst of runs and restart (every
# accepted run is there and final), SIGTERM exits 0, `rampart audit verify`, and config
# refusals. Talks only to 127.0.0.1 on an ephemeral port.
set -uo pipefail
BIN="$1"
SRC="$2"
TMP=$(mktemp -d)
PID=""
source "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
trap e2e_cleanup EXIT
e2e_on_failure() { e2e_report_dead_server; }

DATA="$TMP/data"
start() {  # start [EXTRA SERVE FLAGS...]
  # stderr is appended: a sanitizer report of an earlier instance stays readable.
  : >"$TMP/serve.out"  # not the last instance's port (e2e_lib.sh, wait_for_port)
  "$BIN" serve --data "$DATA" --listen 127.0.0.1:0 "$@" >"$TMP/serve.out" 2>>"$TMP/serve.err" &
  PID=$!
  wait_for_port "$TMP/serve.out" "$PID"
  if [[ -z "$PORT" ]]; then
    echo "serve did not start; its output:" >&2
    cat "$TMP/serve.out" "$TMP/serve.err" >&2
  fi
  BASE="http://127.0.0.1:$PORT"
}
api() {  # api METHOD PATH [BODY] -> status code; body in $TMP/body
  local args=(-s -o "$TMP/body" -w '%{http_code}' -X "$1" "$BASE$2" -H "Authorization: Bearer $KEY")
  if [[ $# -ge 3 ]]; then args+=(-H 'Content-Type: application/json' --data-binary "$3"); fi
  curl "${args[@]}"
}

deploy() {  # deploy ID YAML-FILE: creates the workflow from the file, publishes version 1
  local code
  code=$(curl -s -o "$TMP/body" -w '%{http_code}' -X POST "$BASE/v1/orgs/$ORG/workflows" \
    -H "Authorization: Bearer $KEY" -H 'Content-Type: application/yaml' --data-binary @"$2")
  check "create $1 workflow" 201 "$code"
  check "publish $1 workflow" 200 "$(api POST "/v1/orgs/$ORG/workflows/$1/publish" '{"version":1}')"
}

start
check "server started" 1 $([[ -n "$PORT" ]] && echo 1 || echo 0)
TOKEN_FILE="$DATA/setup-token"
check "setup token file mode" 600 "$(stat -c %a "$TOKEN_FILE")"
grep -q "setup-token" "$TMP/serve.out"
check "start message names the token file" 0 $?
TOKEN=$(cat "$TOKEN_FILE")
grep -q "$TOKEN" "$TMP/serve.out" "$TMP/serve.err"
check "token never printed" 1 $?
check "healthz" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")"
check "readyz" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/readyz")"

SETUP="{\"setup_token\":\"$TOKEN\",\"org_name\":\"Acme\",\"email\":\"owner@acme.test\",\"password\":\"correct horse battery\"}"
code=$(curl -s -o "$TMP/setup.json" -w '%{http_code}' -X POST "$BASE/v1/setup" -H 'Content-Type: application/json' --data-binary "$SETUP")
check "setup" 201 "$code"
ORG=$(json "$TMP/setup.json" 'd["org"]["id"]')
check "setup token file removed" 0 $([[ -e "$TOKEN_FILE" ]] && echo 1 || echo 0)
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE/v1/setup" -H 'Content-Type: application/json' --data-binary "$SETUP")
check "setup token is single use" 401 "$code"

code=$(curl -s -c "$TMP/cookies" -o "$TMP/login.json" -w '%{http_code}' -X POST "$BASE/v1/auth/login" \
  -H 'Content-Type: application/json' --data-binary '{"email":"owner@acme.test","password":"correct horse battery"}')
check "login" 200 "$code"
CSRF=$(json "$TMP/login.json" 'd["csrf_token"]')
code=$(curl -s -b "$TMP/cookies" -o "$TMP/key.json" -w '%{http_code}' -X POST "$BASE/v1/orgs/$ORG/api-keys" \
  -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' --data-binary '{"name":"e2e","scope":"read_write"}')
check "create API key" 201 "$code"
KEY=$(json "$TMP/key.json" 'd["key"]')
# spec/security.md 2, checked apart from the server's own code: rpk_ + 32 random bytes in
# base62 (43 characters) + the base62 CRC32 of those (6 characters, zlib's CRC-32).
check "API key format and checksum" ok "$(python3 -c '
import re, sys, zlib
key = sys.argv[1]
a = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
m = re.fullmatch(r"rpk_([0-9A-Za-z]{43})([0-9A-Za-z]{6})", key)
n, s = (zlib.crc32(m.group(1).encode()) if m else 0), ""
for _ in range(6): n, r = divmod(n, 62); s = a[r] + s
print("ok" if m and s == m.group(2) else "bad: " + key[:8])' "$KEY")"
check "API key shown once" 0 "$(curl -s "$BASE/v1/orgs/$ORG/api-keys" -H "Authorization: Bearer $KEY" | grep -c "$KEY")"

deploy hello "$SRC/examples/hello.yaml"
INPUT=$(cat "$SRC/examples/hello.input.json")
check "run with wait" 200 "$(api POST /v1/orgs/$ORG/workflows/hello/runs "{\"input\":$INPUT,\"wait\":10}")"
check "run record status" succeeded "$(json "$TMP/body" 'd["status"]')"

# A burst of runs, kill -9 in the middle, restart: every accepted run is stored and ends
# in a final state (succeeded, or failed with `interrupted` when it was mid-execution).
mkdir -p "$TMP/burst"
for i in $(seq 1 80); do
  curl -s -o "$TMP/burst/$i.json" -w '%{http_code}' -X POST "$BASE/v1/orgs/$ORG/workflows/hello/runs" \
    -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    --data-binary "{\"input\":$INPUT}" >"$TMP/burst/$i.code" &
done
# Let part of the burst land, then kill while the rest is in flight.
for _ in $(seq 1 50); do
  [[ $(grep -l 202 "$TMP"/burst/*.code 2>/dev/null | wc -l) -ge 20 ]] && break
  sleep 0.02
done
kill -9 "$PID"
wait "$PID" 2>/dev/null
PID=""
wait
accepted=()
for f in "$TMP"/burst/*.code; do
  if [[ "$(cat "$f")" == 202 ]]; then accepted+=("$(json "${f%.code}.json" 'd["run_id"]')"); fi
done
echo "burst: ${#accepted[@]} runs accepted before kill -9"
start
bad=0
for id in "${accepted[@]}"; do
  status=""
  for _ in $(seq 1 100); do
    api GET "/v1/orgs/$ORG/runs/$id" >/dev/null
    status=$(json "$TMP/body" 'd.get("status")')
    [[ "$status" == succeeded || "$status" == failed ]] && break
    sleep 0.1
  done
  if [[ "$status" == failed ]]; then
    [[ "$(json "$TMP/body" 'd["error"]["code"]')" == interrupted ]] || { bad=$((bad + 1)); echo "run $id failed: $(cat "$TMP/body")"; }
  elif [[ "$status" != succeeded ]]; then
    bad=$((bad + 1)); echo "run $id: status '$status'"
  fi
done
check "every accepted run survived kill -9 and is final" 0 "$bad"

check "metrics need auth" 401 "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/metrics")"
check "metrics with a key" 200 "$(api GET /metrics)"
grep -q 'rampart_runs{status="succeeded"}' "$TMP/body"
check "metrics list runs by status" 0 $?
grep -q '^rampart_run_queue_depth ' "$TMP/body"
check "metrics have the queue depth" 0 $?
grep -q '^rampart_run_waiters 0$' "$TMP/body"
check "metrics have the run waiters (none now)" 0 $?
grep -Eq '^rampart_http_connections [1-9][0-9]*$' "$TMP/body"
check "metrics count the open connections (this one at least)" 0 $?
# The Prometheus text format (0.0.4), line by line: HELP/TYPE before a family's samples,
# each family once and contiguous, escaped label values, numeric values.
check "metrics are valid Prometheus text" ok "$(python3 - "$TMP/body" <<'PY'
import re, sys
name = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
label = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
sample = re.compile(rf'^({name})(\{{(?:{label}(?:,{label})*)?\}})? ([+-]?(?:[0-9.]+(?:[eE][+-]?[0-9]+)?|Inf)|NaN)$')
text = open(sys.argv[1], encoding='utf-8').read()
errors, types, done, current = [], {}, set(), None
if not text.endswith('\n'): errors.append('no final newline')
for n, line in enumerate(text.split('\n')[:-1], 1):
    m = re.match(rf'^# (HELP|TYPE) ({name})(?: (.*))?$', line)
    if m:
        if m.group(1) == 'TYPE':
            if m.group(2) in types or m.group(2) in done: errors.append(f'{n}: second TYPE')
            if m.group(3) not in ('counter', 'gauge', 'histogram', 'summary', 'untyped'):
                errors.append(f'{n}: bad type')
            types[m.group(2)] = m.group(3)
        continue
    m = sample.match(line)
    if not m:
        errors.append(f'{n}: {line!r}')
        continue
    family = m.group(1)
    for suffix in ('_bucket', '_sum', '_count'):
        base = family[:-len(suffix)]
        if family.endswith(suffix) and types.get(base) == 'histogram': family = base
    if family not in types: errors.append(f'{n}: no TYPE for {family}')
    if family != current:
        if family in done: errors.append(f'{n}: {family} not contiguous')
        if current: done.add(current)
        current = family
print('; '.join(errors[:3]) if errors else 'ok')
PY
)"
# Security headers on every answer (errors, 404, 405, the public routes, /hooks, /p); no
# HSTS over plain HTTP, no CORS headers without configured origins.
for probe in "GET /healthz" "GET /readyz" "GET /metrics" "GET /v1/openapi.json" "GET /nope" \
  "DELETE /healthz" "POST /hooks/rwh_nope" "POST /p/acme/nope" "GET /v1/orgs/$ORG"; do
  read -r method path <<<"$probe"
  args=(-s -o /dev/null -D "$TMP/headers" -X "$method" "$BASE$path" -H 'Origin: https://evil.test')
  [[ "$method" == POST ]] && args+=(-H 'Content-Type: application/json' --data-binary '{}')
  curl "${args[@]}"
  missing=""
  for h in 'X-Content-Type-Options: nosniff' 'Cache-Control: no-store' 'X-Request-Id: req_'; do
    grep -qi "^$h" "$TMP/headers" || missing+="[$h]"
  done
  grep -qi -e '^Strict-Transport-Security' -e '^Access-Control-' -e '^Server:' "$TMP/headers" && missing+="[extra]"
  check "security headers on $probe" "" "$missing"
done
# RFC 9112 6.3: a Transfer-Encoding that does not end in chunked is a 400 and closes; its
# body is never read as a second request.
check "Transfer-Encoding not ending in chunked: one 400, then close" "400 1" "$(python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10)
s.sendall(b'POST /v1/setup HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n'
          b'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
out = b''
while True:
    b = s.recv(65536)
    if not b: break
    out += b
print(out[9:12].decode(), out.count(b'HTTP/1.1 '))
PY
)"
commits="$(awk '$1 == "rampart_store_commits" { print int($2) }' "$TMP/body")"
writes="$(awk '$1 == "rampart_store_writes" { print int($2) }' "$TMP/body")"
check "metrics count the store's group commits" 1 "$((${commits:-0} > 0 && ${writes:-0} >= ${commits:-0}))"

# db.query: the org's own database under <data>/db, statements checked by SQLite.
cat >"$TMP/db.yaml" <<'EOF2'
rampart: 1
id: db-demo
steps:
  - id: create
    type: action
    uses: db.query
    with: { sql: "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)" }
  - id: add
    type: action
    uses: db.query
    with: { sql: "INSERT INTO notes (body) VALUES (:body)", params: { body: "{{ inputs.body }}" } }
  - id: read
    type: action
    uses: db.query
    with: { sql: "SELECT body FROM notes ORDER BY id" }
output: { rows: "{{ steps.read.output.rows }}" }
EOF2
deploy db-demo "$TMP/db.yaml"
check "run db workflow" 200 "$(api POST /v1/orgs/$ORG/workflows/db-demo/runs '{"input":{"body":"hello; DROP TABLE notes"},"wait":10}')"
check "db rows" "[{'body': 'hello; DROP TABLE notes'}]" "$(json "$TMP/body" 'd["output"]["rows"]')"
check "per-org database file" 600 "$(stat -c %a "$DATA/db/$ORG.sqlite" 2>/dev/null)"

# A connector with a distinctive secret: encrypted at rest, masked in answers.
SECRET="e2e-Secret-$(date +%s%N)"
check "create connector" 201 "$(api POST /v1/orgs/$ORG/connectors "{\"id\":\"acme\",\"type\":\"bearer\",\"options\":{\"base_url\":\"https://api.acme.test\"},\"secrets\":{\"token\":\"$SECRET\"}}")"
grep -q "$SECRET" "$TMP/body"
check "connector answer has no secret" 1 $?
check "master key file generated 0600" 600 "$(stat -c %a "$DATA/master.key")"

# An approval step: the run waits in the store across a restart and resumes on a decision.
cat >"$TMP/gate.yaml" <<'EOF2'
rampart: 1
id: gated
steps:
  - id: note
    type: action
    uses: db.query
    with: { sql: "INSERT INTO notes (body) VALUES ('gated')" }
  - id: sign_off
    type: approval
    approvers: { roles: [owner] }
    timeout: 3600
  - id: count
    type: action
    uses: db.query
    with: { sql: "SELECT count(*) AS n FROM notes WHERE body = 'gated'" }
output: { n: "{{ steps.count.output.rows[0].n }}" }
EOF2
deploy gated "$TMP/gate.yaml"
# Not finished within the wait (it stopped at the approval): 202, not the run record.
check "run gated workflow" 202 "$(api POST /v1/orgs/$ORG/workflows/gated/runs '{"input":{},"wait":10}')"
check "gated run waits" awaiting_approval "$(json "$TMP/body" 'd["status"]')"
GATED=$(json "$TMP/body" 'd["run_id"]')
check "the initiator cannot approve" 403 "$(api POST /v1/orgs/$ORG/runs/$GATED/approvals '{"step":"sign_off","decision":"approve"}')"
e2e_add_owner second@acme.test
# The first owner chose the second owner's password: it must be changed before anything else.
check "an added member must change the password" True "$(json "$TMP/login2.json" 'd["user"]["must_change_password"]')"
check "until then the org is closed" 403 "$(curl -s -b "$TMP/cookies2" -o /dev/null -w '%{http_code}' "$BASE/v1/orgs/$ORG")"
code=$(curl -s -b "$TMP/cookies2" -c "$TMP/cookies2" -o "$TMP/passwd.json" -w '%{http_code}' -X POST \
  "$BASE/v1/auth/password" -H "X-CSRF-Token: $CSRF2" -H 'Content-Type: application/json' \
  --data-binary '{"current_password":"another long passphrase","new_password":"my very own passphrase"}')
check "the member changes the password" 200 "$code"
check "the flag is cleared" False "$(json "$TMP/passwd.json" 'd["user"]["must_change_password"]')"
CSRF2=$(json "$TMP/passwd.json" 'd["csrf_token"]')  # the change answered a new session
check "then the org is open, with the new session" 200 "$(curl -s -b "$TMP/cookies2" -o /dev/null -w '%{http_code}' "$BASE/v1/orgs/$ORG")"

# Account recovery (README "Account recovery"): the operator resets the first owner's
# password with `rampart users` on the data directory while serve runs. That owner's
# session ends at once (the server reads sessions from the store), the old password fails,
# the new one logs in and must be changed first; the password is never echoed. The
# events are checked after the stop below (audit verify, actor cli).
orgs_as() {  # orgs_as COOKIE-JAR -> status of GET /v1/orgs/$ORG
  curl -s -b "$1" -o /dev/null -w '%{http_code}' "$BASE/v1/orgs/$ORG"
}
login_as() {  # login_as EMAIL PASSWORD COOKIE-JAR OUT -> status
  curl -s -c "$3" -o "$4" -w '%{http_code}' -X POST "$BASE/v1/auth/login" \
    -H 'Content-Type: application/json' --data-binary "{\"email\":\"$1\",\"password\":\"$2\"}"
}
check "the owner's session works before the reset" 200 "$(orgs_as "$TMP/cookies")"
printf 'a recovered passphrase\n' | "$BIN" users reset-password --data "$DATA" \
  --email Owner@Acme.test --password-stdin >"$TMP/reset.out" 2>"$TMP/reset.err"
check "users reset-password while serve runs" 0 $?
grep -q "recovered" "$TMP/reset.out" "$TMP/reset.err"
check "the new password is not echoed" 1 $?
check "the reset ended the owner's session at once" 401 "$(orgs_as "$TMP/cookies")"
check "the old password fails" 401 "$(login_as owner@acme.test 'correct horse battery' "$TMP/cookies3" /dev/null)"
check "the new password logs in" 200 "$(login_as owner@acme.test 'a recovered passphrase' "$TMP/cookies3" "$TMP/login3.json")"
check "and must be changed first" True "$(json "$TMP/login3.json" 'd["user"]["must_change_password"]')"
check "until then the org is closed to it" 403 "$(orgs_as "$TMP/cookies3")"
check "the API key of that owner still works" 200 "$(api GET "/v1/orgs/$ORG")"
# A generated password: stdout is the password alone.
"$BIN" users reset-password --data "$DATA" --email second@acme.test >"$TMP/reset.out" 2>"$TMP/reset.err"
check "users reset-password generates a password" 0 $?
check "the second owner's session ended" 401 "$(orgs_as "$TMP/cookies2")"
GENERATED=$(cat "$TMP/reset.out")
check "the generated password logs in" 200 \
  "$(login_as second@acme.test "$GENERATED" "$TMP/cookies2" /dev/null)"
grep -qF "$(cat "$TMP/reset.out")" "$TMP/reset.err" "$TMP/serve.out" "$TMP/serve.err"
check "the generated password is printed nowhere else" 1 $?
"$BIN" users reset-password --data "$DATA" --email nobody@acme.test >/dev/null 2>&1
check "users reset-password of nobody exits 1" 1 $?
printf 'short\n' | "$BIN" users reset-password --data "$DATA" --email owner@acme.test --password-stdin >/dev/null 2>&1
check "users reset-password refuses a short password" 1 $?
# disable ends the session as the API's disable does; enable lets the account in again.
"$BIN" users disable --data "$DATA" --email second@acme.test >/dev/null 2>&1
check "users disable while serve runs" 0 $?
check "the disabled owner's session ended" 401 "$(orgs_as "$TMP/cookies2")"
"$BIN" users enable --data "$DATA" --email second@acme.test >/dev/null 2>&1
check "users enable while serve runs" 0 $?
"$BIN" users list --data "$DATA" --json >"$TMP/users.json" 2>&1
check "users list while serve runs" 0 $?
check "users list: both owners" "owner@acme.test second@acme.test" "$(json "$TMP/users.json" '" ".join(u["email"] for u in d["users"])')"
check "users list: the reset owner must change the password" True "$(json "$TMP/users.json" 'd["users"][0]["must_change_password"]')"
check "users list: their org and role" "acme owner" "$(json "$TMP/users.json" 'd["users"][0]["orgs"][0]["slug"] + " " + d["users"][0]["orgs"][0]["role"]')"
grep -q 'argon2' "$TMP/users.json"
check "users list shows no hash" 1 $?
# Both owners choose their own passwords again; the checks below use their new sessions.
change_password() {  # change_password COOKIE-JAR LOGIN-JSON CURRENT NEW -> status; answer in $TMP/passwd.json
  curl -s -b "$1" -c "$1" -o "$TMP/passwd.json" -w '%{http_code}' -X POST "$BASE/v1/auth/password" \
    -H "X-CSRF-Token: $(json "$2" 'd["csrf_token"]')" -H 'Content-Type: application/json' \
    --data-binary "{\"current_password\":\"$3\",\"new_password\":\"$4\"}"
}
check "the enabled owner logs in" 200 "$(login_as second@acme.test "$GENERATED" "$TMP/cookies2" "$TMP/login2.json")"
check "and changes the generated password" 200 \
  "$(change_password "$TMP/cookies2" "$TMP/login2.json" "$GENERATED" 'my very own passphrase')"
CSRF2=$(json "$TMP/passwd.json" 'd["csrf_token"]')
check "the reset owner changes the password" 200 \
  "$(change_password "$TMP/cookies3" "$TMP/login3.json" 'a recovered passphrase' 'correct horse battery')"
CSRF=$(json "$TMP/passwd.json" 'd["csrf_token"]')
cp "$TMP/cookies3" "$TMP/cookies"
check "then the org is open to it" 200 "$(orgs_as "$TMP/cookies")"

kill -TERM "$PID"
wait "$PID"
check "SIGTERM exits 0" 0 $?
PID=""

"$BIN" audit verify --data "$DATA" >"$TMP/verify.out" 2>&1
check "audit verify intact" 0 $?
grep -q "intact" "$TMP/verify.out"
check "audit verify message" 0 $?
check "the operator's account changes are audited (actor cli)" \
  "user.disable user.enable user.password_reset user.password_reset" \
  "$(python3 -c 'import sqlite3,sys; print(" ".join(r[0] for r in sqlite3.connect(sys.argv[1]).execute(
       "SELECT action FROM audit_events WHERE actor = '"'cli'"' ORDER BY action")))' "$DATA/rampart.db")"
"$BIN" audit verify --data "$TMP/nothing" >/dev/null 2>&1
check "audit verify without a store" 2 $?
# Someone with write access to the database drops the append-only triggers and edits or
# deletes an event: verify exits 1 and prints the first bad event (seq and action).
tamper() {  # tamper DIR SQL
  rm -rf "$1" && cp -r "$DATA" "$1"
  python3 - "$1/rampart.db" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='audit_events'").fetchall():
    db.execute('DROP TRIGGER "%s"' % name)
db.execute(sys.argv[2])
db.commit()
PY
}
tamper "$TMP/altered" "UPDATE audit_events SET outcome = 'success' WHERE seq = 2"
ACTION2=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT action FROM audit_events WHERE seq = 2").fetchone()[0])' "$DATA/rampart.db")
"$BIN" audit verify --data "$TMP/altered" >"$TMP/verify.out" 2>&1
check "audit verify: an altered event exits 1" 1 $?
grep -q "BROKEN at event 2" "$TMP/verify.out"
check "audit verify names the altered event" 0 $?
grep -q "\"action\":\"$ACTION2\"" "$TMP/verify.out"
check "audit verify prints the altered event" 0 $?
tamper "$TMP/deleted" "DELETE FROM audit_events WHERE seq = 2"
"$BIN" audit verify --data "$TMP/deleted" >"$TMP/verify.out" 2>&1
check "audit verify: a deleted event exits 1" 1 $?
grep -q "BROKEN at event 3" "$TMP/verify.out" && grep -q '"seq":3' "$TMP/verify.out"
check "audit verify prints the event after the gap" 0 $?
grep -rqa "$SECRET" "$DATA"
check "secret not in the data directory" 1 $?
"$BIN" keys rotate --data "$DATA" >"$TMP/out" 2>&1
check "keys rotate" 0 $?
start
check "connector readable after rotation" 200 "$(api GET /v1/orgs/$ORG/connectors/acme)"
check "still waiting after the restart" awaiting_approval "$(api GET /v1/orgs/$ORG/runs/$GATED >/dev/null; json "$TMP/body" 'd["status"]')"
code=$(curl -s -b "$TMP/cookies2" -o "$TMP/body" -w '%{http_code}' -X POST "$BASE/v1/orgs/$ORG/runs/$GATED/approvals" \
  -H "X-CSRF-Token: $CSRF2" -H 'Content-Type: application/json' \
  --data-binary '{"step":"sign_off","decision":"approve","comment":"checked"}')
check "second owner approves" 200 "$code"
status=""
for _ in $(seq 1 100); do
  api GET /v1/orgs/$ORG/runs/$GATED >/dev/null
  status=$(json "$TMP/body" 'd["status"]')
  [[ "$status" == succeeded || "$status" == failed ]] && break
  sleep 0.1
done
check "approved run resumed and finished" succeeded "$status"
check "the step before the gate ran once" 1 "$(json "$TMP/body" 'd["output"]["n"]')"
kill -TERM "$PID"; wait "$PID"; PID=""

# A request waiting for its run holds no io thread: with ONE io thread, other requests are
# answered while a slow run (a long query on the org's database) is waited for.
printf 'io_threads: 1\nmax_queued_runs: 1\n' >"$TMP/one.yaml"
start --config "$TMP/one.yaml"
cat >"$TMP/slow.yaml" <<'EOF2'
rampart: 1
id: slow
steps:
  - id: spin
    type: action
    uses: db.query
    with: { sql: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 6000000) SELECT count(*) AS n FROM c", timeout: 60 }
output: { n: "{{ steps.spin.output.rows[0].n }}" }
EOF2
deploy slow "$TMP/slow.yaml"
curl -s -o "$TMP/slow.json" -w '%{http_code}' -X POST "$BASE/v1/orgs/$ORG/workflows/slow/runs" \
  -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  --data-binary '{"input":{},"wait":60}' >"$TMP/slow.code" &
SLOW=$!
running=0
for _ in $(seq 1 200); do  # the API answers while the run executes (polled until it does)
  api GET "/v1/orgs/$ORG/runs?status=running" >/dev/null
  running=$(json "$TMP/body" 'len(d["items"])')
  [[ "$running" == 1 ]] && break
  sleep 0.02
done
check "the API answers while the slow run is running" 1 "$running"
check "healthz answered during the wait" 200 "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$BASE/healthz")"
check "its waiting request is still open" 1 "$(kill -0 $SLOW 2>/dev/null && echo 1 || echo 0)"
wait "$SLOW"
check "the waited run answers 200 when it finishes" 200 "$(cat "$TMP/slow.code")"
check "with its record" succeeded "$(json "$TMP/slow.json" 'd["status"]')"
check "and its output" 6000000 "$(json "$TMP/slow.json" 'd["output"]["n"]')"

# max_queued_runs (1 here): with the org limited to one run at a time, one slow run
# executing and one queued behind it, the next run is refused with 429 and not stored.
check "org limited to 1 run" 200 "$(api PATCH "/v1/orgs/$ORG" '{"max_concurrent_runs":1}')"
check "a slow run is accepted" 202 "$(api POST "/v1/orgs/$ORG/workflows/slow/runs" '{"input":{}}')"
FIRST=$(json "$TMP/body" 'd["run_id"]')
status=""
for _ in $(seq 1 200); do
  api GET "/v1/orgs/$ORG/runs/$FIRST" >/dev/null
  status=$(json "$TMP/body" 'd["status"]')
  [[ "$status" == running ]] && break
  sleep 0.02
done
check "it runs" running "$status"
check "a second one queues" 202 "$(api POST "/v1/orgs/$ORG/workflows/slow/runs" '{"input":{}}')"
SECOND=$(json "$TMP/body" 'd["run_id"]')
api GET "/v1/orgs/$ORG/runs?status=queued" >/dev/null
before=$(json "$TMP/body" 'len(d["items"])')
code=$(curl -s -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' -X POST \
  "$BASE/v1/orgs/$ORG/workflows/slow/runs" -H "Authorization: Bearer $KEY" \
  -H 'Content-Type: application/json' --data-binary '{"input":{}}')
check "a third one past max_queued_runs is refused" 429 "$code"
check "with the rate_limited code" rate_limited "$(json "$TMP/body" 'd["error"]["code"]')"
grep -qi '^retry-after:' "$TMP/headers"
check "and Retry-After" 0 $?
api GET "/v1/orgs/$ORG/runs?status=queued" >/dev/null
check "the refused run was not stored" "$before" "$(json "$TMP/body" 'len(d["items"])')"
check "cancel the queued run" 202 "$(api POST "/v1/orgs/$ORG/runs/$SECOND/cancel")"
check "cancel the running run" 202 "$(api POST "/v1/orgs/$ORG/runs/$FIRST/cancel")"
kill -TERM "$PID"; wait "$PID"; PID=""

# Audit retention (ASVS V14.2.4): a copy of the store whose events are all 60 days old (the
# chain re-hashed as if written then). serve with audit_retention_days: 30 purges them at
# start behind a signed checkpoint; verify still says intact with the master key serve
# generated in <data>/master.key, never without it, and not with another key.
AGED="$TMP/aged"
rm -rf "$AGED" && cp -r "$DATA" "$AGED"
AGED_EVENTS=$(python3 - "$AGED/rampart.db" <<'PY'
import hashlib, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
old = int(time.time() * 1000) - 60 * 86400000
prev = "0" * 64
rows = db.execute("SELECT seq, org_id, actor, action, target, outcome, source_ip, user_agent, "
                  "details FROM audit_events ORDER BY seq").fetchall()
db.execute("DROP TRIGGER audit_events_no_update")
for row in rows:
    fields = ["rampart-audit-v1", prev, str(row[0]), str(old)] + list(row[1:])
    canon = b"".join(b"%d:%s\n" % (len(f.encode()), f.encode()) for f in fields)
    h = hashlib.sha256(canon).hexdigest()
    db.execute("UPDATE audit_events SET time = ?, prev_hash = ?, hash = ? WHERE seq = ?",
               (old, prev, h, row[0]))
    prev = h
db.execute("UPDATE settings SET value = ? WHERE key = 'audit.head'", ("%d:%s" % (rows[-1][0], prev),))
db.execute("CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
           "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END")
db.commit()
print(rows[-1][0])
PY
)
"$BIN" audit verify --data "$AGED" >"$TMP/verify.out" 2>&1
check "audit retention: the aged copy verifies before the purge" 0 $?
printf 'audit_retention_days: 30\n' >"$TMP/aged.yaml"
"$BIN" serve --data "$AGED" --listen 127.0.0.1:0 --config "$TMP/aged.yaml" >"$TMP/serve.out" 2>>"$TMP/serve.err" &
PID=$!
wait_for_port "$TMP/serve.out" "$PID"
checkpoint_seq() {
  python3 -c 'import sqlite3,sys; r=sqlite3.connect(sys.argv[1]).execute("SELECT value FROM settings WHERE key=?", ("audit.checkpoint",)).fetchone(); print(r[0].split(":")[1] if r else "")' "$AGED/rampart.db"
}
for _ in $(seq 1 200); do [[ -n "$(checkpoint_seq)" ]] && break; sleep 0.1; done
check "audit retention: serve purged every aged event behind a checkpoint" "$AGED_EVENTS" "$(checkpoint_seq)"
kill -TERM "$PID"; wait "$PID"; PID=""
check "audit retention: the audit.purged event is in the chain" 1 \
  "$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM audit_events WHERE action = ? AND actor = ?", ("audit.purged", "system")).fetchone()[0])' "$AGED/rampart.db")"
"$BIN" audit verify --data "$AGED" >"$TMP/verify.out" 2>&1
check "audit retention: verify after the purge exits 0" 0 $?
grep -q "intact: .* from the retention checkpoint at event $AGED_EVENTS" "$TMP/verify.out"
check "audit retention: verify names the checkpoint" 0 $?
mv "$AGED/master.key" "$TMP/aged-master.key"
"$BIN" audit verify --data "$AGED" >"$TMP/verify.out" 2>&1
check "audit retention: without the master key verify exits 1" 1 $?
grep -q "cannot be checked without the master key" "$TMP/verify.out" && ! grep -q "intact" "$TMP/verify.out"
check "audit retention: and says why, never intact" 0 $?
printf 'master_key_file: %s\n' "$TMP/aged-master.key" >"$TMP/aged-verify.yaml"
"$BIN" audit verify --data "$AGED" --config "$TMP/aged-verify.yaml" >"$TMP/verify.out" 2>&1
check "audit retention: verify --config master_key_file exits 0" 0 $?
"$BIN" audit verify --data "$AGED" --master-key-stdin <"$TMP/aged-master.key" >"$TMP/verify.out" 2>&1
check "audit retention: verify --master-key-stdin exits 0" 0 $?
RAMPART_MASTER_KEY="other-master-key-$(printf 'y%.0s' $(seq 1 30))" "$BIN" audit verify --data "$AGED" >"$TMP/verify.out" 2>&1
check "audit retention: another master key exits 1" 1 $?
grep -q "checkpoint signature invalid" "$TMP/verify.out"
check "audit retention: another master key is a bad checkpoint" 0 $?
python3 -c 'import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); db.execute("DELETE FROM audit_events WHERE seq = ?", (int(sys.argv[2]) + 1,))' "$AGED/rampart.db" "$AGED_EVENTS" 2>/dev/null
check "audit retention: a raw DELETE past the checkpoint still aborts" 1 $?

# api_rate_limit (ASVS V2.4.1): a token bucket per authenticated principal. With a burst
# of 3 and 1 token a minute, the key's 4th request is refused with 429 + Retry-After,
# while the owner's session (another principal) and the public routes still answer.
# The server also runs its retention sweep (runs_retention_days) here: the runs above are
# recent, so they stay, and the sweep thread stops with the server.
printf 'api_rate_limit: { rpm: 1, burst: 3 }\nruns_retention_days: 3650\n' >"$TMP/config.yaml"
start --config "$TMP/config.yaml"
for i in 1 2 3; do check "key request $i within the burst" 200 "$(api GET "/v1/orgs/$ORG")"; done
code=$(curl -s -D "$TMP/headers" -o "$TMP/body" -w '%{http_code}' "$BASE/v1/orgs/$ORG" -H "Authorization: Bearer $KEY")
check "the key's 4th request is refused" 429 "$code"
check "with the rate_limited code" rate_limited "$(json "$TMP/body" 'd["error"]["code"]')"
retry=$(sed -n 's/^[Rr]etry-[Aa]fter: *\([0-9]*\).*/\1/p' "$TMP/headers")
check "and Retry-After in 1..60 s" 1 "$([[ -n "$retry" && "$retry" -ge 1 && "$retry" -le 60 ]] && echo 1 || echo 0)"
check "the owner's session is not limited by the key" 200 \
  "$(curl -s -b "$TMP/cookies" -o "$TMP/metrics" -w '%{http_code}' "$BASE/metrics")"
check "/metrics counts the refusal" 1 \
  "$(sed -n 's/^rampart_api_rate_limited{principal="api_key"} \([0-9]*\).*/\1/p' "$TMP/metrics")"
check "public routes are not limited" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")"
kill -TERM "$PID"; wait "$PID"; PID=""

# quotas (ASVS V2.4.1): the org already holds workflows, so with `workflows: 1` the next
# create is refused 409 conflict naming the limit, and nothing is stored.
printf 'quotas: { workflows: 1 }\n' >"$TMP/config.yaml"
start --config "$TMP/config.yaml"
printf 'rampart: 1\nid: over-quota\nname: over\nsteps:\n  - id: s\n    type: set\n    values: { a: 1 }\n' >"$TMP/over.yaml"
code=$(curl -s -o "$TMP/body" -w '%{http_code}' -X POST "$BASE/v1/orgs/$ORG/workflows" \
  -H "Authorization: Bearer $KEY" -H 'Content-Type: application/yaml' --data-binary @"$TMP/over.yaml")
check "a workflow past the quota is refused" 409 "$code"
check "with the conflict code" conflict "$(json "$TMP/body" 'd["error"]["code"]')"
grep -q "at most 1 workflows" "$TMP/body"
check "the refusal names the limit" 0 $?
check "the refused workflow was not stored" 404 "$(api GET "/v1/orgs/$ORG/workflows/over-quota")"
kill -TERM "$PID"; wait "$PID"; PID=""

# Fail closed (ASVS V16.5.3): a master key that does not open the store's data keys stops
# the start, with a message that names neither key.
WRONG_KEY="wrong-master-key-$(printf 'z%.0s' $(seq 1 30))"
RAMPART_MASTER_KEY="$WRONG_KEY" "$BIN" serve --data "$DATA" --listen 127.0.0.1:0 >"$TMP/out" 2>&1
check "a wrong master key stops the start" 2 $?
grep -q "cannot decrypt: wrong master key or corrupted data" "$TMP/out"
check "the wrong master key refusal says why" 0 $?
grep -q -e "$WRONG_KEY" -e "$(cat "$DATA/master.key")" "$TMP/out"
check "the wrong master key refusal names no key" 1 $?

# Config refusals: a master key file readable by others, unknown keys.
printf 'a%.0s' $(seq 1 40) >"$TMP/master.key"
chmod 644 "$TMP/master.key"
printf 'master_key_file: %s\n' "$TMP/master.key" >"$TMP/config.yaml"
"$BIN" serve --config "$TMP/config.yaml" --data "$TMP/data2" --listen 127.0.0.1:0 >"$TMP/out" 2>&1
check "master key file with mode 0644 refused" 2 $?
printf 'listen: 127.0.0.1:0\nlisen: typo\n' >"$TMP/config.yaml"
"$BIN" serve --config "$TMP/config.yaml" --data "$TMP/data2" >"$TMP/out" 2>&1
check "unknown config key refused" 2 $?
# A bad `listen` is named as the config's key, not as the --listen flag nobody gave.
for bad in 127.0.0.1:99999 127.0.0.1; do
  printf 'listen: "%s"\n' "$bad" >"$TMP/config.yaml"
  "$BIN" serve --config "$TMP/config.yaml" --data "$TMP/data2" >"$TMP/out" 2>&1
  check "config listen $bad refused" 2 $?
  grep -q -e "config: listen" "$TMP/out" && ! grep -q -e "--listen" "$TMP/out"
  check "config listen $bad refusal names the key" 0 $?
done
printf 'listen: 127.0.0.1:0\nio_threads: 0\n' >"$TMP/config.yaml"
"$BIN" serve --config "$TMP/config.yaml" --data "$TMP/data2" >"$TMP/out" 2>&1
check "io_threads out of range refused" 2 $?
grep -q "io_threads must be 1..1024" "$TMP/out"
check "io_threads refusal says why" 0 $?
printf 'listen: 127.0.0.1:0\nmax_queued_runs: 0\n' >"$TMP/config.yaml"
"$BIN" serve --config "$TMP/config.yaml" --data "$TMP/data2" >"$TMP/out" 2>&1
check "max_queued_runs out of range refused" 2 $?
grep -q "max_queued_runs must be 1..1000000" "$TMP/out"
check "max_queued_runs refusal says why" 0 $?
for bad in -1 1 29 36501 '"30"'; do
  printf 'listen: 127.0.0.1:0\naudit_retention_days: %s\n' "$bad" >"$TMP/config.yaml"
  "$BIN" serve --config "$TMP/config.yaml" --data "$TMP/data2" >"$TMP/out" 2>&1
  check "audit_retention_days $bad refused" 2 $?
  grep -q "audit_retention_days must be 0 (keep forever) or 30..36500 days" "$TMP/out"
  check "audit_retention_days $bad refusal says why" 0 $?
done
for bad in -1 3651 '"30"'; do
  printf 'listen: 127.0.0.1:0\nruns_retention_days: %s\n' "$bad" >"$TMP/config.yaml"
  "$BIN" serve --config "$TMP/config.yaml" --data "$TMP/data2" >"$TMP/out" 2>&1
  check "runs_retention_days $bad refused" 2 $?
  grep -q "runs_retention_days must be 0..3650 days" "$TMP/out"
  check "runs_retention_days $bad refusal says why" 0 $?
done
printf 'listen: 127.0.0.1:0\nwebhook_org_rate_limit: { rpm: 0 }\n' >"$TMP/config.yaml"
"$BIN" serve --config "$TMP/config.yaml" --data "$TMP/data2" >"$TMP/out" 2>&1
check "webhook_org_rate_limit out of range refused" 2 $?
for bad in '{ rpm: -1 }' '{ rpm: 100000001 }' '{ burst: 0 }' '{ burst: 1000001 }' '{ rpm: 1.5 }' \
  '{ rps: 10 }' '600'; do
  printf 'listen: 127.0.0.1:0\napi_rate_limit: %s\n' "$bad" >"$TMP/config.yaml"
  "$BIN" serve --config "$TMP/config.yaml" --data "$TMP/data2" >"$TMP/out" 2>&1
  check "api_rate_limit: $bad refused" 2 $?
  grep -q "api_rate_limit" "$TMP/out"
  check "api_rate_limit: $bad refusal says why" 0 $?
done
for bad in '{ workflows: 0 }' '{ versions_per_workflow: 1000001 }' '{ connectors: -1 }' \
  '{ connectors: 1.5 }' '{ triggers: 10 }' '{ runs: 0 }' '{ runs: 1000000001 }' '100'; do
  printf 'listen: 127.0.0.1:0\nquotas: %s\n' "$bad" >"$TMP/config.yaml"
  "$BIN" serve --config "$TMP/config.yaml" --data "$TMP/data2" >"$TMP/out" 2>&1
  check "quotas: $bad refused" 2 $?
  grep -q "quotas" "$TMP/out"
  check "quotas: $bad refusal says why" 0 $?
done
printf 'io_threads: 2\nmax_queued_runs: 1000\nwebhook_org_rate_limit: { rpm: 6000, burst: 100 }\napi_rate_limit: { rpm: 0 }\n' >"$TMP/config.yaml"
: >"$TMP/serve.out"
"$BIN" serve --config "$TMP/config.yaml" --data "$TMP/data3" --listen 127.0.0.1:0 >"$TMP/serve.out" 2>"$TMP/serve.err" &
PID=$!
wait_for_port "$TMP/serve.out" "$PID"
check "serves with 2 io threads and max_queued_runs" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")"
kill -TERM "$PID"; wait "$PID"; PID=""
# --listen with an IPv6 literal: served on ::1, and the start message is a URL, the address
# in brackets (RFC 3986 3.2.2: "http://::1:8787" is no URL). SIGINT ends it like SIGTERM.
: >"$TMP/serve.out"
"$BIN" serve --data "$TMP/data4" --listen '[::1]:0' >"$TMP/serve.out" 2>"$TMP/serve.err" &
PID=$!
wait_for_port "$TMP/serve.out" "$PID" '\[::1\]'
PORT6="$PORT"
check "IPv6 listen: the start message brackets the address" 1 "$([[ -n "$PORT6" ]] && echo 1 || echo 0)"
check "IPv6 listen: healthz on [::1]" 200 \
  "$(curl -s -g -o /dev/null -w '%{http_code}' "http://[::1]:${PORT6:-1}/healthz")"
kill -INT "$PID"; wait "$PID"
check "SIGINT exits 0" 0 $?
PID=""
"$BIN" serve --help >/dev/null 2>&1
check "serve --help" 0 $?
"$BIN" audit verify --help >/dev/null 2>&1
check "audit verify --help" 0 $?

summary serve_end_to_end
