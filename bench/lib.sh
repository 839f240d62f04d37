# Shell helpers shared by the end-to-end load scripts (server_load.sh, webhook_load.sh).
# Sourced after the caller set: tmp (scratch dir), bin (the rampart binary) and die().
# IO_THREADS=N (optional) becomes the server's `io_threads` config.

stop_pid() {  # stop_pid PID: TERM, then KILL after 15 s
  local pid="$1"
  [[ -n "$pid" ]] || return 0
  kill -0 "$pid" 2> /dev/null || return 0
  kill -TERM "$pid" 2> /dev/null || true
  for _ in $(seq 150); do
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2> /dev/null || true
  wait "$pid" 2> /dev/null || true
}

log() { printf '== %s\n' "$*" >&2; }
status_field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }  # kB
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }  # utime + stime, in clock ticks
# io_field PID KEY: a counter of /proc/PID/io (write_bytes: bytes sent to storage; syscw:
# write-type system calls, sockets included), 0 when the file is not readable.
io_field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/io" 2> /dev/null || echo 0; }
bench() { awk -v k="$2" '$1 == "BENCH" && $2 == k { print $3 }' "$1"; }  # a wrk Lua BENCH line
rate_of() { awk -v n="$1" -v us="$2" 'BEGIN { printf "%.0f", n / (us / 1e6) }'; }
ms() { awk -v us="$1" 'BEGIN { printf "%.2f ms", us / 1000 }'; }

start_rampart() {  # start_rampart: serves $tmp/data on a free port; sets rampart_pid and base
  : > "$tmp/rampart.out"
  # The config file: io_threads from $IO_THREADS, then the YAML lines of $EXTRA_CONFIG.
  local config=()
  : > "$tmp/config.yaml"
  [[ -n "${IO_THREADS:-}" ]] && printf 'io_threads: %s\n' "$IO_THREADS" >> "$tmp/config.yaml"
  [[ -n "${EXTRA_CONFIG:-}" ]] && printf '%s\n' "$EXTRA_CONFIG" >> "$tmp/config.yaml"
  [[ -s "$tmp/config.yaml" ]] && config=(--config "$tmp/config.yaml")
  "$bin" serve "${config[@]}" --data "$tmp/data" --listen 127.0.0.1:0 >> "$tmp/rampart.out" 2>> "$tmp/rampart.err" &
  rampart_pid=$!
  local port=""
  for _ in $(seq 100); do
    port="$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$tmp/rampart.out")"
    [[ -n "$port" ]] && break
    kill -0 "$rampart_pid" 2> /dev/null || { cat "$tmp/rampart.err" >&2; die "rampart serve exited"; }
    sleep 0.1
  done
  [[ -n "$port" ]] || die "rampart serve did not start listening"
  base="http://127.0.0.1:$port"
}

api() {  # api METHOD PATH [curl args...]: prints the body, fails on a non-2xx answer
  local method="$1" path="$2"
  shift 2
  local code
  code="$(curl -sS -o "$tmp/api.body" -w '%{http_code}' -X "$method" "$base$path" "$@")"
  if [[ "$code" != 2* ]]; then
    echo "$method $path -> $code: $(head -c 2000 "$tmp/api.body")" >&2
    return 1
  fi
  cat "$tmp/api.body"
}

# metric NAME: the value of an unlabelled sample of rampart's /metrics (needs $auth).
metric() { api GET /metrics -H "$auth" | awk -v k="$1" '$1 == k { printf "%d", $2 }'; }

deploy() {  # deploy YAML-FILE WORKFLOW-ID: creates the workflow (needs $org, $auth), publishes v1
  api POST "/v1/orgs/$org/workflows" -H "$auth" -H 'Content-Type: application/yaml' \
    --data-binary "@$1" > /dev/null
  api POST "/v1/orgs/$org/workflows/$2/publish" -H "$auth" \
    -H 'Content-Type: application/json' -d '{"version": 1}' > /dev/null
}

# deploy_hook WORKFLOW-ID: a webhook_secret connector "hook" with a fresh whsec_ secret,
# bench/webhook/workflow.yaml published as WORKFLOW-ID and a trigger URL for it (needs
# $org, $auth); sets secret and hook_path.
deploy_hook() {
  secret="whsec_$(head -c 32 /dev/urandom | base64 -w0)"
  api POST "/v1/orgs/$org/connectors" -H "$auth" -H 'Content-Type: application/json' \
    -d "$(jq -nc --arg s "$secret" '{id: "hook", type: "webhook_secret", secrets: {secret: $s}}')" > /dev/null
  deploy "$(dirname "${BASH_SOURCE[0]}")/webhook/workflow.yaml" "$1"
  hook_path="$(api POST "/v1/orgs/$org/workflows/$1/webhooks" -H "$auth" \
    -H 'Content-Type: application/json' -d '{}' | jq -r .url)"
  [[ "$hook_path" == /hooks/rwh_* ]] || die "unexpected trigger URL: $hook_path"
}

bootstrap() {  # bootstrap: setup + login + a read_write API key; sets org, key and auth
  local email="bench@example.com" password="bench-password-$RANDOM$RANDOM" setup_token csrf
  setup_token="$(cat "$tmp/data/setup-token")"
  org="$(api POST /v1/setup -H 'Content-Type: application/json' \
    -d "$(jq -nc --arg t "$setup_token" --arg e "$email" --arg p "$password" \
      '{setup_token: $t, org_name: "Bench", email: $e, password: $p}')" | jq -r .org.id)"
  csrf="$(api POST /v1/auth/login -c "$tmp/cookies" -H 'Content-Type: application/json' \
    -d "$(jq -nc --arg e "$email" --arg p "$password" '{email: $e, password: $p}')" | jq -r .csrf_token)"
  key="$(api POST "/v1/orgs/$org/api-keys" -b "$tmp/cookies" -H "X-CSRF-Token: $csrf" \
    -H 'Content-Type: application/json' -d '{"name": "bench", "scope": "read_write"}' | jq -r .key)"
  auth="Authorization: Bearer $key"
}

# callgrind_wrapper OUT BIN: start_rampart will run BIN under callgrind, counting nothing
# until counted_wrk turns it on, into the file OUT. Sets bin.
callgrind_wrapper() {
  printf '#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file=%s --instr-atstart=no "%s" "$@"\n' \
    "$1" "$2" > "$tmp/valgrind-rampart.sh"
  chmod +x "$tmp/valgrind-rampart.sh"
  bin="$tmp/valgrind-rampart.sh"
}

# counted_wrk FILE WRK-ARGS...: runs wrk (its output to FILE) with callgrind counting only
# meanwhile, then stops rampart: callgrind writes its file at exit.
counted_wrk() {
  local file="$1"
  shift
  callgrind_control -i on "$rampart_pid" > /dev/null
  wrk "$@" > "$file"
  callgrind_control -i off "$rampart_pid" > /dev/null
  stop_pid "$rampart_pid"
  rampart_pid=""
}

# callgrind_total OUT: the instructions callgrind counted (every thread).
callgrind_total() { callgrind_annotate "$1" 2> /dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'; }
