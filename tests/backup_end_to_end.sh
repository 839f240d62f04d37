#!/usr/bin/env bash
# rampart backup and restore end to end, as README "Backups" tells an operator to do it:
# a backup taken while serve runs and runs are being started, restored into a new data
# directory with the master key copied beside it (0600); serve on the restored directory
# lists every run whose start had been answered before the backup began, the connector's
# secret still reaches the loopback upstream (which answers 200 only to the exact token),
# and `rampart audit verify` passes. Refused: a backup to an existing path, a restore into
# a directory holding a store (or held by a running serve), a truncated or overwritten
# backup file. The live store's audit log names the backup. Talks only to 127.0.0.1.
set -uo pipefail
BIN="$1"
SRC="$2"
TMP=$(mktemp -d)
PID=""
UP_PID=""
LOOP_PID=""
source "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
cleanup() {
  [[ -n "$LOOP_PID" ]] && kill -9 "$LOOP_PID" 2>/dev/null
  e2e_cleanup
}
trap cleanup EXIT
e2e_on_failure() { e2e_report_dead_server; }

SECRET="BackupSuite-$(date +%s%N)"
python3 -c 'import json, sys; json.dump({"/x": "Bearer " + sys.argv[2]}, open(sys.argv[1], "w"))' "$TMP/expected.json" "$SECRET"
e2e_auth_upstream "$TMP/expected.json"
printf 'egress:\n  allow_http: true\n  allow_cidrs: ["127.0.0.1/32"]\n  allow_ports: [%s]\n' "$UP_PORT" >"$TMP/config.yaml"

DATA="$TMP/data"
: >"$TMP/serve.err"
start() {  # start DATA_DIR: the server, its port in $PORT ("" when it did not start)
  : >"$TMP/serve.now"
  "$BIN" serve --config "$TMP/config.yaml" --data "$1" --listen 127.0.0.1:0 >"$TMP/serve.now" 2>>"$TMP/serve.err" &
  PID=$!
  wait_for_port "$TMP/serve.now" "$PID"
  BASE="http://127.0.0.1:$PORT"
}
stop() { kill -TERM "$PID"; wait "$PID"; PID=""; }
api() {  # api METHOD PATH [BODY] [CONTENT-TYPE] -> status; body in $TMP/body
  local args=(-s -o "$TMP/body" -w '%{http_code}' -X "$1" "$BASE$2" -H "Authorization: Bearer $KEY")
  if [[ $# -ge 3 ]]; then args+=(-H "Content-Type: ${4:-application/json}" --data-binary "$3"); fi
  curl "${args[@]}"
}
uses_secret() {  # uses_secret WHEN: a run of use-alpha reaches the upstream with the secret
  api POST "/v1/orgs/$ORG/workflows/use-alpha/runs" '{"input":{},"wait":10}' >/dev/null
  check "$1: the connector's secret decrypts and is accepted upstream" succeeded "$(json "$TMP/body" 'd.get("status")')"
}

# 1. A server with an org, an API key, a connector with a secret and two workflows.
start "$DATA"
check "server started" 1 $([[ -n "$PORT" ]] && echo 1 || echo 0)
e2e_bootstrap Backup o@backup.test
check "create connector" 201 "$(api POST "/v1/orgs/$ORG/connectors" "{\"id\":\"alpha\",\"type\":\"bearer\",\"secrets\":{\"token\":\"$SECRET\"}}")"
printf 'rampart: 1\nid: use-alpha\nsteps:\n  - id: call\n    type: action\n    uses: http.request\n    connector: alpha\n    with: { method: GET, url: "http://127.0.0.1:%s/x", allow_http: true, fail_on_status: true }\n' "$UP_PORT" >"$TMP/use.yaml"
check "create use-alpha" 201 "$(api POST "/v1/orgs/$ORG/workflows" "$(cat "$TMP/use.yaml")" application/yaml)"
check "publish use-alpha" 200 "$(api POST "/v1/orgs/$ORG/workflows/use-alpha/publish" '{"version":1}')"
printf 'rampart: 1\nid: tick\nsteps:\n  - id: s\n    type: set\n    values: { a: 1 }\n' >"$TMP/tick.yaml"
check "create tick" 201 "$(api POST "/v1/orgs/$ORG/workflows" "$(cat "$TMP/tick.yaml")" application/yaml)"
check "publish tick" 200 "$(api POST "/v1/orgs/$ORG/workflows/tick/publish" '{"version":1}')"
uses_secret "live server"

# 2. Runs started in a loop; each answered run id is appended to runs.txt.
: >"$TMP/runs.txt"
(
  while :; do
    curl -s -X POST "$BASE/v1/orgs/$ORG/workflows/tick/runs" -H "Authorization: Bearer $KEY" \
      -H 'Content-Type: application/json' --data-binary '{"input":{},"wait":5}' |
      python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["run_id"])' >>"$TMP/runs.txt" 2>/dev/null
  done
) &
LOOP_PID=$!
for _ in $(seq 1 100); do [[ $(wc -l <"$TMP/runs.txt") -ge 10 ]] && break; sleep 0.1; done
cp "$TMP/runs.txt" "$TMP/before.txt"  # answered before the backup starts

mkdir -p "$TMP/backups"
"$BIN" backup --data "$DATA" --output "$TMP/backups/b1.db" >"$TMP/backup.out" 2>&1
check "backup while serve runs and runs start" 0 $?
sleep 0.5
kill "$LOOP_PID"; wait "$LOOP_PID" 2>/dev/null; LOOP_PID=""
check "runs were answered before the backup" 1 $([[ $(wc -l <"$TMP/before.txt") -ge 10 ]] && echo 1 || echo 0)
check "runs were answered during and after it" 1 $([[ $(wc -l <"$TMP/runs.txt") -gt $(wc -l <"$TMP/before.txt") ]] && echo 1 || echo 0)
grep -q "backup written: $TMP/backups/b1.db (.* bytes, schema version [0-9]*, audit head seq [0-9]* hash [0-9a-f]\{64\}); the master key is not in the backup" "$TMP/backup.out"
check "backup prints path, size, schema version, audit head and the master key note" 0 $?
check "the backup is owner-only" 600 "$(stat -c %a "$TMP/backups/b1.db")"
check "no temporary file beside the backup" "b1.db" "$(ls -A "$TMP/backups")"
HEAD_SEQ=$(sed -n 's/.*audit head seq \([0-9]*\) .*/\1/p' "$TMP/backup.out")

# Refusals: an existing output path, a restore into the live (locked, non-empty) directory.
cp "$TMP/backups/b1.db" "$TMP/b1.keep"
"$BIN" backup --data "$DATA" --output "$TMP/backups/b1.db" >"$TMP/refused.out" 2>&1
check "backup to an existing path exits 2" 2 $?
cmp -s "$TMP/backups/b1.db" "$TMP/b1.keep"
check "the existing file is untouched" 0 $?
"$BIN" backup --data "$DATA" --output "$TMP/backups/j.db" --json >"$TMP/backup.json" 2>&1
check "backup --json" 0 $?
check "backup --json names the master key as not included" False "$(json "$TMP/backup.json" 'd["master_key_included"]')"
check "backup --json audit head is after the first backup's event" 1 "$(json "$TMP/backup.json" "int(d['audit_head']['seq'] > $HEAD_SEQ)")"
# A backup killed (SIGKILL) at a random moment: the rerun to the same file needs no step by
# hand and gives a restorable backup (when the killed one had already finished, the rerun is
# refused as for any existing file, and that file is itself a complete backup).
cut_mid_backup=0
for i in 1 2 3 4 5 6; do
  out="$TMP/killed/k$i.db"
  mkdir -p "$TMP/killed"
  "$BIN" backup --data "$DATA" --output "$out" >/dev/null 2>&1 &
  kpid=$!
  # Once its reservation of the file is there, 0-8 ms later: mid-copy or mid-check.
  SECONDS=0
  while [[ ! -e "$out" && $SECONDS -lt 10 ]] && kill -0 "$kpid" 2>/dev/null; do :; done
  sleep "0.00$((RANDOM % 9))"
  kill -9 "$kpid" 2>/dev/null
  wait "$kpid" 2>/dev/null
  grep -qs 'rampart backup in progress' "$out" && cut_mid_backup=$((cut_mid_backup + 1))
  "$BIN" backup --data "$DATA" --output "$out" >"$TMP/rerun.out" 2>&1
  rc=$?
  [[ $rc == 0 || $rc == 2 ]] || { echo "rerun after a killed backup: exit $rc: $(cat "$TMP/rerun.out")"; }
  "$BIN" restore --backup "$out" --data "$TMP/killed/r$i" >"$TMP/rk.out" 2>&1
  check "backup $i killed at a random moment, then rerun: exit 0 or 2 and a restorable file" "0 0" \
    "$([[ $rc == 0 || $rc == 2 ]] && echo 0 || echo "$rc") $?"
done
check "some backups were killed while in progress" 1 "$([[ $cut_mid_backup -ge 1 ]] && echo 1 || echo 0)"
check "no leftovers of the killed backups" "$(printf 'k%s.db\n' 1 2 3 4 5 6; printf 'r%s\n' 1 2 3 4 5 6)" \
  "$(ls -A "$TMP/killed" | sort)"
"$BIN" restore --backup "$TMP/backups/b1.db" --data "$DATA" >"$TMP/refused.out" 2>&1
check "restore into the live data directory exits 2" 2 $?
grep -q "in use by a running rampart serve" "$TMP/refused.out"
check "that refusal says a serve holds it" 0 $?
stop

# 3. Damaged backups are refused and leave nothing.
python3 - "$TMP/backups/b1.db" "$TMP/truncated.db" "$TMP/overwritten.db" <<'PY'
import sys
data = open(sys.argv[1], 'rb').read()
open(sys.argv[2], 'wb').write(data[:len(data) // 2])
bad = bytearray(data)
for i in range(4096, 4096 * 5):
    bad[i] = (i * 131 + 7) & 0xff
open(sys.argv[3], 'wb').write(bytes(bad))
PY
for damaged in truncated overwritten; do
  "$BIN" restore --backup "$TMP/$damaged.db" --data "$TMP/r-$damaged" >"$TMP/refused.out" 2>&1
  check "restore of a $damaged backup exits 1" 1 $?
  grep -q "integrity check failed" "$TMP/refused.out"
  check "the $damaged refusal says why" 0 $?
  check "the $damaged restore leaves nothing" "" "$(ls -A "$TMP/r-$damaged")"
done

# 4. Restore into a new directory, the master key copied beside it with mode 0600.
RESTORED="$TMP/restored"
"$BIN" restore --backup "$TMP/backups/b1.db" --data "$RESTORED" >"$TMP/restore.out" 2>&1
check "restore" 0 $?
check "restored store is owner-only" 600 "$(stat -c %a "$RESTORED/rampart.db")"
check "restored directory is owner-only" 700 "$(stat -c %a "$RESTORED")"
"$BIN" restore --backup "$TMP/backups/b1.db" --data "$RESTORED" >"$TMP/refused.out" 2>&1
check "restore into a directory holding a store exits 2" 2 $?
"$BIN" audit verify --data "$RESTORED" >"$TMP/verify.out" 2>&1
check "audit verify on the restored store" 0 $?
grep -q "audit chain intact: $HEAD_SEQ events" "$TMP/verify.out"
check "the restored chain ends at the backup's head" 0 $?
"$BIN" audit verify --data "$DATA" >"$TMP/verify.out" 2>&1
check "audit verify on the live store" 0 $?
cp -p "$DATA/master.key" "$RESTORED/master.key"

start "$RESTORED"
check "server started on the restored directory" 1 $([[ -n "$PORT" ]] && echo 1 || echo 0)
python3 - "$BASE" "$ORG" "$KEY" "$TMP/before.txt" >"$TMP/missing.txt" <<'PY'
import json, sys, urllib.request
base, org, key, before = sys.argv[1:5]
seen, cursor = set(), ''
while True:
    url = f'{base}/v1/orgs/{org}/runs?limit=100' + (f'&cursor={cursor}' if cursor else '')
    req = urllib.request.Request(url, headers={'Authorization': 'Bearer ' + key})
    d = json.load(urllib.request.urlopen(req))
    seen.update(r['run_id'] for r in d['items'])
    cursor = d.get('next_cursor') or ''
    if not cursor: break
for line in open(before):
    if line.strip() and line.strip() not in seen: print(line.strip())
PY
check "every run answered before the backup is in the restored store" "" "$(cat "$TMP/missing.txt")"
check "get connector" 200 "$(api GET "/v1/orgs/$ORG/connectors/alpha")"
uses_secret "restored server"
stop

# 5. The live store's log holds backup.create with the backup's head.
python3 - "$DATA/rampart.db" "$HEAD_SEQ" >"$TMP/event.txt" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(f'file:{sys.argv[1]}?mode=ro', uri=True)
rows = db.execute("SELECT details FROM audit_events WHERE action = 'backup.create' ORDER BY seq").fetchall()
# b1, j and one for each killed-then-rerun pair (a killed one may also have recorded its own)
print(len(rows) >= 8, json.loads(rows[0][0])['audit_head_seq'] == int(sys.argv[2]) if rows else None)
PY
check "backup.create in the live store names the backup's head" "True True" "$(cat "$TMP/event.txt")"

check "backup --help" 0 "$("$BIN" backup --help >/dev/null 2>&1; echo $?)"
check "restore --help" 0 "$("$BIN" restore --help >/dev/null 2>&1; echo $?)"

leaks=0
for f in "$TMP/backup.out" "$TMP/backup.json" "$TMP/restore.out" "$TMP/serve.err"; do
  if grep -qF -- "$SECRET" "$f" || grep -qF -- "$(cat "$DATA/master.key")" "$f"; then
    leaks=$((leaks + 1)); echo "LEAK: a secret or the master key in $(basename "$f")"
  fi
done
if grep -qaF -- "$(cat "$DATA/master.key")" "$TMP/backups/b1.db"; then leaks=$((leaks + 1)); echo "LEAK: the master key in the backup"; fi
if grep -qaF -- "$SECRET" "$TMP/backups/b1.db"; then leaks=$((leaks + 1)); echo "LEAK: the secret in clear in the backup"; fi
check "no secret and no master key in outputs or the backup" 0 "$leaks"

summary backup_end_to_end
