#!/usr/bin/env bash
# Master key replacement end to end (ASVS V11.2.2, V13.3.4), as README "Replacing the
# master key" tells an operator to do it: connectors with secrets under master key K1;
# K2 goes in master_key_file and K1 in previous_master_key_files, restart, `rampart keys
# rewrap` (next to the live server), remove K1, restart. Every secret must keep reaching
# the loopback upstream, which answers 200 only to the exact token it expects, before,
# during and after; after the rewrap K2 alone is enough and K1 alone is refused naming
# K2's id. A rewrap lacking K1 fails (exit 1) naming K1's id and writes nothing. No key
# and no secret may appear in any output, log, API answer or byte of the data directory.
# Talks only to 127.0.0.1.
set -uo pipefail
BIN="$1"
SRC="$2"
TMP=$(mktemp -d)
PID=""
UP_PID=""
source "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
trap e2e_cleanup EXIT

# The master key id the docs promise: hex of the first 8 bytes of SHA-256 of the KEK,
# KEK = HKDF-SHA256(ikm = key, salt = "rampart", info = "rampart kek v1"), computed here
# independently of the binary.
key_id() {
  python3 - "$1" <<'PY'
import hashlib, hmac, sys
ikm = open(sys.argv[1]).read().rstrip('\n\r ').encode()
prk = hmac.new(b'rampart', ikm, hashlib.sha256).digest()
kek = hmac.new(prk, b'rampart kek v1' + b'\x01', hashlib.sha256).digest()
print(hashlib.sha256(kek).hexdigest()[:16])
PY
}

new_key() {  # new_key FILE: 32 random bytes, base64url, mode 0600
  head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$1"
  chmod 600 "$1"
}
new_key "$TMP/k1.key"
new_key "$TMP/k2.key"
K1_ID=$(key_id "$TMP/k1.key")
K2_ID=$(key_id "$TMP/k2.key")

STAMP=$(date +%s%N)
declare -A SECRET=([alpha]="KekSuite-alpha-$STAMP" [beta]="KekSuite-beta-$STAMP" [gamma]="KekSuite-gamma-$STAMP")
python3 - "$TMP/expected.json" "${SECRET[alpha]}" "${SECRET[beta]}" "${SECRET[gamma]}" <<'PY'
import json, sys
json.dump({'/alpha': 'Bearer ' + sys.argv[2], '/beta': 'Bearer ' + sys.argv[3],
           '/gamma': 'Bearer ' + sys.argv[4]}, open(sys.argv[1], 'w'))
PY

# The upstream: 200 only when the Authorization header is exactly the one expected for
# the path, 401 otherwise (e2e_lib.sh).
e2e_auth_upstream "$TMP/expected.json"

config() {  # config FILE [MASTER_KEY_FILE [PREVIOUS_KEY_FILE...]]
  local file="$1"
  {
    printf 'egress:\n  allow_http: true\n  allow_cidrs: ["127.0.0.1/32"]\n  allow_ports: [%s]\n' "$UP_PORT"
    [[ $# -ge 2 ]] && printf 'master_key_file: %s\n' "$2"
    if [[ $# -ge 3 ]]; then
      printf 'previous_master_key_files:\n'
      shift 2
      for f in "$@"; do printf '  - %s\n' "$f"; done
    fi
  } >"$file"
}
config "$TMP/k1.yaml" "$TMP/k1.key"
config "$TMP/k2-k1.yaml" "$TMP/k2.key" "$TMP/k1.key"
config "$TMP/k2.yaml" "$TMP/k2.key"

DATA="$TMP/data"
: >"$TMP/serve.out"
: >"$TMP/serve.err"
: >"$TMP/tools.out"
start() {  # start CONFIG: the server, its port in $PORT ("" when it did not start)
  : >"$TMP/serve.now"  # not the last instance's port (e2e_lib.sh, wait_for_port)
  "$BIN" serve --config "$1" --data "$DATA" --listen 127.0.0.1:0 >"$TMP/serve.now" 2>>"$TMP/serve.err" &
  PID=$!
  wait_for_port "$TMP/serve.now" "$PID"
  cat "$TMP/serve.now" >>"$TMP/serve.out"
  BASE="http://127.0.0.1:$PORT"
}
stop() { kill -TERM "$PID"; wait "$PID"; PID=""; }
api() {  # api METHOD PATH [BODY] [CONTENT-TYPE] -> status; body in $TMP/body (kept in $TMP/answers)
  local args=(-s -o "$TMP/body" -w '%{http_code}' -X "$1" "$BASE$2" -H "Authorization: Bearer $KEY")
  if [[ $# -ge 3 ]]; then args+=(-H "Content-Type: ${4:-application/json}" --data-binary "$3"); fi
  local code
  code=$(curl "${args[@]}")
  cat "$TMP/body" >>"$TMP/answers"
  echo "$code"
}
connector() {  # connector ID: a bearer connector holding SECRET[ID]
  check "create connector $1" 201 "$(api POST "/v1/orgs/$ORG/connectors" "{\"id\":\"$1\",\"type\":\"bearer\",\"secrets\":{\"token\":\"${SECRET[$1]}\"}}")"
  cat >"$TMP/wf.yaml" <<EOF
rampart: 1
id: use-$1
steps:
  - id: call
    type: action
    uses: http.request
    connector: $1
    with: { method: GET, url: "http://127.0.0.1:$UP_PORT/$1", allow_http: true, fail_on_status: true }
EOF
  check "create workflow use-$1" 201 "$(api POST "/v1/orgs/$ORG/workflows" "$(cat "$TMP/wf.yaml")" application/yaml)"
  check "publish use-$1" 200 "$(api POST "/v1/orgs/$ORG/workflows/use-$1/publish" '{"version":1}')"
}
uses() {  # uses WHEN ID...: each connector's secret reaches the upstream intact
  local id
  for id in "${@:2}"; do
    api POST "/v1/orgs/$ORG/workflows/use-$id/runs" '{"input":{},"wait":10}' >/dev/null
    check "$1: the $id secret decrypts and is accepted upstream" succeeded "$(json "$TMP/body" 'd.get("status")')"
  done
}
tool() {  # tool ARGS...: a `rampart keys` command; exit code echoed, output in $TMP/tool.out
  "$BIN" keys "$@" --data "${TOOL_DATA:-$DATA}" >"$TMP/tool.out" 2>&1
  local code=$?
  cat "$TMP/tool.out" >>"$TMP/tools.out"
  echo "$code"
}

# 1. Connectors under K1 (and a data key rotation, so the org has two data key versions).
start "$TMP/k1.yaml"
check "server started with K1" 1 $([[ -n "$PORT" ]] && echo 1 || echo 0)
e2e_bootstrap Kek o@kek.test
connector alpha
connector beta
check "keys rotate under K1" 0 "$(tool rotate --config "$TMP/k1.yaml")"
uses "under K1" alpha beta
stop

# A copy of the store under K1 for the refusals of an incomplete rewrap.
cp -a "$DATA" "$TMP/copy"

# 2. K2 without K1: the start is refused, naming K1's id (never a key).
start "$TMP/k2.yaml"
check "K2 alone refuses the K1 store" "" "$PORT"
wait "$PID"
check "the refusal exits 2" 2 $?
PID=""
grep -q "wrapped by master key $K1_ID, which is not configured; add it to previous_master_key_files" "$TMP/serve.err"
check "the refusal names K1's id" 0 $?

# A rewrap without K1 fails and writes nothing; with K1 from the environment it works.
code=$(TOOL_DATA="$TMP/copy" tool rewrap --config "$TMP/k2.yaml")
check "rewrap without K1 fails" 1 "$code"
grep -q "wrapped by master key $K1_ID" "$TMP/tool.out"
check "the failed rewrap names K1's id" 0 $?
code=$(RAMPART_PREVIOUS_MASTER_KEY="$(cat "$TMP/k1.key")" TOOL_DATA="$TMP/copy" tool rewrap --config "$TMP/k2.yaml")
check "rewrap with K1 from RAMPART_PREVIOUS_MASTER_KEY" 0 "$code"
grep -q "rampart: master key rewrap: 2 data keys of 1 orgs re-wrapped under master key $K2_ID in 1 batches (from $K1_ID: 2)" "$TMP/tool.out"
check "the earlier failure had written nothing: both keys were still under K1" 0 $?

# A previous key file readable by others is refused like master_key_file.
cp "$TMP/k1.key" "$TMP/k1-open.key"
chmod 644 "$TMP/k1-open.key"
config "$TMP/open.yaml" "$TMP/k2.key" "$TMP/k1-open.key"
"$BIN" serve --config "$TMP/open.yaml" --data "$DATA" --listen 127.0.0.1:0 >"$TMP/open.out" 2>&1
check "a previous key file with mode 0644 stops the start" 2 $?
grep -q "previous_master_key_files\[0\]: the master key file must have mode 0600 or 0400" "$TMP/open.out"
check "the mode refusal says which file and why" 0 $?
cat "$TMP/open.out" >>"$TMP/tools.out"

# 3. K2 current, K1 previous: everything decrypts; new data keys and secrets work.
start "$TMP/k2-k1.yaml"
check "server started with K2 and previous K1" 1 $([[ -n "$PORT" ]] && echo 1 || echo 0)
grep -q "\"previous_master_keys\":\"$K1_ID\"" "$TMP/serve.err"
check "the start log names the previous key id" 0 $?
uses "K2 with previous K1" alpha beta
connector gamma
uses "K2 with previous K1" gamma
check "keys rotate next to the live server" 0 "$(tool rotate --config "$TMP/k2-k1.yaml")"
uses "after a rotation under K2" alpha beta gamma

# 4. The rewrap, next to the live server: v1 and v2 move from K1 (v3 is under K2 already).
check "keys rewrap" 0 "$(tool rewrap --config "$TMP/k2-k1.yaml")"
grep -q "rampart: master key rewrap: 2 data keys of 1 orgs re-wrapped under master key $K2_ID in 1 batches (from $K1_ID: 2)" "$TMP/tool.out"
check "rewrap prints its counts and key ids" 0 $?
check "keys rewrap again" 0 "$(tool rewrap --config "$TMP/k2-k1.yaml")"
grep -q "rampart: master key rewrap: 0 data keys of 0 orgs" "$TMP/tool.out"
check "a second rewrap has nothing to do" 0 $?
uses "live server after the rewrap" alpha beta gamma
check "audit" 200 "$(api GET "/v1/orgs/$ORG/audit?limit=100")"
check "the rewrap is audited with counts and key ids" "[(2, ['$K1_ID'], '$K2_ID')]" "$(json "$TMP/body" '[(x["rewrapped"], x["from_master_keys"], x["to_master_key"]) for x in [e["details"] if isinstance(e["details"], dict) else json.loads(e["details"]) for e in d["items"] if e["action"] == "master_key.rewrap"]]')"
stop

# 5. K1 removed: K2 alone starts and every secret decrypts.
start "$TMP/k2.yaml"
check "server started with K2 alone" 1 $([[ -n "$PORT" ]] && echo 1 || echo 0)
uses "K2 alone" alpha beta gamma
stop

# 6. K1 alone is no longer enough: refused, naming K2's id.
start "$TMP/k1.yaml"
check "K1 alone refuses the rewrapped store" "" "$PORT"
wait "$PID"
check "that refusal exits 2" 2 $?
PID=""
grep -q "wrapped by master key $K2_ID, which is not configured" "$TMP/serve.err"
check "that refusal names K2's id" 0 $?

check "rewrap --help" 0 "$("$BIN" keys rewrap --help >"$TMP/help.out" 2>&1; echo $?)"
grep -q -- "--master-key-stdin" "$TMP/help.out"
check "rewrap --help lists its options" 0 $?

# No key and no secret anywhere: outputs, logs, API answers, the data directories.
leaks=0
for value in "$(cat "$TMP/k1.key")" "$(cat "$TMP/k2.key")" "${SECRET[alpha]}" "${SECRET[beta]}" "${SECRET[gamma]}"; do
  for f in "$TMP/serve.out" "$TMP/serve.err" "$TMP/tools.out" "$TMP/answers"; do
    if grep -qF -- "$value" "$f"; then leaks=$((leaks + 1)); echo "LEAK: a key or secret in $(basename "$f")"; fi
  done
  for d in "$DATA" "$TMP/copy"; do
    if grep -rqaF -- "$value" "$d"; then leaks=$((leaks + 1)); echo "LEAK: a key or secret in $(basename "$d")"; fi
  done
done
check "no key and no secret anywhere" 0 "$leaks"

summary kek_end_to_end
