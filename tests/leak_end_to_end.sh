#!/usr/bin/env bash
# The secret leak suite against a real server (spec/security.md section 1): a connector's
# token is sent by `http.request` to a loopback upstream that echoes it back (in JSON, in
# base64, hex and URL-encoded forms, in headers, and in an error body); neither the raw
# token nor any of those forms may appear in the run record, any API answer, the server's
# logs, or any byte of the data directory. The run's outbound execution hooks are the
# same kind of exit: their payloads (received by the loopback upstream) carry the redacted
# output only, are signed as Standard Webhooks, and a failing endpoint is retried on the
# schedule of the config's `hooks.retry_schedule`, every attempt listed by the API.
# Adversarial reflections (a workflow author probing for the token): upper-case hex,
# unpadded base64, base64url, lower-case %xx, quote_plus, `\/` escapes, glued to other
# text, in the ETag, Location and Set-Cookie headers and the status text; halves of the
# token joined by an expression are caught once joined (set, log, respond, output, hook
# payload). An `api_key` connector in the query string: an error answer, a timeout, a
# redirect to a denied address and an oversized body name no part of the URL's key.
# Then the policy `block` (config `redaction: block`), under `serve` and `rampart run`.
# Talks only to 127.0.0.1.
set -uo pipefail
BIN="$1"
SRC="$2"
TMP=$(mktemp -d)
PID=""
ECHO_PID=""
source "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
trap e2e_cleanup EXIT

SECRET="LeakSuite/+:@%!-$(date +%s%N)-Tok"
# Every form the redactor promises to catch.
FORMS=$(python3 - "$SECRET" <<'PY'
import base64, sys, urllib.parse, json
s = sys.argv[1]
b = s.encode()
for f in [s, base64.b64encode(b).decode(), base64.urlsafe_b64encode(b).decode().rstrip('='),
          base64.b64encode(b).decode().rstrip('='), base64.urlsafe_b64encode(b).decode(),
          b.hex(), b.hex().upper(), urllib.parse.quote(s, safe=''),
          ''.join('%%%02x' % c if not (chr(c).isalnum() or chr(c) in '-._~') else chr(c) for c in b),
          urllib.parse.quote_plus(s), json.dumps(s)[1:-1], json.dumps(s)[1:-1].replace('/', '\\/')]:
    print(f)
PY
)

# The upstream: echoes the Authorization header it received, in several encodings.
cat >"$TMP/echo.py" <<'PY'
import base64, json, sys, time, urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        auth = self.headers.get('Authorization', '')
        tok = auth.split(' ', 1)[1] if ' ' in auth else auth
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        if 'k' in query: tok = query['k'][0]  # the api_key connector's query parameter
        if self.path.startswith('/slow'): time.sleep(3)
        b = tok.encode()
        body = json.dumps({'you_sent': auth, 'b64': base64.b64encode(b).decode(),
                           'hex': b.hex(), 'url': urllib.parse.quote(tok, safe=''),
                           'nested': [{tok: 'as a key'}], 'HEX': b.hex().upper(),
                           'b64np': base64.b64encode(b).decode().rstrip('='),
                           'b64url': base64.urlsafe_b64encode(b).decode(),
                           'urllow': ''.join('%%%02x' % c if not (chr(c).isalnum() or chr(c) in '-._~') else chr(c) for c in b),
                           'plus': urllib.parse.quote_plus(tok), 'glued': 'xx' + tok + 'yy',
                           'half1': tok[:len(tok) // 2], 'half2': tok[len(tok) // 2:]})
        body = body.replace('/', '\\/').encode()  # \/ escapes, as some encoders write
        if self.path.startswith('/big'): body = b'x' * 4096
        status = 500 if self.path.startswith('/fail') else 200
        if self.path.startswith('/deny'): status = 302
        self.send_response(status, 'Bad ' + urllib.parse.quote(tok, safe=''))
        self.send_header('Content-Type', 'application/json')
        self.send_header('X-Echo', tok)
        self.send_header('ETag', '"' + urllib.parse.quote(tok, safe='') + '"')
        self.send_header('Set-Cookie', 's=' + urllib.parse.quote(tok, safe=''))
        self.send_header('Location', ('http://10.1.2.3:%d/?k=' % self.server.server_address[1]
                                      if self.path.startswith('/deny') else '/next?t=')
                         + urllib.parse.quote(tok, safe=''))
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:  # /slow and /big: the client is gone
            pass
    def do_POST(self):  # an execution hook delivery: recorded, 500 on /hookfail
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        with open(sys.argv[1], 'a') as f:
            f.write(json.dumps({'path': self.path, 'headers': {k.lower(): v for k, v in self.headers.items()},
                                'body': body.decode()}) + '\n')
        self.send_response(500 if self.path.startswith('/hookfail') else 204)
        self.send_header('Content-Length', '0')
        self.end_headers()
s = HTTPServer(('127.0.0.1', 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
e2e_python_server echo "$TMP/echo.py" "$TMP/deliveries.jsonl"
ECHO_PID=$PY_PID
ECHO_PORT=$PY_PORT

cat >"$TMP/config.yaml" <<EOF
egress:
  allow_http: true
  allow_cidrs: ["127.0.0.1/32"]
  allow_ports: [$ECHO_PORT]
hooks:
  retry_schedule: [1, 1]
EOF
DATA="$TMP/data"
"$BIN" serve --config "$TMP/config.yaml" --data "$DATA" --listen 127.0.0.1:0 >"$TMP/serve.out" 2>"$TMP/serve.err" &
PID=$!
wait_for_port "$TMP/serve.out" "$PID"
BASE="http://127.0.0.1:$PORT"
check "server started" 1 $([[ -n "$PORT" ]] && echo 1 || echo 0)

e2e_bootstrap Leak o@leak.test
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

# Execution hooks of a run whose output holds what the upstream echoed of the secret.
HOOK_SECRET="whsec_$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
check "create hook signing connector" 201 "$(api POST /v1/orgs/$ORG/connectors "{\"id\":\"hooksig\",\"type\":\"webhook_secret\",\"secrets\":{\"secret\":\"$HOOK_SECRET\"}}")"
cat >"$TMP/hooked.yaml" <<EOF
rampart: 1
id: hooked
hooks:
  - { url: "http://127.0.0.1:$ECHO_PORT/hook", events: [run.succeeded], secret: hooksig }
  - { url: "http://127.0.0.1:$ECHO_PORT/hookfail", events: [run.succeeded], secret: hooksig }
steps:
  - id: call
    type: action
    uses: http.request
    connector: acme
    with: { method: GET, url: "http://127.0.0.1:$ECHO_PORT/echo", allow_http: true }
  - id: joined
    type: set
    values: { v: "{{ steps.call.output.json.half1 }}{{ steps.call.output.json.half2 }}" }
  - id: say
    type: action
    uses: log.write
    with: { level: info, message: "joined {{ steps.joined.output.v }}" }
  - { id: answer, type: respond, status: 200, body: { v: "{{ steps.joined.output.v }}" } }
output: { echoed: "{{ steps.call.output.json }}", joined: "{{ steps.joined.output.v }}" }
EOF
check "create hooked workflow" 201 "$(api POST /v1/orgs/$ORG/workflows "$(cat "$TMP/hooked.yaml")" application/yaml)"
check "publish hooked" 200 "$(api POST /v1/orgs/$ORG/workflows/hooked/publish '{"version":1}')"
check "run hooked" 200 "$(api POST /v1/orgs/$ORG/workflows/hooked/runs '{"input":{},"wait":10}')"
cp "$TMP/body" "$TMP/hooked.json"
HOOKED=$(json "$TMP/body" 'd["run_id"]')
# 1 delivery to /hook; 3 attempts (1 + the 2 configured retries, 1 s apart) to /hookfail.
status=""
for _ in $(seq 1 150); do
  api GET "/v1/orgs/$ORG/runs/$HOOKED/hooks" >/dev/null
  status=$(json "$TMP/body" '",".join(sorted(i["status"] + ":" + str(i["attempts"]) for i in d["items"]))')
  [[ "$status" == "delivered:1,failed:3" ]] && break
  sleep 0.1
done
check "hook deliveries: one delivered, one failed after the configured retries" "delivered:1,failed:3" "$status"
check "every attempt of the failing endpoint is listed" "[500, 500, 500]" \
  "$(json "$TMP/body" '[a["status_code"] for i in d["items"] if i["status"] == "failed" for a in i["attempt_log"]]')"
cp "$TMP/deliveries.jsonl" "$TMP/answers.hooks"
check "hook payloads: Standard Webhooks signature, spec shape, redacted output" "ok" "$(python3 - "$TMP/deliveries.jsonl" "$HOOK_SECRET" "$HOOKED" <<'PY'
import base64, hashlib, hmac, json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
key = base64.b64decode(sys.argv[2][len('whsec_'):])
bad = []
if len([l for l in lines if l['path'] == '/hook']) != 1: bad.append('one delivery to /hook')
if len([l for l in lines if l['path'] == '/hookfail']) != 3: bad.append('three attempts to /hookfail')
if len({l['headers']['webhook-id'] for l in lines if l['path'] == '/hookfail'}) != 1: bad.append('same webhook-id')
for l in lines:
    h = l['headers']
    signed = (h['webhook-id'] + '.' + h['webhook-timestamp'] + '.' + l['body']).encode()
    want = 'v1,' + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    if want not in h['webhook-signature'].split(' '): bad.append('signature')
    p = json.loads(l['body'])
    if sorted(p) != ['data', 'timestamp', 'type'] or p['type'] != 'run.succeeded': bad.append('shape')
    if sorted(p['data']) != ['output', 'run_id', 'status', 'workflow']: bad.append('data keys')
    if p['data']['run_id'] != sys.argv[3] or p['data']['workflow'] != 'hooked': bad.append('ids')
    if '***REDACTED***' not in json.dumps(p['data']['output']): bad.append('redacted output')
print('ok' if not bad else ' '.join(sorted(set(bad))))
PY
)"

check "joined halves: redacted in the respond step's body" "***REDACTED***" \
  "$(json "$TMP/hooked.json" '[s["output"]["body"]["v"] for s in d["steps"] if s["id"]=="answer"][0]')"
api GET "/v1/orgs/$ORG/runs/$HOOKED" >/dev/null
check "joined halves: redacted in the set step and the output" "***REDACTED*** ***REDACTED***" \
  "$(json "$TMP/body" '[s["output"]["v"] for s in d["steps"] if s["id"]=="joined"][0] + " " + d["output"]["joined"]')"

# An api_key connector puts the key in the query string; no failure names the URL.
check "create query api_key connector" 201 "$(api POST /v1/orgs/$ORG/connectors "{\"id\":\"qk\",\"type\":\"api_key\",\"options\":{\"in\":\"query\",\"name\":\"k\"},\"secrets\":{\"key\":\"$SECRET\"}}")"
for p in fail slow deny big; do
  cat >"$TMP/q$p.yaml" <<EOF
rampart: 1
id: q$p
steps:
  - id: call
    type: action
    uses: http.request
    connector: qk
    timeout: 1
    with: { method: GET, url: "http://127.0.0.1:$ECHO_PORT/$p", allow_http: true, fail_on_status: true, max_response_bytes: 1024 }
EOF
  check "create q$p" 201 "$(api POST /v1/orgs/$ORG/workflows "$(cat "$TMP/q$p.yaml")" application/yaml)"
  check "publish q$p" 200 "$(api POST /v1/orgs/$ORG/workflows/q$p/publish '{"version":1}')"
  check "run q$p" 200 "$(api POST /v1/orgs/$ORG/workflows/q$p/runs '{"input":{},"wait":10}')"
  check "q$p failed at the call" "failed call" "$(json "$TMP/body" 'd["status"] + " " + d["error"]["step"]')"
done
check "audit after the probes" 200 "$(api GET "/v1/orgs/$ORG/audit?limit=500")"

kill -TERM "$PID"; wait "$PID"; PID=""
leaks=0
while IFS= read -r form; do
  [[ -z "$form" ]] && continue
  for f in "$TMP/answers" "$TMP/answers.hooks" "$TMP/serve.out" "$TMP/serve.err"; do
    if grep -qF -- "$form" "$f"; then leaks=$((leaks + 1)); echo "LEAK: '$form' in $(basename "$f")"; fi
  done
  if grep -rqaF -- "$form" "$DATA"; then leaks=$((leaks + 1)); echo "LEAK: '$form' in the data directory"; fi
done <<<"$FORMS"
check "no form of the secret anywhere" 0 "$leaks"

# Policy `block` (config `redaction: block`, spec/security.md 1): a step whose output holds
# the secret fails with secret_exposure and the audit gets secret_exposure_attempt; the
# default (`redact`) replaces it. `rampart run` reads the same key.
cat >"$TMP/block.yaml" <<EOF
egress:
  allow_http: true
  allow_cidrs: ["127.0.0.1/32"]
  allow_ports: [$ECHO_PORT]
redaction: block
EOF
: >"$TMP/serve.out"
"$BIN" serve --config "$TMP/block.yaml" --data "$DATA" --listen 127.0.0.1:0 >"$TMP/serve.out" 2>"$TMP/serve2.err" &
PID=$!
wait_for_port "$TMP/serve.out" "$PID"
BASE="http://127.0.0.1:$PORT"
check "server restarted with redaction: block" 1 $([[ -n "$PORT" ]] && echo 1 || echo 0)
check "run under block" 200 "$(api POST /v1/orgs/$ORG/workflows/leaky/runs '{"input":{},"wait":10}')"
cp "$TMP/body" "$TMP/blocked.json"
check "block: the run failed at the call step" "failed call" "$(json "$TMP/blocked.json" 'd["status"] + " " + d["error"]["step"]')"
check "block: the call step failed with secret_exposure" "failed secret_exposure" \
  "$(json "$TMP/blocked.json" '[s["status"] + " " + s["error"]["code"] for s in d["steps"] if s["id"]=="call"][0]')"
check "block: the output of the call is not in the record" None \
  "$(json "$TMP/blocked.json" '[s.get("output") for s in d["steps"] if s["id"]=="call"][0]')"
BLOCKED=$(json "$TMP/blocked.json" 'd["run_id"]')
check "audit under block" 200 "$(api GET "/v1/orgs/$ORG/audit?limit=500")"
check "block: secret_exposure_attempt audited for the run and the step" True \
  "$(json "$TMP/body" 'any(e["action"]=="secret_exposure_attempt" and e["actor"]=="run:'"$BLOCKED"'" and e["target"]=="call" for e in d["items"])')"
kill -TERM "$PID"; wait "$PID"; PID=""

# The same two policies for a local run (--connectors / --secrets-file).
printf '[{"id": "acme", "type": "bearer", "options": {"base_url": "https://api.acme.test"}}]\n' >"$TMP/connectors.json"
printf '{"acme": {"token": "%s"}}\n' "$SECRET" >"$TMP/secrets.json"
chmod 600 "$TMP/secrets.json"
grep -v '^redaction:' "$TMP/block.yaml" >"$TMP/redact.yaml"
"$BIN" run "$TMP/wf.yaml" --json --config "$TMP/redact.yaml" --data "$TMP/local" \
  --connectors "$TMP/connectors.json" --secrets-file "$TMP/secrets.json" >"$TMP/local-redact.json" 2>"$TMP/local-redact.err"
check "local run, redact: the call succeeded, its output redacted" "succeeded True" \
  "$(json "$TMP/local-redact.json" '[s["status"] + " " + str("***REDACTED***" in json.dumps(s["output"])) for s in d["steps"] if s["id"]=="call"][0]')"
"$BIN" run "$TMP/wf.yaml" --json --config "$TMP/block.yaml" --data "$TMP/local" \
  --connectors "$TMP/connectors.json" --secrets-file "$TMP/secrets.json" >"$TMP/local-block.json" 2>"$TMP/local-block.err"
check "local run, block: exit 1" 1 $?
check "local run, block: the call step failed with secret_exposure" "failed secret_exposure" \
  "$(json "$TMP/local-block.json" '[s["status"] + " " + s["error"]["code"] for s in d["steps"] if s["id"]=="call"][0]')"
leaks=0
while IFS= read -r form; do
  [[ -z "$form" ]] && continue
  for f in "$TMP/blocked.json" "$TMP/body" "$TMP/serve2.err" "$TMP/local-redact.json" "$TMP/local-redact.err" \
           "$TMP/local-block.json" "$TMP/local-block.err"; do
    if grep -qF -- "$form" "$f"; then leaks=$((leaks + 1)); echo "LEAK: '$form' in $(basename "$f")"; fi
  done
done <<<"$FORMS"
check "no form of the secret under either policy" 0 "$leaks"

summary leak_end_to_end
