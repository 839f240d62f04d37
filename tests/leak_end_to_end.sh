#!/usr/bin/env bash
# The secret leak suite against a real server (spec/security.md section 1): a connector's
# token is sent by `http.request` to a loopback upstream that echoes it back (in JSON, in
# base64, hex and URL-encoded forms, in headers, and in an error body); neither the raw
# token nor any of those forms may appear in the run record, any API answer, the server's
# logs, or any byte of the data directory. Talks only to 127.0.0.1.
set -uo pipefail
BIN="$1"
SRC="$2"
TMP=$(mktemp -d)
PID=""
ECHO_PID=""
cleanup() {
  [[ -n "$PID" ]] && kill -9 "$PID" 2>/dev/null
  [[ -n "$ECHO_PID" ]] && kill -9 "$ECHO_PID" 2>/dev/null
  [[ -n "${KEEP:-}" ]] || rm -rf "$TMP"
}
trap cleanup EXIT
pass=0
fail=0
check() {  # check NAME EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1 (got '$3', want '$2')"; fi
}
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

SECRET="LeakSuite-$(date +%s%N)-Tok"
# Every form the redactor promises to catch.
FORMS=$(python3 - "$SECRET" <<'PY'
import base64, sys, urllib.parse, json
s = sys.argv[1]
b = s.encode()
for f in [s, base64.b64encode(b).decode(), base64.urlsafe_b64encode(b).decode().rstrip('='),
          b.hex(), b.hex().upper(), urllib.parse.quote(s, safe=''), json.dumps(s)[1:-1]]:
    print(f)
PY
)

# The upstream: echoes the Authorization header it received, in several encodings.
cat >"$TMP/echo.py" <<'PY'
import base64, json, sys, urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        auth = self.headers.get('Authorization', '')
        tok = auth.split(' ', 1)[1] if ' ' in auth else auth
        body = json.dumps({'you_sent': auth, 'b64': base64.b64encode(tok.encode()).decode(),
                           'hex': tok.encode().hex(), 'url': urllib.parse.quote(tok, safe=''),
                           'nested': [{tok: 'as a key'}]}).encode()
        status = 500 if self.path.startswith('/fail') else 200
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('X-Echo', tok)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
s = HTTPServer(('127.0.0.1', 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
python3 "$TMP/echo.py" >"$TMP/echo.port" &
ECHO_PID=$!
for _ in $(seq 1 50); do [[ -s "$TMP/echo.port" ]] && break; sleep 0.1; done
ECHO_PORT=$(head -1 "$TMP/echo.port")

cat >"$TMP/config.yaml" <<EOF
egress:
  allow_http: true
  allow_cidrs: ["127.0.0.1/32"]
  allow_ports: [$ECHO_PORT]
EOF
DATA="$TMP/data"
"$BIN" serve --config "$TMP/config.yaml" --data "$DATA" --listen 127.0.0.1:0 >"$TMP/serve.out" 2>"$TMP/serve.err" &
PID=$!
for _ in $(seq 1 100); do
  PORT=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/serve.out")
  [[ -n "$PORT" ]] && break
  sleep 0.1
done
BASE="http://127.0.0.1:$PORT"
check "server started" 1 $([[ -n "$PORT" ]] && echo 1 || echo 0)

TOKEN=$(cat "$DATA/setup-token")
curl -s -o "$TMP/setup.json" -X POST "$BASE/v1/setup" -H 'Content-Type: application/json' \
  --data-binary "{\"setup_token\":\"$TOKEN\",\"org_name\":\"Leak\",\"email\":\"o@leak.test\",\"password\":\"correct horse battery\"}"
ORG=$(json "$TMP/setup.json" 'd["org"]["id"]')
curl -s -c "$TMP/cookies" -o "$TMP/login.json" -X POST "$BASE/v1/auth/login" -H 'Content-Type: application/json' \
  --data-binary '{"email":"o@leak.test","password":"correct horse battery"}'
CSRF=$(json "$TMP/login.json" 'd["csrf_token"]')
curl -s -b "$TMP/cookies" -o "$TMP/key.json" -X POST "$BASE/v1/orgs/$ORG/api-keys" -H "X-CSRF-Token: $CSRF" \
  -H 'Content-Type: application/json' --data-binary '{"name":"leak","scope":"read_write"}'
KEY=$(json "$TMP/key.json" 'd["key"]')
api() {  # api METHOD PATH [BODY] [CONTENT-TYPE] -> status; body in $TMP/body (appended to $TMP/answers)
  local args=(-s -o "$TMP/body" -w '%{http_code}' -X "$1" "$BASE$2" -H "Authorization: Bearer $KEY")
  if [[ $# -ge 3 ]]; then args+=(-H "Content-Type: ${4:-application/json}" --data-binary "$3"); fi
  local code
  code=$(curl "${args[@]}")
  cat "$TMP/body" >>"$TMP/answers"
  echo "$code"
}

check "create connector" 201 "$(api POST /v1/orgs/$ORG/connectors "{\"id\":\"acme\",\"type\":\"bearer\",\"options\":{\"base_url\":\"https://api.acme.test\"},\"secrets\":{\"token\":\"$SECRET\"}}")"
cat >"$TMP/wf.yaml" <<EOF
rampart: 1
id: leaky
steps:
  - id: call
    type: action
    uses: http.request
    connector: acme
    with: { method: GET, url: "http://127.0.0.1:$ECHO_PORT/echo", allow_http: true }
  - id: log
    type: action
    uses: log.write
    with: { level: info, message: "upstream said {{ steps.call.output.json.you_sent }}" }
  - id: copy
    type: set
    values: { again: "{{ steps.call.output.json }}" }
  - id: broken
    type: action
    uses: http.request
    connector: acme
    with: { method: GET, url: "http://127.0.0.1:$ECHO_PORT/fail", allow_http: true, fail_on_status: true }
EOF
check "create workflow" 201 "$(api POST /v1/orgs/$ORG/workflows "$(cat "$TMP/wf.yaml")" application/yaml)"
check "publish" 200 "$(api POST /v1/orgs/$ORG/workflows/leaky/publish '{"version":1}')"
check "run" 200 "$(api POST /v1/orgs/$ORG/workflows/leaky/runs '{"input":{},"wait":10}')"
cp "$TMP/body" "$TMP/record.json"
check "the call step reached the upstream" succeeded "$(json "$TMP/record.json" '[s for s in d["steps"] if s["id"]=="call"][0]["status"]')"
check "the failing call failed the run" failed "$(json "$TMP/record.json" 'd["status"]')"
grep -q 'REDACTED' "$TMP/record.json"
check "the record shows redactions" 0 $?
RUN=$(json "$TMP/record.json" 'd["run_id"]')
check "get run" 200 "$(api GET /v1/orgs/$ORG/runs/$RUN)"
check "list runs" 200 "$(api GET /v1/orgs/$ORG/runs)"
check "get connector" 200 "$(api GET /v1/orgs/$ORG/connectors/acme)"
check "audit" 200 "$(api GET /v1/orgs/$ORG/audit)"
grep -q 'connector.secret_use' "$TMP/body"
check "secret use audited" 0 $?
check "secret use names the run and the step" True "$(json "$TMP/body" 'any(e["action"]=="connector.secret_use" and e["actor"]=="run:'"$RUN"'" and (e["details"] if isinstance(e["details"],dict) else json.loads(e["details"])).get("step")=="call" for e in d["items"])')"

kill -TERM "$PID"; wait "$PID"; PID=""
leaks=0
while IFS= read -r form; do
  [[ -z "$form" ]] && continue
  for f in "$TMP/answers" "$TMP/serve.out" "$TMP/serve.err"; do
    if grep -qF -- "$form" "$f"; then leaks=$((leaks + 1)); echo "LEAK: '$form' in $(basename "$f")"; fi
  done
  if grep -rqaF -- "$form" "$DATA"; then leaks=$((leaks + 1)); echo "LEAK: '$form' in the data directory"; fi
done <<<"$FORMS"
check "no form of the secret anywhere" 0 "$leaks"

echo "leak_end_to_end: $pass passed, $fail failed"
[[ $fail == 0 ]]
