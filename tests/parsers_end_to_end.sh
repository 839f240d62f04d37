#!/usr/bin/env bash
# ASVS V1.1.1, V1.4.2, V1.5.3 against `rampart serve` and `rampart run`: every JSON entry
# point (API bodies, JSON and YAML definitions, webhook payloads, the public endpoint, the
# CLI's --input, from_json) refuses the same hostile documents - duplicate keys, numbers
# beyond a double, invalid UTF-8, lone surrogates, deep nesting - instead of each reading
# them its own way; path segments are decoded exactly once; integer fields refuse sign,
# range and type tricks. Talks only to 127.0.0.1 on an ephemeral port.
set -uo pipefail
BIN="$1"
TMP=$(mktemp -d)
PID=""
cleanup() {
  if [[ -n "$PID" ]]; then kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
source "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
e2e_on_failure() { echo "  body: $(head -c 300 "$TMP/body" 2>/dev/null)"; }

DATA="$TMP/data"
"$BIN" serve --data "$DATA" --listen 127.0.0.1:0 >"$TMP/serve.out" 2>"$TMP/serve.err" &
PID=$!
wait_for_port "$TMP/serve.out" "$PID"
if [[ -z "$PORT" ]]; then echo "serve did not start"; cat "$TMP/serve.out" "$TMP/serve.err"; exit 1; fi
BASE="http://127.0.0.1:$PORT"

# api METHOD PATH [BODY-FILE [CONTENT-TYPE]] -> status code; body in $TMP/body
api() {
  local args=(-s -o "$TMP/body" -w '%{http_code}' -X "$1" "$BASE$2" -H "Authorization: Bearer $KEY")
  if [[ $# -ge 3 ]]; then args+=(-H "Content-Type: ${4:-application/json}" --data-binary @"$3"); fi
  curl "${args[@]}"
}
body() {  # body TEXT -> a file holding exactly TEXT (printf escapes: \xff is one byte)
  local f="$TMP/req.$RANDOM"
  printf "$1" >"$f"
  echo "$f"
}
code() { json "$TMP/body" 'd["error"]["code"]'; }

e2e_bootstrap Acme owner@acme.test
SLUG=$(json "$TMP/setup.json" 'd["org"]["slug"]')
check "api key" rpk_ "${KEY:0:4}"

# A public workflow with a webhook trigger (bearer auth) that echoes its input.
HOOK_TOKEN=hook-bearer-token-0123456789
check "bearer connector" 201 "$(api POST /v1/orgs/$ORG/connectors "$(body "{\"id\":\"hookauth\",\"type\":\"bearer\",\"secrets\":{\"token\":\"$HOOK_TOKEN\"}}")")"
cat >"$TMP/echo.yaml" <<'YAML'
rampart: 1
id: echo
visibility: public
inputs:
  type: object
  properties:
    role: { type: string, enum: [viewer, admin], maxLength: 10 }
    n: { type: number }
    s: { type: string, maxLength: 1000 }
    deep: { type: array }
  additionalProperties: false
triggers:
  - type: webhook
    auth: { type: bearer, connector: hookauth }
steps:
  - id: out
    type: set
    values: { role: "{{ inputs.role }}", n: "{{ inputs.n }}" }
output: "{{ steps.out.output }}"
YAML
check "create echo" 201 "$(api POST /v1/orgs/$ORG/workflows "$TMP/echo.yaml" application/yaml)"
check "publish echo" 200 "$(api POST /v1/orgs/$ORG/workflows/echo/publish "$(body '{"version":1}')")"
check "create trigger URL" 201 "$(api POST /v1/orgs/$ORG/workflows/echo/webhooks "$(body '{}')")"
HOOK_URL=$(json "$TMP/body" 'd["url"]')
hook() {  # hook BODY-FILE -> status
  curl -s -o "$TMP/body" -w '%{http_code}' -X POST "$BASE$HOOK_URL" -H "Authorization: Bearer $HOOK_TOKEN" \
    -H 'Content-Type: application/json' --data-binary @"$1"
}
public() {  # public BODY-FILE -> status
  curl -s -o "$TMP/body" -w '%{http_code}' -X POST "$BASE/p/$SLUG/echo" -H 'Content-Type: application/json' \
    --data-binary @"$1"
}

# The well-formed documents pass everywhere (so a refusal below is the parser's).
check "api run ok" 200 "$(api POST /v1/orgs/$ORG/workflows/echo/runs "$(body '{"input":{"role":"viewer","n":1e308},"wait":10}')")"
check "api run output" viewer "$(json "$TMP/body" 'd["output"]["role"]')"
check "hook ok" 202 "$(hook "$(body '{"role":"viewer"}')")"
check "public ok" 200 "$(public "$(body '{"role":"viewer"}')")"

# V1.5.3: the same hostile documents are refused by every JSON entry point.
DUP='{"role":"viewer","role":"admin"}'
INF='{"n":1e400}'
NEGINF='{"n":-1e400}'
BADUTF8='{"s":"\xff\xfe"}'
CESU='{"s":"\xed\xa0\x80"}'
LONE='{"s":"\\ud800"}'
DEEP="{\"deep\":$(printf '[%.0s' $(seq 1 100))$(printf ']%.0s' $(seq 1 100))}"
for doc in DUP INF NEGINF BADUTF8 CESU LONE DEEP; do
  input="${!doc}"
  check "api body $doc" 400 "$(api POST /v1/orgs/$ORG/workflows/echo/runs "$(body "{\"input\":$input,\"wait\":10}")")"
  check "api body $doc code" invalid_argument "$(code)"
  check "hook payload $doc" 400 "$(hook "$(body "$input")")"
  check "public body $doc" 400 "$(public "$(body "$input")")"
done
# A duplicate at the top level of an API body, where the last one would win.
check "api body duplicate field" 400 "$(api POST /v1/orgs/$ORG/workflows/echo/runs "$(body '{"input":{"role":"admin"},"input":{"role":"viewer"},"wait":10}')")"
check "api duplicate field names it" 1 "$(grep -c "duplicate key 'input'" "$TMP/body")"

# Definitions: the JSON and the YAML form of the same hostile definition are both refused.
for form in json yaml; do
  if [[ $form == json ]]; then
    printf '{"rampart":1,"id":"d1","steps":[{"id":"a","type":"set","values":{}}],"id":"d2"}' >"$TMP/dup.$form"
    printf '{"rampart":1,"id":"i1","limits":{"timeout":1e400},"steps":[{"id":"a","type":"set","values":{}}]}' >"$TMP/inf.$form"
    printf '{"rampart":1,"id":"u1","name":"\xff","steps":[{"id":"a","type":"set","values":{}}]}' >"$TMP/utf.$form"
  else
    printf 'rampart: 1\nid: d1\nsteps: [{id: a, type: set, values: {}}]\nid: d2\n' >"$TMP/dup.$form"
    printf 'rampart: 1\nid: i1\nlimits: {timeout: 1e400}\nsteps: [{id: a, type: set, values: {}}]\n' >"$TMP/inf.$form"
    printf 'rampart: 1\nid: u1\nname: "\xff"\nsteps: [{id: a, type: set, values: {}}]\n' >"$TMP/utf.$form"
  fi
  for doc in dup inf utf; do
    check "definition $form $doc" 400 "$(api POST /v1/orgs/$ORG/workflows "$TMP/$doc.$form" application/$form)"
    check "definition $form $doc code" invalid_definition "$(code)"
    "$BIN" validate "$TMP/$doc.$form" >/dev/null 2>&1
    check "validate $form $doc" 2 $?
  done
done

# The CLI's --input and the from_json filter read JSON as the server does.
cat >"$TMP/fj.yaml" <<'YAML'
rampart: 1
id: fj
steps:
  - id: parse
    type: set
    values: { v: "{{ inputs.s | from_json }}" }
YAML
for doc in DUP INF BADUTF8 LONE DEEP; do
  printf "${!doc}" >"$TMP/input.json"
  "$BIN" run "$TMP/fj.yaml" --input "$TMP/input.json" --data "$TMP/run" >/dev/null 2>&1
  check "cli --input $doc" 2 $?
done
for text in '{"a":1,"a":2}' '[1e400]' '["\ud800"]' '{"a":1}'; do
  python3 -c 'import json,sys; open(sys.argv[1],"w").write(json.dumps({"s": sys.argv[2]}))' "$TMP/input.json" "$text"
  "$BIN" run "$TMP/fj.yaml" --input "$TMP/input.json" --data "$TMP/run" --json >"$TMP/body" 2>/dev/null
  want=1
  [[ "$text" == '{"a":1}' ]] && want=0
  check "from_json $text" $want $?
done

# V1.1.1: a path is percent-decoded once, per segment, before routing; an encoded '/'
# never splits a segment and a double-encoded id is not decoded twice.
check "decoded once" 200 "$(api GET /v1/orgs/$ORG/workflows/%65cho)"
check "not decoded twice" 404 "$(api GET /v1/orgs/$ORG/workflows/%2565cho)"
check "encoded slash is no separator" 404 "$(api GET "/v1/orgs/$ORG%2Fworkflows/echo")"
check "encoded slash in an id" 404 "$(api GET "/v1/orgs/$ORG/workflows/echo%2Fversions")"
check "bad escape" 400 "$(api GET /v1/orgs/$ORG/workflows/%zz)"
check "encoded NUL" 400 "$(api GET /v1/orgs/$ORG/workflows/echo%00)"

# V1.4.2: integer fields refuse sign, range, precision and type tricks.
RUNS=/v1/orgs/$ORG/workflows/echo/runs
for w in '-1' '-0.5' '"5"' 'true' '1e400'; do
  check "wait $w" 400 "$(api POST $RUNS "$(body "{\"input\":{},\"wait\":$w}")")"
done
for v in '0' '-0' '-1' '1.5' '9007199254740993' '1e400' '"1"' '18446744073709551616'; do
  check "publish version $v" 400 "$(api POST /v1/orgs/$ORG/workflows/echo/publish "$(body "{\"version\":$v}")")"
done
for l in '0' '-1' '201' '1e2' '0x10' '+5' '99999999999999999999' '%20%31'; do
  check "runs limit $l" 400 "$(api GET "/v1/orgs/$ORG/runs?limit=$l")"
done
for a in '-1' '9223372036854775808' '1.0' 'x'; do
  check "audit after $a" 400 "$(api GET "/v1/orgs/$ORG/audit?after=$a")"
done
for m in '0' '101' '-0' '50.5' '1e2' '"10"'; do
  check "max_concurrent_runs $m" 400 "$(curl -s -b "$TMP/cookies" -o "$TMP/body" -w '%{http_code}' -X PATCH "$BASE/v1/orgs/$ORG" \
    -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' --data-binary "{\"max_concurrent_runs\":$m}")"
done
for t in '0' '-1' '601' '1e400' '"60"'; do
  printf 'rampart: 1\nid: t1\nlimits: {timeout: %s}\nsteps: [{id: a, type: set, values: {}}]\n' "$t" >"$TMP/t.yaml"
  check "limits.timeout $t" 400 "$(api POST /v1/orgs/$ORG/workflows "$TMP/t.yaml" application/yaml)"
done
for m in '0' '11' '-1' '2.5' '9223372036854775808'; do
  printf 'rampart: 1\nid: r1\nsteps:\n  - {id: a, type: action, uses: log.write, with: {message: x}, retry: {max_attempts: %s}}\n' "$m" >"$TMP/r.yaml"
  check "retry.max_attempts $m" 400 "$(api POST /v1/orgs/$ORG/workflows "$TMP/r.yaml" application/yaml)"
done

summary parsers_end_to_end
