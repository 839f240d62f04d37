#!/usr/bin/env bash
# kill -9 under a mixed load, every durability promise checked after the restart. One
# `rampart serve` gets, all at once: API runs with and without `wait` of a workflow whose
# http.request step posts to a loopback receiver (which records every request with the
# run's id), signed Standard Webhooks deliveries to that workflow's trigger, runs that stop
# at an approval, and outbound execution hooks (run.succeeded, run.failed) posting to the
# receiver. At a random moment the server is killed with SIGKILL and restarted on the same
# data directory; then, for every run the client got an id for and every run in the store:
#   - it is stored (accepted means committed) and ends final once the server settled:
#     succeeded, or failed `interrupted` when it was running at the kill; none `running`;
#   - its side effects were seen at most once per step (never run twice: a running run is
#     failed, not re-executed; a run resumed after its approval replays, not repeats, the
#     step before the gate), unless its record shows the step attempted more than once,
#     and exactly once for a step its record shows succeeded; the receiver saw no request
#     of a run that is not stored;
#   - it produced at least one execution hook delivery of its final status (the dispatcher
#     survives restarts; the config's retry schedule is short);
#   - every delivery id accepted (in this round or an earlier one) is refused 409 when
#     replayed after the restart, and a delivery whose answer the kill cut is either
#     refused 409 because its run is stored, or accepted now (never lost, never twice);
#   - `rampart audit verify` exits 0 and the org's GET /runs lists exactly the stored runs.
# CHAOS_ROUNDS=N (default 3) repeats kill and restart. Talks only to 127.0.0.1.
set -uo pipefail
BIN="$1"
SRC="$2"
ROUNDS="${CHAOS_ROUNDS:-3}"
TMP=$(mktemp -d)
PID=""
UP_PID=""
ECHO_PID=""
source "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
trap e2e_cleanup EXIT
e2e_on_failure() { e2e_report_dead_server; }

# The receiver, the load and the checks (python3, standard library only).
cat >"$TMP/chaos.py" <<'PY'
import base64, hashlib, hmac, json, os, random, sqlite3, sys, threading, time
import urllib.error, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

def call(method, url, body=None, headers=None, timeout=20):
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers
    except Exception as e:  # the kill: reset, refused, timed out
        return 0, str(e).encode(), {}

def parse(b):
    try:
        return json.loads(b)
    except Exception:
        return {}

def sign(secret, msg_id, ts, body):
    key = base64.b64decode(secret[len('whsec_'):])
    mac = hmac.new(key, f'{msg_id}.{ts}.{body}'.encode(), hashlib.sha256).digest()
    return 'v1,' + base64.b64encode(mac).decode()

def receiver(log_path):
    # Records every request as it arrives (the side effect happened even if the server
    # dies before the answer), then answers; an effect waits a little so runs are
    # caught running by the kill.
    lock = threading.Lock()
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a): pass
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get('Content-Length', 0))).decode()
            rec = {'path': self.path, 'run': self.headers.get('X-Run-Id', ''), 'body': body,
                   'webhook_id': self.headers.get('webhook-id', ''), 't': time.time()}
            with lock, open(log_path, 'a') as f:
                f.write(json.dumps(rec) + '\n')
            if self.path.startswith('/hook'):
                self.send_response(204)
                self.send_header('Content-Length', '0')
                self.end_headers()
                return
            time.sleep(random.uniform(0, 0.3))
            out = b'{"ok":true}'
            try:
                self.send_response(200)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(out)))
                self.end_headers()
                self.wfile.write(out)
            except OSError:  # the server was killed while it waited for this answer
                pass
    s = ThreadingHTTPServer(('127.0.0.1', 0), H)
    s.daemon_threads = True
    print(s.server_address[1], flush=True)
    s.serve_forever()

def login(base, email, password):  # -> (status, headers for a session's write)
    code, b, hdrs = call('POST', f'{base}/v1/auth/login',
                         json.dumps({'email': email, 'password': password}),
                         {'Content-Type': 'application/json'})
    cookie = '; '.join(c.split(';')[0] for c in (hdrs.get_all('Set-Cookie') or [])) if code == 200 else ''
    return code, {'Cookie': cookie, 'X-CSRF-Token': parse(b).get('csrf_token', ''),
                  'Content-Type': 'application/json'}

def approve(base, org, session, run_id):
    code, b, _ = call('POST', f'{base}/v1/orgs/{org}/runs/{run_id}/approvals',
                      '{"step":"sign_off","decision":"approve"}', session)
    return code, b

def load(base, key, org, hook_path, whsec, round_no, out_path, stop_path, approver, password):
    # Mixed load until stop_path exists; one line per request once it ended (code 0 when
    # the kill cut it).
    lock = threading.Lock()
    out = open(out_path, 'a')
    def emit(rec):
        rec['round'] = round_no
        with lock:
            out.write(json.dumps(rec) + '\n')
            out.flush()
    auth = {'Authorization': 'Bearer ' + key, 'Content-Type': 'application/json'}
    def api_runs(kind, workflow, body):
        while not os.path.exists(stop_path):
            code, b, _ = call('POST', f'{base}/v1/orgs/{org}/workflows/{workflow}/runs', body, auth)
            emit({'kind': kind, 'code': code, 'run_id': parse(b).get('run_id', '')})
            time.sleep(random.uniform(0.02, 0.1))
    def deliveries():
        n = 0
        while not os.path.exists(stop_path):
            n += 1
            msg_id = f'msg_{round_no}_{n}_{random.getrandbits(32):08x}'
            ts = str(int(time.time()))
            body = json.dumps({'round': round_no, 'n': n})
            headers = {'Content-Type': 'application/json', 'webhook-id': msg_id,
                       'webhook-timestamp': ts, 'webhook-signature': sign(whsec, msg_id, ts, body)}
            code, b, _ = call('POST', base + hook_path, body, headers)
            emit({'kind': 'hook', 'code': code, 'run_id': parse(b).get('run_id', ''),
                  'delivery_id': msg_id, 'headers': headers, 'body': body})
            time.sleep(random.uniform(0.02, 0.1))
    def approvals():  # some gated runs resume (and are killed) while the load goes on
        code, session = login(base, approver, password)
        while code == 200 and not os.path.exists(stop_path):
            c, b, _ = call('GET', f'{base}/v1/orgs/{org}/runs?status=awaiting_approval&limit=5', None, auth)
            for run in parse(b).get('items', [])[:random.randint(0, 3)]:
                c, _ = approve(base, org, session, run['run_id'])
                emit({'kind': 'approval', 'code': c, 'run_id': run['run_id']})
            time.sleep(random.uniform(0.1, 0.3))
    threads = [threading.Thread(target=approvals),
               threading.Thread(target=api_runs, args=('api', 'effect', '{"input":{}}')),
               threading.Thread(target=api_runs, args=('api_wait', 'effect', '{"input":{},"wait":10}')),
               threading.Thread(target=api_runs, args=('api_wait', 'effect', '{"input":{},"wait":10}')),
               threading.Thread(target=api_runs, args=('gated', 'gated', '{"input":{}}')),
               threading.Thread(target=deliveries), threading.Thread(target=deliveries)]
    for t in threads: t.start()
    for t in threads: t.join()

def records(path):
    if not os.path.exists(path): return []
    return [json.loads(l) for l in open(path) if l.strip()]

class Api:
    def __init__(self, base, key, org):
        self.base, self.org = base, org
        self.h = {'Authorization': 'Bearer ' + key}
    def get(self, path):
        code, b, _ = call('GET', f'{self.base}/v1/orgs/{self.org}{path}', None, self.h)
        return code, parse(b)
    def list_runs(self, query=''):
        items, cursor = [], ''
        while True:
            sep = '&' if query else ''
            code, d = self.get(f'/runs?limit=100{sep}{query}' + (f'&cursor={cursor}' if cursor else ''))
            if code != 200: raise SystemExit(f'list runs: {code} {d}')
            items += d.get('items', [])
            cursor = d.get('next_cursor') or ''
            if not cursor: return items

def checks(base, key, org, data, tmp, round_no, approver_email, approver_password):
    api = Api(base, key, org)
    out = []
    def check(name, want, got):
        out.append((name, str(want), str(got)))
    def note(msg):
        print('NOTE\x1f' + msg, flush=True)
    load_recs = records(f'{tmp}/load.jsonl')
    for kind in ('api', 'api_wait', 'hook', 'gated'):
        check('round %d: the load had %s requests accepted' % (round_no, kind), True,
              any(r['kind'] == kind and r['round'] == round_no and r['code'] in (200, 202) for r in load_recs))
    retried_path = f'{tmp}/retried.jsonl'

    # 1. Replays: every delivery accepted so far is refused (409), also after this restart;
    # a delivery whose answer the kill cut is sent again as its sender would: 409 only
    # when a stored run carries its delivery id, else 202 and a new run.
    replay_bad, replayed = [], 0
    accepted_deliveries = [r for r in load_recs if r['kind'] == 'hook' and r['code'] == 202]
    accepted_deliveries += [r for r in records(retried_path) if r['code'] == 202]
    for r in accepted_deliveries:
        code, b, _ = call('POST', base + HOOK_PATH, r['body'], r['headers'])
        replayed += 1
        if code != 409: replay_bad.append(f"{r['delivery_id']}: {code}")
    check('round %d: every accepted delivery id replayed after the restart is 409 (%d)' % (round_no, replayed),
          '', ' '.join(replay_bad[:5]))
    cut = [r for r in load_recs if r['kind'] == 'hook' and r['round'] == round_no and r['code'] not in (202, 400, 429)]
    cut_409 = []
    with open(retried_path, 'a') as f:
        for r in cut:
            code, b, _ = call('POST', base + HOOK_PATH, r['body'], r['headers'])
            rec = {'kind': 'hook', 'code': code, 'run_id': parse(b).get('run_id', ''),
                   'delivery_id': r['delivery_id'], 'headers': r['headers'], 'body': r['body'],
                   'round': round_no, 'retry_of': r['code']}
            f.write(json.dumps(rec) + '\n')
            if code == 409: cut_409.append(r['delivery_id'])
            elif code != 202: replay_bad.append(f"retry {r['delivery_id']}: {code}")
    check('round %d: deliveries cut by the kill, sent again, are 202 or 409 (%d)' % (round_no, len(cut)),
          '', ' '.join(replay_bad[:5]))

    # 2. Settle: approve every waiting gated run (a second owner: never the initiator),
    # until nothing is queued, running or waiting.
    code, session = login(base, approver_email, approver_password)
    check('round %d: the approver logs in' % round_no, 200, code)
    approve_bad = []
    deadline = time.time() + 45
    pending = None
    while time.time() < deadline:
        waiting = api.list_runs('status=awaiting_approval')
        for run in waiting:
            code, b = approve(base, org, session, run['run_id'])
            if code != 200: approve_bad.append(f"{run['run_id']}: {code} {b[:100]!r}")
        pending = [r for s in ('queued', 'running', 'awaiting_approval') for r in api.list_runs('status=' + s)]
        if not pending: break
        time.sleep(0.3)
    check('round %d: every waiting run approved' % round_no, '', ' '.join(approve_bad[:3]))
    check('round %d: nothing queued, running or waiting once settled' % round_no, 0, len(pending or []))

    # 3. Every run: the client's ids and the store's, each record read.
    listed = api.list_runs()
    listed_ids = [r['run_id'] for r in listed]
    known = {}
    for r in load_recs + records(retried_path):
        if r['code'] in (200, 202) and r.get('run_id'):
            known[r['run_id']] = r
    recs, missing = {}, []
    for rid in sorted(set(listed_ids) | set(known)):
        code, d = api.get('/runs/' + rid)
        if code == 200: recs[rid] = d
        else: missing.append(f'{rid}: {code}')
    check('round %d: every run the client got an id for is stored (%d ids)' % (round_no, len(known)),
          '', ' '.join(missing[:5]))
    bad_final, interrupted = [], 0
    for rid, d in recs.items():
        st = d.get('status')
        err = (d.get('error') or {}).get('code')
        if st == 'failed' and err == 'interrupted': interrupted += 1
        elif st != 'succeeded': bad_final.append(f'{rid}: {st} {err}')
    note('round %d: %d runs stored, %d failed interrupted, %d cut deliveries (%d of them stored before the kill)'
         % (round_no, len(recs), interrupted, len(cut), len(cut_409)))
    check('round %d: every run succeeded or failed interrupted' % round_no, '', ' '.join(bad_final[:5]))
    check('round %d: GET /runs lists no run twice' % round_no, len(set(listed_ids)), len(listed_ids))
    # The store itself, read-only beside the server: the run ids and their triggers (the
    # run record of the API does not show the trigger).
    db = sqlite3.connect(f'file:{data}/rampart.db?mode=ro', uri=True, timeout=10)
    triggers = {r[0]: parse(r[1]) for r in db.execute(
        'SELECT id, trigger_json FROM runs WHERE org_id = ?', (org,))}
    db.close()
    stored = set(triggers)
    check("round %d: GET /runs lists exactly the org's stored runs" % round_no,
          len(stored), len(set(listed_ids) & stored) if set(listed_ids) <= stored else -1)
    # A delivery refused after the kill as already seen has its run stored.
    by_delivery = {t.get('delivery_id'): rid for rid, t in triggers.items()}
    lost = [i for i in cut_409 if i not in by_delivery]
    check('round %d: a cut delivery refused 409 has its run stored' % round_no, '', ' '.join(lost[:5]))
    dup = {}
    for rid, t in triggers.items():
        if t.get('delivery_id'): dup.setdefault(t['delivery_id'], []).append(rid)
    check('round %d: no delivery id started two runs' % round_no, '',
          ' '.join(i for i, v in dup.items() if len(v) > 1))

    # 4. Side effects: per run and step, what the receiver saw vs the record.
    seen = {}
    for r in records(f'{tmp}/receiver.jsonl'):
        if r['path'].startswith('/hook'): continue
        seen.setdefault((r['run'], r['path']), 0)
        seen[(r['run'], r['path'])] += 1
    step_path = {'call': '/effect', 'before': '/before', 'after': '/after'}
    effect_bad = []
    for (rid, path), n in seen.items():
        d = recs.get(rid)
        if d is None:
            effect_bad.append(f'{rid}{path}: {n} from a run not stored')
            continue
        steps = [s for s in d.get('steps', []) if step_path.get(s.get('id')) == path]
        attempts = sum(max(1, s.get('attempts') or 1) for s in steps)
        if n > max(1, attempts): effect_bad.append(f'{rid}{path}: {n} requests, {attempts} attempts')
    for rid, d in recs.items():
        for s in d.get('steps', []):
            p = step_path.get(s.get('id'))
            if p and s.get('status') == 'succeeded' and seen.get((rid, p), 0) < 1:
                effect_bad.append(f'{rid}{p}: succeeded but never seen')
    note('round %d: %d side-effect requests seen by the receiver for %d runs'
         % (round_no, sum(seen.values()), len({k[0] for k in seen})))
    check('round %d: side effects at most once per step attempt, once per succeeded step' % round_no,
          '', ' '.join(effect_bad[:5]))

    # 5. Execution hooks: each final run's run.<status> delivered at least once.
    deadline = time.time() + 20
    while True:
        got = set()
        for r in records(f'{tmp}/receiver.jsonl'):
            if r['path'].startswith('/hook'):
                p = parse(r['body'])
                got.add((p.get('data', {}).get('run_id'), p.get('type')))
        undelivered = [rid for rid, d in recs.items() if (rid, 'run.' + d.get('status', '')) not in got]
        if not undelivered or time.time() > deadline: break
        time.sleep(0.3)
    # At least once: a delivery whose attempt was not recorded before the kill is sent
    # again (counted, not a failure).
    hook_count = {}
    for r in records(f'{tmp}/receiver.jsonl'):
        if r['path'].startswith('/hook'):
            p = parse(r['body'])
            k = (p.get('data', {}).get('run_id'), r['webhook_id'])
            hook_count[k] = hook_count.get(k, 0) + 1
    interrupted_seen = sum(1 for rid, d in recs.items()
                           if (d.get('error') or {}).get('code') == 'interrupted'
                           and any(k[0] == rid for k in seen))
    note('round %d: %d hook deliveries sent more than once; %d of %d interrupted runs had sent a side effect'
         % (round_no, sum(1 for n in hook_count.values() if n > 1), interrupted_seen, interrupted))
    for rid in undelivered[:3]:
        code, d = api.get(f'/runs/{rid}/hooks')
        note(f'undelivered {rid} ({recs[rid].get("status")}): hooks {code} {json.dumps(d)[:400]}')
    check('round %d: every final run delivered its run.<status> hook' % round_no, '',
          ' '.join(undelivered[:5]))

    for name, want, got in out:
        print('CHECK\x1f%s\x1f%s\x1f%s' % (name, want, got), flush=True)
    print('DONE', flush=True)

HOOK_PATH = os.environ.get('CHAOS_HOOK_PATH', '')
if __name__ == '__main__':
    cmd = sys.argv[1]
    if cmd == 'receiver': receiver(sys.argv[2])
    elif cmd == 'load': load(*sys.argv[2:7], int(sys.argv[7]), *sys.argv[8:12])
    elif cmd == 'check': checks(*sys.argv[2:7], int(sys.argv[7]), *sys.argv[8:10])
PY

e2e_python_server receiver "$TMP/chaos.py" receiver "$TMP/receiver.jsonl"
ECHO_PID=$PY_PID
RP=$PY_PORT
check "receiver started" 1 "$([[ -n "$RP" ]] && echo 1 || echo 0)"

cat >"$TMP/config.yaml" <<EOF
egress:
  allow_http: true
  allow_cidrs: ["127.0.0.1/32"]
  allow_ports: [$RP]
hooks:
  retry_schedule: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
  timeout: 5
webhook_org_rate_limit: { rpm: 60000, burst: 1000 }
EOF
DATA="$TMP/data"
start() {
  : >"$TMP/serve.out"  # not the last instance's port (e2e_lib.sh, wait_for_port)
  "$BIN" serve --config "$TMP/config.yaml" --data "$DATA" --listen 127.0.0.1:0 \
    >"$TMP/serve.out" 2>>"$TMP/serve.err" &
  PID=$!
  wait_for_port "$TMP/serve.out" "$PID"
  BASE="http://127.0.0.1:$PORT"
}
api() {  # api METHOD PATH [BODY] [CONTENT-TYPE] -> status code; body in $TMP/body
  local args=(-s -o "$TMP/body" -w '%{http_code}' -X "$1" "$BASE$2" -H "Authorization: Bearer $KEY")
  if [[ $# -ge 3 ]]; then args+=(-H "Content-Type: ${4:-application/json}" --data-binary "$3"); fi
  curl "${args[@]}"
}

start
check "server started" 1 "$([[ -n "$PORT" ]] && echo 1 || echo 0)"
e2e_bootstrap Chaos owner@chaos.test
# The approver: a second owner (the initiator of a run never approves it).
e2e_add_owner approver@chaos.test
code=$(curl -s -b "$TMP/cookies2" -o /dev/null -w '%{http_code}' -X POST "$BASE/v1/auth/password" \
  -H "X-CSRF-Token: $CSRF2" -H 'Content-Type: application/json' \
  --data-binary '{"current_password":"another long passphrase","new_password":"the approver passphrase"}')
check "the approver sets a password" 200 "$code"

WHSEC="whsec_$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
HOOKSIG="whsec_$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
check "inbound secret connector" 201 \
  "$(api POST "/v1/orgs/$ORG/connectors" "{\"id\":\"inbound\",\"type\":\"webhook_secret\",\"secrets\":{\"secret\":\"$WHSEC\"}}")"
check "hook signing connector" 201 \
  "$(api POST "/v1/orgs/$ORG/connectors" "{\"id\":\"hooksig\",\"type\":\"webhook_secret\",\"secrets\":{\"secret\":\"$HOOKSIG\"}}")"
effect_step() {  # effect_step ID PATH: an http.request to the receiver naming the run
  cat <<EOF
  - id: $1
    type: action
    uses: http.request
    with:
      method: POST
      url: "http://127.0.0.1:$RP$2"
      headers: { X-Run-Id: "{{ run.id }}" }
      json: { run: "{{ run.id }}" }
      allow_http: true
      fail_on_status: true
EOF
}
cat >"$TMP/effect.yaml" <<EOF
rampart: 1
id: effect
triggers:
  - type: webhook
    auth: { type: standard-webhooks, connector: inbound }
    rate_limit: { rpm: 60000, burst: 1000 }
hooks:
  - { url: "http://127.0.0.1:$RP/hook", events: [run.succeeded, run.failed], secret: hooksig }
steps:
$(effect_step call /effect)
output: { ok: "{{ steps.call.output.json.ok }}" }
EOF
cat >"$TMP/gated.yaml" <<EOF
rampart: 1
id: gated
hooks:
  - { url: "http://127.0.0.1:$RP/hook", events: [run.succeeded, run.failed], secret: hooksig }
steps:
$(effect_step before /before)
  - id: sign_off
    type: approval
    approvers: { roles: [owner] }
    timeout: 3600
$(effect_step after /after)
EOF
for wf in effect gated; do
  check "create $wf" 201 "$(api POST "/v1/orgs/$ORG/workflows" "$(cat "$TMP/$wf.yaml")" application/yaml)"
  check "publish $wf" 200 "$(api POST "/v1/orgs/$ORG/workflows/$wf/publish" '{"version":1}')"
done
check "trigger URL" 201 "$(api POST "/v1/orgs/$ORG/workflows/effect/webhooks" '{}')"
export CHAOS_HOOK_PATH
CHAOS_HOOK_PATH=$(json "$TMP/body" 'd["url"]')

for round in $(seq 1 "$ROUNDS"); do
  rm -f "$TMP/stop"
  python3 "$TMP/chaos.py" load "$BASE" "$KEY" "$ORG" "$CHAOS_HOOK_PATH" "$WHSEC" "$round" \
    "$TMP/load.jsonl" "$TMP/stop" approver@chaos.test "the approver passphrase" &
  UP_PID=$!
  # Once every kind of request has been accepted at least once (at most 30 s: a loaded
  # machine), a random moment 0..2 s later.
  python3 - "$TMP/load.jsonl" "$round" <<'PY2'
import json, os, sys, time
deadline = time.time() + 30
while time.time() < deadline:
    got = set()
    if os.path.exists(sys.argv[1]):
        for line in open(sys.argv[1]):
            try: r = json.loads(line)
            except ValueError: continue
            if r['round'] == int(sys.argv[2]) and r['code'] in (200, 202): got.add(r['kind'])
    if {'api', 'api_wait', 'hook', 'gated'} <= got: break
    time.sleep(0.05)
PY2
  sleep "$(python3 -c 'import random; print(round(random.uniform(0, 2), 2))')"
  kill -9 "$PID"
  wait "$PID" 2>/dev/null
  touch "$TMP/stop"
  wait "$UP_PID"
  UP_PID=""
  echo "round $round: $(python3 -c 'import json,sys,collections
c = collections.Counter((r["kind"], r["code"]) for r in map(json.loads, open(sys.argv[1])) if r["round"] == int(sys.argv[2]))
print(", ".join("%s %s: %d" % (k[0], k[1], n) for k, n in sorted(c.items())))' "$TMP/load.jsonl" "$round")"
  start
  check "round $round: restart after kill -9" 1 "$([[ -n "$PORT" ]] && echo 1 || echo 0)"
  ran=0
  while IFS=$'\x1f' read -r kind name want got; do
    case "$kind" in
      CHECK) check "$name" "$want" "$got" ;;
      NOTE) echo "$name" ;;
      DONE) ran=1 ;;
      *) echo "$kind $name $want $got" ;;
    esac
  done < <(python3 "$TMP/chaos.py" check "$BASE" "$KEY" "$ORG" "$DATA" "$TMP" "$round" \
             approver@chaos.test "the approver passphrase" 2>&1)
  check "round $round: the checks ran to the end" 1 "$ran"
  "$BIN" audit verify --data "$DATA" >"$TMP/verify.out" 2>&1
  check "round $round: audit verify after the restart" 0 $?
done
kill -TERM "$PID"
wait "$PID"
check "SIGTERM exits 0" 0 $?
PID=""
"$BIN" audit verify --data "$DATA" >"$TMP/verify.out" 2>&1
check "audit verify at the end" 0 $?

summary chaos_end_to_end
