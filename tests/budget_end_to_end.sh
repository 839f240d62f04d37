#!/usr/bin/env bash
# The run record budget against the real binary (ASVS V15.2.2): with a small
# `max_run_record_bytes`, a loop copying a large input fails cleanly with limit_exceeded
# (the request is answered, the stored record says why, the server keeps serving), and
# `rampart run --config` applies the same limit; a side-effect-free run past its inline
# CPU budget goes on on a worker. Talks only to 127.0.0.1.
set -uo pipefail
BIN="$1"
SRC="$2"
TMP=$(mktemp -d)
PID=""
source "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"
trap e2e_cleanup EXIT

cat >"$TMP/copy-loop.yaml" <<'YAML'
rampart: 1
id: copy-loop
steps:
  - id: loop
    type: for_each
    items: "{{ inputs.items }}"
    do:
      - id: copy
        type: set
        values: { v: "{{ inputs.big }}" }
YAML
# 100,000 bytes copied 20 times under a 1 MiB budget: the 10th copy does not fit.
python3 -c 'import json; print(json.dumps({"big": "x" * 100000, "items": list(range(20))}))' >"$TMP/input.json"
python3 -c 'import json; print(json.dumps({"big": "x" * 1000, "items": list(range(20))}))' >"$TMP/small.json"
printf 'max_run_record_bytes: 1048576\n' >"$TMP/config.yaml"

# rampart run --config honours the limit; without it the default (16 MiB) lets it run.
"$BIN" run "$TMP/copy-loop.yaml" --input "$TMP/input.json" --json --config "$TMP/config.yaml" >"$TMP/local.json" 2>"$TMP/local.err"
check "local run over the budget exits 1" 1 $?
check "local run error code" limit_exceeded "$(json "$TMP/local.json" 'd["error"]["code"]')"
check "local run error step" "loop[9].copy" "$(json "$TMP/local.json" 'd["error"]["step"]')"
"$BIN" run "$TMP/copy-loop.yaml" --input "$TMP/input.json" --json >"$TMP/local.json" 2>"$TMP/local.err"
check "local run under the default budget succeeds" 0 $?

# Config refusals: out of range.
printf 'listen: 127.0.0.1:0\nmax_run_record_bytes: 1000\n' >"$TMP/bad.yaml"
"$BIN" serve --config "$TMP/bad.yaml" --data "$TMP/data0" >"$TMP/out" 2>&1
check "max_run_record_bytes out of range refused" 2 $?
grep -q "max_run_record_bytes must be 1048576..268435456 bytes" "$TMP/out"
check "max_run_record_bytes refusal says why" 0 $?

DATA="$TMP/data"
"$BIN" serve --config "$TMP/config.yaml" --data "$DATA" --listen 127.0.0.1:0 >"$TMP/serve.out" 2>"$TMP/serve.err" &
PID=$!
wait_for_port "$TMP/serve.out" "$PID"
check "server started" 1 $([[ -n "$PORT" ]] && echo 1 || echo 0)
BASE="http://127.0.0.1:$PORT"
e2e_bootstrap Acme owner@acme.test
api() {  # api METHOD PATH [BODY-FILE] -> status code; body in $TMP/body
  local args=(-s -o "$TMP/body" -w '%{http_code}' -X "$1" "$BASE$2" -H "Authorization: Bearer $KEY")
  if [[ $# -ge 3 ]]; then args+=(-H 'Content-Type: application/json' --data-binary @"$3"); fi
  curl "${args[@]}"
}
code=$(curl -s -o "$TMP/body" -w '%{http_code}' -X POST "$BASE/v1/orgs/$ORG/workflows" \
  -H "Authorization: Bearer $KEY" -H 'Content-Type: application/yaml' --data-binary @"$TMP/copy-loop.yaml")
check "create workflow" 201 "$code"
echo '{"version":1}' >"$TMP/publish.json"
check "publish workflow" 200 "$(api POST "/v1/orgs/$ORG/workflows/copy-loop/publish" "$TMP/publish.json")"

# With wait: answered 200 with the failed record.
python3 -c 'import json,sys; print(json.dumps({"input": json.load(open(sys.argv[1])), "wait": 30}))' "$TMP/input.json" >"$TMP/run.json"
check "run with wait answered" 200 "$(api POST "/v1/orgs/$ORG/workflows/copy-loop/runs" "$TMP/run.json")"
check "run failed" failed "$(json "$TMP/body" 'd["status"]')"
check "run error code" limit_exceeded "$(json "$TMP/body" 'd["error"]["code"]')"
check "run error step" "loop[9].copy" "$(json "$TMP/body" 'd["error"]["step"]')"
RUN=$(json "$TMP/body" 'd["run_id"]')
check "stored record" 200 "$(api GET "/v1/orgs/$ORG/runs/$RUN")"
check "stored record says limit_exceeded" limit_exceeded "$(json "$TMP/body" 'd["error"]["code"]')"
check "stored record keeps the steps before" 11 "$(json "$TMP/body" 'len(d["steps"])')"
check "the failed step has no output" None "$(json "$TMP/body" 'd["steps"][-1].get("output")')"
check "the stored record stays under the budget" True "$(json "$TMP/body" 'len(json.dumps(d)) <= 1048576')"
grep -q xxxxxxxxxx <(json "$TMP/body" 'd["error"]["message"]')
check "the error message carries no value" 1 $?

# Without wait: accepted 202, then failed the same way.
python3 -c 'import json,sys; print(json.dumps({"input": json.load(open(sys.argv[1]))}))' "$TMP/input.json" >"$TMP/async.json"
check "async run accepted" 202 "$(api POST "/v1/orgs/$ORG/workflows/copy-loop/runs" "$TMP/async.json")"
RUN=$(json "$TMP/body" 'd["run_id"]')
status=""
for _ in $(seq 1 300); do
  api GET "/v1/orgs/$ORG/runs/$RUN" >/dev/null
  status=$(json "$TMP/body" 'd["status"]')
  [[ "$status" == failed || "$status" == succeeded ]] && break
  sleep 0.1
done
check "async run failed" failed "$status"
check "async run error code" limit_exceeded "$(json "$TMP/body" 'd["error"]["code"]')"

# The server still serves, and a run within the budget succeeds.
python3 -c 'import json,sys; print(json.dumps({"input": json.load(open(sys.argv[1])), "wait": 30}))' "$TMP/small.json" >"$TMP/run.json"
check "small run answered" 200 "$(api POST "/v1/orgs/$ORG/workflows/copy-loop/runs" "$TMP/run.json")"
check "small run succeeded" succeeded "$(json "$TMP/body" 'd["status"]')"

# A side-effect-free run that computes for long does not hold the io thread that took
# its request: past 50 ms of CPU it is committed queued and a worker runs it from the
# start; the caller waiting (wait) still gets the final record, computed once in full.
cat >"$TMP/heavy.yaml" <<'YAML'
rampart: 1
id: heavy
steps:
  - id: outer
    type: for_each
    items: "{{ inputs.items }}"
    as: i
    do:
      - id: inner
        type: for_each
        items: "{{ inputs.items }}"
        do:
          - id: hash
            type: set
            values: { h: "{{ (inputs.big + i + '-' + item) | upper | sha256 }}" }
output: "{{ steps.outer.output | length }}"
YAML
python3 -c 'import json; print(json.dumps({"input": {"big": "y" * 200000, "items": [str(n) for n in range(40)]}, "wait": 120}))' >"$TMP/heavy-run.json"
code=$(curl -s -o "$TMP/body" -w '%{http_code}' -X POST "$BASE/v1/orgs/$ORG/workflows" \
  -H "Authorization: Bearer $KEY" -H 'Content-Type: application/yaml' --data-binary @"$TMP/heavy.yaml")
check "create heavy workflow" 201 "$code"
check "publish heavy workflow" 200 "$(api POST "/v1/orgs/$ORG/workflows/heavy/publish" "$TMP/publish.json")"
handed_over() {
  curl -s "$BASE/metrics" -H "Authorization: Bearer $KEY" | sed -n 's/^rampart_runs_handed_over_total \([0-9]*\).*/\1/p'
}
check "no run handed over yet" 0 "$(handed_over)"
check "heavy run answered" 200 "$(api POST "/v1/orgs/$ORG/workflows/heavy/runs" "$TMP/heavy-run.json")"
check "heavy run succeeded" succeeded "$(json "$TMP/body" 'd["status"]')"
check "heavy run output" 40 "$(json "$TMP/body" 'd["output"]')"
check "heavy run recorded every step once" 1641 "$(json "$TMP/body" 'len(d["steps"])')"
check "heavy run was handed to a worker" 1 "$(handed_over)"
check "the small run is still inline" 200 "$(api POST "/v1/orgs/$ORG/workflows/copy-loop/runs" "$TMP/run.json")"
check "no other run handed over" 1 "$(handed_over)"
kill -TERM "$PID"; wait "$PID"
check "clean shutdown" 0 $?
PID=""

summary budget_end_to_end
