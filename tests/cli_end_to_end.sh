#!/usr/bin/env bash
# End-to-end checks of the `rampart` binary as a user runs it: exit codes, stdout/stderr
# separation, --json output shape, --help everywhere.
set -uo pipefail
BIN="$1"
SRC="$2"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
expect_grep() {  # expect_grep NAME PATTERN FILE
  if grep -q -- "$2" "$3"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1: no '$2' in:"; cat "$3"; fi
}

"$BIN" run "$SRC/examples/hello.yaml" --input "$SRC/examples/hello.input.json" --json >"$TMP/out" 2>"$TMP/err"
check "run hello --json" 0 $?
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["status"]=="succeeded", r; assert r["output"]["total"]==128.0, r["output"]; assert [s["path"] for s in r["steps"]][:3]==["lines","lines[0].line_total","lines[1].line_total"], r["steps"]' "$TMP/out"
check "run record shape" 0 $?
expect_grep "log line on stderr" '"level":"warn"' "$TMP/err"

"$BIN" run "$SRC/examples/hello.yaml" --input - <"$SRC/examples/hello.input.json" >"$TMP/out" 2>&1
check "run with stdin input" 0 $?
expect_grep "human summary" "status: succeeded" "$TMP/out"

echo '{"order_id": "bad id", "items": []}' >"$TMP/bad-input.json"
"$BIN" run "$SRC/examples/hello.yaml" --input "$TMP/bad-input.json" >"$TMP/out" 2>"$TMP/err"
check "invalid input exits 2" 2 $?
expect_grep "input error line" "^/order_id: invalid_input: " "$TMP/err"
[[ ! -s "$TMP/out" ]]; check "nothing on stdout for invalid input" 0 $?

printf 'not json' >"$TMP/garbage.json"
"$BIN" run "$SRC/examples/hello.yaml" --input "$TMP/garbage.json" >/dev/null 2>"$TMP/err"
check "malformed input exits 2" 2 $?

"$BIN" run "$SRC/tests/workflows/fail_step.yaml" --input "$SRC/tests/workflows/fail_step.input.json" --json >"$TMP/out" 2>/dev/null
check "failed run exits 1" 1 $?
expect_grep "failed record" '"code":"step_failed"' "$TMP/out"

# --json: stdout is exactly one run record and nothing else, whatever the final status
# (log lines go to stderr): succeeded (hello, above), failed, and awaiting_approval.
only_record() {  # only_record FILE STATUS: the whole file is one JSON run record with STATUS
  python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).read()); assert r["status"]==sys.argv[2], r["status"]; assert r["run_id"].startswith("run_"); assert all(k in r for k in ("workflow","version","input","output","error","started_at","finished_at","steps")), list(r)' "$1" "$2"
}
only_record "$TMP/out" failed; check "failed run: stdout is only the record" 0 $?
"$BIN" run "$SRC/tests/workflows/log_write.yaml" --input "$SRC/tests/workflows/log_write.input.json" --json >"$TMP/out" 2>"$TMP/err"
check "log_write run" 0 $?
only_record "$TMP/out" succeeded; check "log lines stay off stdout" 0 $?
expect_grep "the log line is on stderr" '"msg":"order A-3 needs review"' "$TMP/err"
"$BIN" run "$SRC/tests/workflows/approval_wait.yaml" --json >"$TMP/out" 2>"$TMP/err"
check "a run left awaiting approval exits 1 (not succeeded)" 1 $?
only_record "$TMP/out" awaiting_approval; check "awaiting_approval: stdout is only the record" 0 $?

"$BIN" run "$SRC/tests/workflows/load_unknown_key.yaml" >"$TMP/out" 2>"$TMP/err"
check "invalid definition exits 2" 2 $?
expect_grep "path: code: message" "^/steps/0/value: invalid_definition: unknown key 'value'" "$TMP/err"

"$BIN" run "$SRC/tests/workflows/child_call.yaml" --input "$SRC/tests/workflows/child_call.input.json" --workflows "$SRC/tests/workflows/children" --json >"$TMP/out" 2>/dev/null
check "child workflow from --workflows" 0 $?

head -c 10485760 /dev/zero | tr '\0' 'a' >"$TMP/huge.yaml"
"$BIN" run "$TMP/huge.yaml" >/dev/null 2>"$TMP/err"
check "10 MB file exits 2" 2 $?

"$BIN" run "$TMP/does-not-exist.yaml" >/dev/null 2>&1
check "missing file exits 2" 2 $?

# FILE and --input FILE name any readable file, not only a regular one: /dev/stdin and a
# shell's <(...) are pipes. A directory is refused by name, never reported as missing.
cat "$SRC/examples/hello.yaml" | "$BIN" run /dev/stdin --input "$SRC/examples/hello.input.json" --json >"$TMP/out" 2>"$TMP/err"
check "run /dev/stdin (a pipe)" 0 $?
cat "$SRC/examples/hello.input.json" | "$BIN" run "$SRC/examples/hello.yaml" --input /dev/stdin --json >"$TMP/out" 2>"$TMP/err"
check "run --input /dev/stdin (a pipe)" 0 $?
"$BIN" run "$SRC/examples/hello.yaml" --input <(cat "$SRC/examples/hello.input.json") --json >"$TMP/out" 2>"$TMP/err"
check "run --input <(...)" 0 $?
"$BIN" validate <(cat "$SRC/tests/workflows/set_basic.yaml") >"$TMP/out" 2>&1
check "validate <(...)" 0 $?
"$BIN" run "$SRC/examples/hello.yaml" --input "$TMP" >/dev/null 2>"$TMP/err"
check "--input DIR exits 2" 2 $?
expect_grep "--input DIR named a directory" "is a directory" "$TMP/err"

# spec/interfaces.md "Configuration file": every key has a default, so a config whose
# every line is commented out (or an empty one) runs with the defaults; an unknown key
# is still an error.
printf '# listen: 127.0.0.1:8787\n# data: ./var\n' >"$TMP/comments.yaml"
: >"$TMP/empty.yaml"
for config in comments empty; do
  "$BIN" run "$SRC/tests/workflows/set_basic.yaml" --input "$SRC/tests/workflows/set_basic.input.json" --config "$TMP/$config.yaml" --data "$TMP/var" --json >"$TMP/out" 2>"$TMP/err"
  check "run with a $config config" 0 $?
done
printf 'bogus: 1\n' >"$TMP/bogus.yaml"
"$BIN" run "$SRC/tests/workflows/set_basic.yaml" --config "$TMP/bogus.yaml" --data "$TMP/var" >/dev/null 2>"$TMP/err"
check "unknown config key exits 2" 2 $?
expect_grep "unknown config key named" "unknown key /bogus" "$TMP/err"

"$BIN" validate "$SRC/examples/hello.yaml" "$SRC/tests/workflows/set_basic.yaml" >"$TMP/out" 2>&1
check "validate ok" 0 $?
"$BIN" validate "$SRC/examples/hello.yaml" "$SRC/tests/workflows/load_bad_header.yaml" >"$TMP/out" 2>&1
check "validate with errors exits 2" 2 $?
expect_grep "validate names the file" "load_bad_header.yaml: /rampart: invalid_definition" "$TMP/out"

# JSON and YAML are equivalent: a key given twice is an error in both, never last-wins.
printf '{"rampart": 1, "id": "dup", "id": "other", "steps": [{"id": "a", "type": "set", "values": {}}]}' >"$TMP/dup.json"
"$BIN" validate "$TMP/dup.json" >"$TMP/out" 2>&1
check "validate JSON with a duplicate key exits 2" 2 $?
expect_grep "duplicate key named" "dup.json: /: invalid_definition: duplicate key 'id' at /id" "$TMP/out"

# A typo in an action's `with` is an unknown key: validate rejects it, the run never starts.
"$BIN" validate "$SRC/tests/workflows/load_action_unknown_arg.yaml" >"$TMP/out" 2>&1
check "validate a typo in with exits 2" 2 $?
expect_grep "typo in with named" "/steps/0/with/mesage: invalid_definition: unknown key 'mesage'" "$TMP/out"

# YAML in flow style starts with '{' and is YAML all the same.
echo '{rampart: 1, id: flow, steps: [{id: s, type: set, values: {a: 1}}], output: "{{ steps.s.output.a }}"}' >"$TMP/flow.yaml"
"$BIN" run "$TMP/flow.yaml" --json >"$TMP/out" 2>"$TMP/err"
check "flow-style YAML runs" 0 $?
expect_grep "flow-style YAML output" '"output":1,' "$TMP/out"

"$BIN" version >"$TMP/out"; check "version" 0 $?
expect_grep "version text" "^rampart " "$TMP/out"
expect_grep "version names the allocator" "^allocator: \(mimalloc [0-9.]*\|glibc malloc\)$" "$TMP/out"
# The commit is stamped at build time: it is the checkout's HEAD (plus -dirty while tracked
# files differ), never the commit CMake happened to be configured at.
if head=$(git -C "$SRC" rev-parse --short=12 HEAD 2>/dev/null); then
  expect_grep "version names the built commit" "(commit $head" "$TMP/out"
fi
# spec/interfaces.md: `--help` works on every command, and prints that command's usage.
for cmd in "" run validate version serve audit "audit verify" keys "keys rotate" "keys rewrap" \
           users "users list" "users reset-password" "users disable" "users enable"; do
  "$BIN" $cmd --help >"$TMP/out" 2>&1; check "--help $cmd" 0 $?
  expect_grep "--help $cmd shows usage" "^Usage: .*rampart $cmd" "$TMP/out"
done
# An unknown option is a usage error (exit 2) on every command, named on stderr.
for cmd in "run $SRC/examples/hello.yaml" "validate $SRC/examples/hello.yaml" version serve \
           "audit verify" "keys rotate" "keys rewrap" "users list" \
           "users reset-password --email a@b.c" "users enable --email a@b.c"; do
  "$BIN" $cmd --no-such-option >"$TMP/out" 2>"$TMP/err"; check "$cmd --no-such-option exits 2" 2 $?
  expect_grep "$cmd names the unknown option" "no-such-option" "$TMP/err"
done
"$BIN" frobnicate >/dev/null 2>&1; check "unknown command exits 2" 2 $?
"$BIN" run >/dev/null 2>&1; check "missing FILE exits 2" 2 $?

# Local connectors: validated like the API, the secrets file must be 0600/0400, and
# neither a secret value nor the secrets file's content is ever echoed.
cat >"$TMP/connectors.json" <<'JSON'
[{"id": "acme", "type": "bearer", "options": {"base_url": "https://api.acme.test"}}]
JSON
echo '{"acme": {"token": "s3cr3t-TOKEN-do-not-print"}}' >"$TMP/secrets.json"
chmod 600 "$TMP/secrets.json"
"$BIN" run "$SRC/examples/hello.yaml" --input "$SRC/examples/hello.input.json" \
  --connectors "$TMP/connectors.json" --secrets-file "$TMP/secrets.json" >"$TMP/out" 2>&1
check "run with local connectors" 0 $?
chmod 644 "$TMP/secrets.json"
"$BIN" run "$SRC/examples/hello.yaml" --input "$SRC/examples/hello.input.json" \
  --connectors "$TMP/connectors.json" --secrets-file "$TMP/secrets.json" >"$TMP/out" 2>&1
check "secrets file readable by others refused" 2 $?
expect_grep "mode message" "0600" "$TMP/out"
chmod 700 "$TMP/secrets.json"
"$BIN" run "$SRC/examples/hello.yaml" --input "$SRC/examples/hello.input.json" \
  --connectors "$TMP/connectors.json" --secrets-file "$TMP/secrets.json" >"$TMP/out" 2>&1
check "secrets file of mode 0700 refused (0600 or 0400 only)" 2 $?
chmod 600 "$TMP/secrets.json"
echo '{"acme": {"token": "s3cr3t-TOKEN-do-not-print", "passwd": "x"}}' >"$TMP/secrets.json"
"$BIN" run "$SRC/examples/hello.yaml" --input "$SRC/examples/hello.input.json" \
  --connectors "$TMP/connectors.json" --secrets-file "$TMP/secrets.json" >"$TMP/out" 2>&1
check "unknown secret field refused" 2 $?
if grep -q "s3cr3t-TOKEN" "$TMP/out"; then fail=$((fail + 1)); echo "FAIL: a secret value was echoed"; else pass=$((pass + 1)); fi

# Key rotation on a store without data: a clear refusal, not a crash.
"$BIN" keys rotate --data "$TMP/no-store" >"$TMP/out" 2>&1
check "keys rotate without a store exits 2" 2 $?

summary cli_end_to_end
