# Shared by the end-to-end scripts in this directory (sourced, never run): the pass/fail
# counters, check, json, waiting for `rampart serve` to say its port, and the summary.
# A script may define e2e_on_failure, called after each failed check to print context.

pass=0
fail=0

# The EXIT trap of the scripts that start processes (`trap e2e_cleanup EXIT`): kills the
# ones whose pid is in PID, UP_PID or ECHO_PID (those set and non-empty) and removes $TMP,
# unless KEEP is set (to look at it after a failure).
e2e_cleanup() {
  local p
  for p in "${PID:-}" "${UP_PID:-}" "${ECHO_PID:-}"; do
    [[ -n "$p" ]] && kill -9 "$p" 2>/dev/null
  done
  [[ -n "${KEEP:-}" ]] || rm -rf "$TMP"
  return 0
}

# For scripts whose server writes $TMP/serve.err and whose pid is in PID: after a failed
# check, when the server died under the script, show why (once per process). Use it as
# `e2e_on_failure() { e2e_report_dead_server; }`.
E2E_REPORTED=""
e2e_report_dead_server() {
  if [[ -n "${PID:-}" && "$PID" != "$E2E_REPORTED" ]] && ! kill -0 "$PID" 2>/dev/null; then
    E2E_REPORTED="$PID"
    echo "the server (pid $PID) is gone; the end of its stderr:"
    tail -n 40 "$TMP/serve.err"
  fi
}

check() {  # check NAME EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL: $1 (got '$3', want '$2')"
    if declare -F e2e_on_failure >/dev/null; then e2e_on_failure; fi
  fi
  return 0
}

json() {  # json FILE PYTHON-EXPR-ON-d
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# wait_for_port OUT_FILE PID [HOST]: sets PORT from the server's "listening on" line, or
# to "" when the process exits first or 60 s pass (an ASan build on a loaded CI machine
# starts slowly). HOST is the address as the URL writes it, a sed pattern (default
# 127.0.0.1; '\[::1\]' for IPv6). Empty OUT_FILE before starting the server: the `>` of a
# command run with `&` happens in the child, possibly after this has read an earlier
# instance's line.
wait_for_port() {
  local host="${3:-127.0.0.1}"
  PORT=""
  for _ in $(seq 1 600); do
    PORT=$(sed -n "s/.*listening on http:\/\/${host}:\([0-9]*\).*/\1/p" "$1")
    [[ -n "$PORT" ]] && break
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
}

# e2e_bootstrap ORG_NAME EMAIL: with $BASE, $DATA and $TMP set, uses the setup token
# (POST /v1/setup), logs the owner in (cookie jar $TMP/cookies) and creates a read_write
# API key; sets ORG, CSRF and KEY ($TMP/setup.json keeps the setup answer). Each step is a
# check.
e2e_bootstrap() {
  local token code
  token=$(cat "$DATA/setup-token")
  code=$(curl -s -o "$TMP/setup.json" -w '%{http_code}' -X POST "$BASE/v1/setup" \
    -H 'Content-Type: application/json' --data-binary \
    "{\"setup_token\":\"$token\",\"org_name\":\"$1\",\"email\":\"$2\",\"password\":\"correct horse battery\"}")
  check "setup" 201 "$code"
  ORG=$(json "$TMP/setup.json" 'd["org"]["id"]')
  code=$(curl -s -c "$TMP/cookies" -o "$TMP/login.json" -w '%{http_code}' -X POST "$BASE/v1/auth/login" \
    -H 'Content-Type: application/json' --data-binary "{\"email\":\"$2\",\"password\":\"correct horse battery\"}")
  check "login" 200 "$code"
  CSRF=$(json "$TMP/login.json" 'd["csrf_token"]')
  code=$(curl -s -b "$TMP/cookies" -o "$TMP/key.json" -w '%{http_code}' -X POST "$BASE/v1/orgs/$ORG/api-keys" \
    -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' --data-binary '{"name":"e2e","scope":"read_write"}')
  check "create API key" 201 "$code"
  KEY=$(json "$TMP/key.json" 'd["key"]')
}

# e2e_add_owner EMAIL: after e2e_bootstrap, adds EMAIL as a second owner with the password
# "another long passphrase" and logs it in (cookies in $TMP/cookies2, the answer in
# $TMP/login2.json); sets CSRF2. The added owner must change that password first.
e2e_add_owner() {
  local code
  code=$(curl -s -b "$TMP/cookies" -o /dev/null -w '%{http_code}' -X POST "$BASE/v1/orgs/$ORG/members" \
    -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' \
    --data-binary "{\"email\":\"$1\",\"role\":\"owner\",\"password\":\"another long passphrase\"}")
  check "add the owner $1" 201 "$code"
  code=$(curl -s -c "$TMP/cookies2" -o "$TMP/login2.json" -w '%{http_code}' -X POST "$BASE/v1/auth/login" \
    -H 'Content-Type: application/json' \
    --data-binary "{\"email\":\"$1\",\"password\":\"another long passphrase\"}")
  check "the owner $1 logs in" 200 "$code"
  CSRF2=$(json "$TMP/login2.json" 'd["csrf_token"]')
}

# e2e_auth_upstream EXPECTED_JSON: starts a loopback HTTP server (python3) that answers a
# GET of PATH with 200 {"ok": true} when its Authorization header is exactly the value
# EXPECTED_JSON (a file: {"<path>": "<header value>"}) holds for PATH, else 401
# {"ok": false}; it never prints what it receives. Sets UP_PID and UP_PORT (needs $TMP).
e2e_auth_upstream() {
  cat >"$TMP/upstream.py" <<'PY'
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
expected = json.load(open(sys.argv[1]))
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        ok = self.headers.get('Authorization', '') == expected.get(self.path)
        body = json.dumps({'ok': ok}).encode()
        self.send_response(200 if ok else 401)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
s = HTTPServer(('127.0.0.1', 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
  e2e_python_server upstream "$TMP/upstream.py" "$1"
  UP_PID=$PY_PID
  UP_PORT=$PY_PORT
}

# e2e_python_server NAME SCRIPT [ARGS...]: starts `python3 SCRIPT ARGS...` in the
# background, a loopback server whose first output line is its port, and waits up to 10 s
# for that line (in $TMP/NAME.port, emptied first). Sets PY_PID, and PY_PORT (empty when
# the server never said its port).
e2e_python_server() {
  local name=$1
  shift
  : >"$TMP/$name.port"
  python3 "$@" >"$TMP/$name.port" &
  PY_PID=$!
  for _ in $(seq 1 100); do [[ -s "$TMP/$name.port" ]] && break; sleep 0.1; done
  PY_PORT=$(head -1 "$TMP/$name.port")
}

summary() {  # summary SCRIPT-NAME: prints the counts; fails when a check failed
  echo "$1: $pass passed, $fail failed"
  [[ $fail == 0 ]]
}
