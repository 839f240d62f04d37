#!/usr/bin/env bash
# The scheduler's cost on an idle server with many published workflows: a fresh
# `rampart serve`, WORKFLOWS live workflows (SCHEDULED of them with a schedule trigger
# that is never due during the measure), then the server's CPU time (utime + stime of
# /proc/PID/stat) over MEASURE seconds with no request at all. The scheduler passes once
# a second; what it costs per pass is what this shows.
#
# Usage: bench/scheduler_idle.sh [path/to/rampart]
#   default binary: $RAMPART_BIN, else build/release/apps/rampart/rampart
#   env: WORKFLOWS (3000), SCHEDULED (100), MEASURE (30, seconds).
# Needs: curl, jq. Builds nothing.
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
bin="${1:-${RAMPART_BIN:-$root/build/release/apps/rampart/rampart}}"
workflows="${WORKFLOWS:-3000}"
scheduled="${SCHEDULED:-100}"
measure="${MEASURE:-30}"
[[ -x "$bin" ]] || { echo "rampart binary not found at $bin" >&2; exit 1; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/rampart-sched.XXXXXX")"
rampart_pid=""
cleanup() {
  stop_pid "$rampart_pid"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { printf 'scheduler_idle: %s\n' "$*" >&2; exit 1; }
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

EXTRA_CONFIG="quotas: { workflows: $((workflows + 10)) }" start_rampart
bootstrap
log "creating $workflows live workflows ($scheduled scheduled)"
for i in $(seq "$workflows"); do
  trigger=""
  # Never due while measuring: 00:00 on January 1st.
  (( i <= scheduled )) && trigger='triggers: [{ type: schedule, cron: "0 0 1 1 *" }]'
  printf 'rampart: 1\nid: wf-%d\n%s\nsteps:\n  - { id: a, type: set, values: { v: %d } }\n' \
    "$i" "$trigger" "$i" > "$tmp/wf.yaml"
  deploy "$tmp/wf.yaml" "wf-$i"
done
sleep 3  # the scheduler has seen them all (first sight writes its state)
start="$(cpu_ticks "$rampart_pid")"
sleep "$measure"
end="$(cpu_ticks "$rampart_pid")"
hz="$(getconf CLK_TCK)"
awk -v t="$((end - start))" -v hz="$hz" -v s="$measure" -v w="$workflows" -v k="$scheduled" \
  'BEGIN { printf "idle server, %d live workflows (%d scheduled): %.1f ms CPU per second over %d s\n",
           w, k, t * 1000 / hz / s, s }'
log "RSS $(status_field "$rampart_pid" VmRSS) kB"
