#!/usr/bin/env bash
# Audit forwarding end to end (ASVS V16.4.3) against the real binary: `rampart serve` with
# audit_forward pushes every audit event to a loopback collector (python3), which checks
# each batch's Standard Webhooks signature with its own copy of the secret and answers 500
# to the first two batches. The collector must end up with every event of the chain
# exactly once and in seq order (1..N, N from `rampart audit verify`), across the outage
# and a restart; one log line per failed attempt; /metrics shows the counters and lag 0;
# the secret appears in no output, log or metrics. Wrong URLs and a readable secret file
# stop the start with a clear error.
# Then audit_syslog (RFC 5424) the same way: `rampart serve` starts while its unix datagram
# socket does not exist yet (retried, one log line per attempt); once the test binds it
# (python3), a login and a failed login arrive as parseable RFC 5424 lines, in seq order
# with the right PRI, and a restart resumes without a gap or a duplicate. tls:// speaks TLS
# (a receiver that does not fails the handshake, logged and retried) and its wrong
# settings stop the start. Talks only to 127.0.0.1 and a socket in a temp dir.
set -uo pipefail
BIN="$1"
SRC="$2"
TMP=$(mktemp -d)
PID=""
UP_PID=""
source "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
trap e2e_cleanup EXIT
e2e_on_failure() { tail -5 "$TMP/serve.err"; tail -5 "$TMP/collector.log" 2>/dev/null; }

SECRET="whsec_$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
printf '%s\n' "$SECRET" >"$TMP/secret"
chmod 600 "$TMP/secret"
RAW_KEY_HEX=$(python3 -c 'import base64,sys; print(base64.b64decode(sys.argv[1][6:]).hex())' "$SECRET")

# The collector: verifies v1,base64(HMAC-SHA256(key, id.timestamp.body)) with the standard
# library only; appends the seqs of every batch it accepts (2xx) to accepted.txt, one line
# per batch; answers 500 to the first FAILS batches; 401 to a bad signature.
cat >"$TMP/collector.py" <<'PY'
import base64, hashlib, hmac, json, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer
key = base64.b64decode(open(sys.argv[1]).read().strip()[6:])
out, log, fails = sys.argv[2], sys.argv[3], [int(sys.argv[4])]
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', '0')))
        wid = self.headers.get('webhook-id', '')
        ts = self.headers.get('webhook-timestamp', '')
        want = 'v1,' + base64.b64encode(hmac.new(key, f'{wid}.{ts}.'.encode() + body, hashlib.sha256).digest()).decode()
        ok = hmac.compare_digest(want, self.headers.get('webhook-signature', '')) and abs(time.time() - int(ts or 0)) < 300
        status = 401
        if ok:
            status = 500 if fails[0] > 0 else 200
            fails[0] -= 1
        d = json.loads(body)
        seqs = [e['seq'] for e in d['events']]
        with open(log, 'a') as f:
            f.write(f'{wid} {status} {d["type"]} {len(seqs)}\n')
        if status == 200:
            with open(out, 'a') as f:
                f.write(' '.join(map(str, seqs)) + '\n')
        self.send_response(status)
        self.send_header('Content-Length', '0')
        self.end_headers()
s = HTTPServer(('127.0.0.1', 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
: >"$TMP/accepted.txt"
e2e_python_server collector "$TMP/collector.py" "$TMP/secret" "$TMP/accepted.txt" "$TMP/collector.log" 2
UP_PID=$PY_PID
UP_PORT=$PY_PORT

cat >"$TMP/config.yaml" <<EOF
egress: { allow_http: true }
audit_forward:
  url: http://127.0.0.1:$UP_PORT/audit
  secret_file: $TMP/secret
  batch: 3
  interval_ms: 50
  allow_cidrs: [127.0.0.1/32]
EOF

DATA="$TMP/data"
: >"$TMP/serve.out"
: >"$TMP/serve.err"
start() {
  : >"$TMP/serve.now"  # not the last instance's port (e2e_lib.sh, wait_for_port)
  "$BIN" serve --config "$TMP/config.yaml" --data "$DATA" --listen 127.0.0.1:0 >"$TMP/serve.now" 2>>"$TMP/serve.err" &
  PID=$!
  wait_for_port "$TMP/serve.now" "$PID"
  cat "$TMP/serve.now" >>"$TMP/serve.out"
  BASE="http://127.0.0.1:$PORT"
}
stop() { kill -TERM "$PID"; wait "$PID"; PID=""; }
failed_logins() {  # failed_logins N: N audited auth.failed events
  for _ in $(seq 1 "$1"); do
    curl -s -o /dev/null -X POST "$BASE/v1/auth/login" -H 'Content-Type: application/json' \
      --data-binary '{"email":"owner@fwd.test","password":"wrong password!"}'
  done
}
head_seq() { "$BIN" audit verify --data "$DATA" | sed -n 's/^audit chain intact: \([0-9]*\) events$/\1/p'; }
# The collector's accepted seqs, one per line.
accepted() { tr ' ' '\n' <"$TMP/accepted.txt" | sed '/^$/d'; }
wait_forwarded() {  # wait_forwarded N: until the collector accepted N events (or 30 s)
  for _ in $(seq 1 300); do
    [[ $(accepted | wc -l) -ge $1 ]] && break
    sleep 0.1
  done
}

start
check "server started with audit_forward" 1 $([[ -n "$PORT" ]] && echo 1 || echo 0)
e2e_bootstrap Fwd owner@fwd.test
failed_logins 5

# The first two batches get 500; the forwarder backs off (1 s, 2 s) and sends them again.
for _ in $(seq 1 300); do
  curl -s -o "$TMP/metrics" "$BASE/metrics" -H "Authorization: Bearer $KEY"
  grep -q '^rampart_audit_forward_lag 0$' "$TMP/metrics" && break
  sleep 0.1
done
check "metrics: lag 0 once the collector is back" 0 "$(grep -c '^rampart_audit_forward_lag 0$' "$TMP/metrics" >/dev/null; echo $?)"
check "metrics: two failed attempts" 1 "$(grep -c '^rampart_audit_forward_failures 2$' "$TMP/metrics")"
check "one log line per failed attempt" 2 "$(grep -c 'audit forwarding failed' "$TMP/serve.err")"
grep 'audit forwarding failed' "$TMP/serve.err" | head -1 | grep -q 'http_500'
check "the log line says why" 0 $?
check "the collector refused no signature" 0 "$(grep -c ' 401 ' "$TMP/collector.log")"

stop
N1=$(head_seq)
check "every event so far forwarded once, in order (1..$N1)" "$(seq 1 "$N1" | tr '\n' ' ')" "$(accepted | tr '\n' ' ')"

# Restart: events written before and after are forwarded from the stored position.
start
failed_logins 4
for _ in $(seq 1 300); do
  curl -s -o "$TMP/metrics" "$BASE/metrics" -H "Authorization: Bearer $KEY"
  grep -q '^rampart_audit_forward_lag 0$' "$TMP/metrics" && break
  sleep 0.1
done
stop
N2=$(head_seq)
check "more events after the restart" 1 "$((N2 > N1))"
check "after the restart: 1..$N2 exactly once, in order" "$(seq 1 "$N2" | tr '\n' ' ')" "$(accepted | tr '\n' ' ')"

for f in "$TMP/serve.out" "$TMP/serve.err" "$TMP/metrics"; do
  grep -qF -e "$SECRET" -e "${SECRET#whsec_}" -e "$RAW_KEY_HEX" "$f"
  rc=$?
  check "the secret is not in ${f##*/}" 1 "$rc"
done

# Refused at start, with a clear error (exit 2).
refused() {  # refused NAME PATTERN CONFIG-TEXT [ENV]
  printf '%s\n' "$3" >"$TMP/bad.yaml"
  env ${4:-} "$BIN" serve --config "$TMP/bad.yaml" --data "$TMP/data2" --listen 127.0.0.1:0 >"$TMP/out" 2>&1
  check "$1 refused" 2 $?
  grep -q "$2" "$TMP/out"
  check "$1: the error says why" 0 $?
  grep -qF "${SECRET#whsec_}" "$TMP/out"
  check "$1: the error holds no secret" 1 $?
}
refused "plain http without egress.allow_http" "refused by the egress rules" \
  "audit_forward: {url: \"http://127.0.0.1:$UP_PORT/audit\", secret_file: $TMP/secret, allow_cidrs: [127.0.0.1/32]}"
refused "a private address without allow_cidrs" "denied range" \
  "audit_forward: {url: \"https://10.20.30.40/audit\", secret_file: $TMP/secret}"
chmod 644 "$TMP/secret"
refused "a secret file others can read" "mode 0600 or 0400" \
  "audit_forward: {url: \"https://collector.example.com/audit\", secret_file: $TMP/secret}"
refused "no secret at all" "RAMPART_AUDIT_FORWARD_SECRET" \
  "audit_forward: {url: \"https://collector.example.com/audit\"}"
refused "a malformed whsec secret" "not a valid whsec" \
  "audit_forward: {url: \"https://collector.example.com/audit\"}" "RAMPART_AUDIT_FORWARD_SECRET=whsec_%%%"

# ---- audit_syslog: RFC 5424 messages to a unix datagram socket ----
: >"$TMP/serve.err"
DATA="$TMP/sdata"
SOCK="$TMP/syslog.sock"
cat >"$TMP/config.yaml" <<EOF
audit_syslog:
  address: unix:$SOCK
  facility: local4
  app_name: rampart-e2e
EOF
# The receiver: one line per datagram, as a syslog daemon on /dev/log gets them.
cat >"$TMP/syslogd.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], 'ab', buffering=0) as f:
    while True:
        f.write(s.recv(65536) + b'\n')
PY
# The SIEM side: parses every line as RFC 5424 (the SD's escapes included) and prints
# "seq pri msgid outcome ok|bad" per line, or "unparsed" for one that is not RFC 5424.
cat >"$TMP/parse5424.py" <<'PY'
import json, re, sys
line_re = re.compile(r'^<(\d{1,3})>1 (\S+) ([!-~]{1,255}) ([!-~]{1,48}) ([!-~]{1,128}) ([!-~]{1,32}) '
                     r'\[rampart@32473((?: [a-z_]+="(?:[^"\\\]]|\\["\\\]])*")*)\] (.*)$')
param_re = re.compile(r' ([a-z_]+)="((?:[^"\\\]]|\\["\\\]])*)"')
for line in open(sys.argv[1], encoding='utf-8'):
    m = line_re.match(line.rstrip('\n'))
    if not m:
        print('unparsed')
        continue
    sd = {k: re.sub(r'\\(["\\\]])', r'\1', v) for k, v in param_re.findall(m.group(7))}
    msg = json.loads(m.group(8))
    ok = m.group(4) == 'rampart-e2e' and msg['seq'] == int(sd['seq']) and len(sd['hash']) == 64
    print(sd['seq'], m.group(1), m.group(6), sd['outcome'], 'ok' if ok else 'bad')
PY
syslog_lag_zero() {  # until /metrics says rampart_audit_syslog_lag 0 (or 30 s)
  for _ in $(seq 1 300); do
    curl -s -o "$TMP/metrics" "$BASE/metrics" -H "Authorization: Bearer $KEY"
    grep -q '^rampart_audit_syslog_lag 0$' "$TMP/metrics" && break
    sleep 0.1
  done
}
received() { python3 "$TMP/parse5424.py" "$TMP/syslog.txt"; }
failed_login() {
  curl -s -o /dev/null -X POST "$BASE/v1/auth/login" -H 'Content-Type: application/json' \
    --data-binary '{"email":"owner@sys.test","password":"wrong password!"}'
}

start  # the socket does not exist yet
check "serve starts while the syslog socket is missing" 1 $([[ -n "$PORT" ]] && echo 1 || echo 0)
e2e_bootstrap Sys owner@sys.test
failed_login
for _ in $(seq 1 100); do grep -q 'audit syslog output failed' "$TMP/serve.err" && break; sleep 0.1; done
grep 'audit syslog output failed' "$TMP/serve.err" | head -1 | grep -q 'No such file or directory'
check "a missing socket is logged with why" 0 $?
: >"$TMP/syslog.txt"
python3 "$TMP/syslogd.py" "$SOCK" "$TMP/syslog.txt" &
ECHO_PID=$!
syslog_lag_zero
check "metrics: syslog lag 0 once the socket is there" 1 "$(grep -c '^rampart_audit_syslog_lag 0$' "$TMP/metrics")"
FAILS=$(sed -n 's/^rampart_audit_syslog_failures \([0-9]*\)$/\1/p' "$TMP/metrics")
check "one log line per failed attempt" "$FAILS" "$(grep -c 'audit syslog output failed' "$TMP/serve.err")"
stop
S1=$(head_seq)
check "every event so far in syslog once, in order (1..$S1)" "$(seq 1 "$S1" | tr '\n' ' ')" \
  "$(received | cut -d' ' -f1 | tr '\n' ' ')"
check "every line parses as RFC 5424 with its own seq in MSG" 0 "$(received | grep -vc ' ok$')"
# local4 = 20: notice (5) for the login, warning (4) for the failed one.
check "the login: local4.notice, MSGID login" 1 "$(received | grep -c '^[0-9]* 165 login success ok$')"
check "the failed login: local4.warning, MSGID auth.failed" 1 \
  "$(received | grep -c '^[0-9]* 164 auth.failed failure ok$')"

start  # restart: resumes after the last seq written
failed_login
syslog_lag_zero
stop
S2=$(head_seq)
check "more events after the restart" 1 "$((S2 > S1))"
check "after the restart: 1..$S2 exactly once, in order" "$(seq 1 "$S2" | tr '\n' ' ')" \
  "$(received | cut -d' ' -f1 | tr '\n' ' ')"
refused "a relative syslog socket path" "must be absolute" "audit_syslog: {address: \"unix:dev/log\"}"
refused "a syslog host name" "literal IP" "audit_syslog: {address: \"udp://syslog.example.com:514\"}"
refused "a private syslog address without allow_cidrs" "audit_syslog.allow_cidrs" \
  "audit_syslog: {address: \"tcp://10.20.30.40:514\"}"

# ---- audit_syslog over tls:// (RFC 5425) ----
# A plain TCP listener stands in for a receiver without a certificate we trust: serve sends
# it a TLS ClientHello (never a clear-text syslog frame), the handshake fails, and that is
# logged with why and retried like a refused connection.
kill "$ECHO_PID" 2>/dev/null
wait "$ECHO_PID" 2>/dev/null
cat >"$TMP/plain.py" <<'PY'
import socket, sys
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
with open(sys.argv[1], 'ab', buffering=0) as f:
    while True:
        c, _ = s.accept()
        c.settimeout(2)
        try:
            f.write(c.recv(65536))
        except OSError:
            pass
        c.close()
PY
: >"$TMP/plain.bin"
e2e_python_server plain "$TMP/plain.py" "$TMP/plain.bin"
ECHO_PID=$PY_PID
TLS_PORT=$PY_PORT
DATA="$TMP/tdata"
cat >"$TMP/config.yaml" <<EOF
audit_syslog:
  address: tls://127.0.0.1:$TLS_PORT
EOF
: >"$TMP/serve.err"
start
failed_login  # an event to send
for _ in $(seq 1 100); do grep -q 'audit syslog output failed' "$TMP/serve.err" && break; sleep 0.1; done
stop
grep 'audit syslog output failed' "$TMP/serve.err" | head -1 |
  grep -q "syslog TLS handshake with tls://127.0.0.1:$TLS_PORT failed"
check "tls://: a receiver that is not TLS fails the handshake, logged with why" 0 $?
check "tls://: it got a TLS handshake record first" 16 "$(od -An -tx1 -N1 "$TMP/plain.bin" | tr -d ' ')"
check "tls://: no clear-text syslog frame left the process" 0 "$(grep -c 'rampart@32473' "$TMP/plain.bin")"
kill "$ECHO_PID" 2>/dev/null
refused "tls-only keys on a tcp:// address" "audit_syslog.ca_file is only for a tls:// address" \
  "audit_syslog: {address: \"tcp://127.0.0.1:514\", ca_file: $TMP/secret}"
refused "a missing syslog ca_file" "audit_syslog.ca_file: " \
  "audit_syslog: {address: \"tls://127.0.0.1:6514\", ca_file: $TMP/missing.pem}"
refused "a syslog ca_file without a certificate" "no PEM certificate in it" \
  "audit_syslog: {address: \"tls://127.0.0.1:6514\", ca_file: $TMP/config.yaml}"
refused "a syslog cert_file without key_file" "cert_file needs key_file" \
  "audit_syslog: {address: \"tls://127.0.0.1:6514\", cert_file: $TMP/config.yaml}"

summary audit_forward_end_to_end
