#!/usr/bin/env bash
# Installs the Debian packages Rampart needs, only those that are missing.
# Idempotent: a second run with everything present does nothing and touches no network.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config curl python3
  libboost1.81-dev libboost-json1.81-dev libboost-system1.81-dev
  libyaml-dev libre2-dev libcli11-dev libssl-dev libsqlite3-dev
  libgtest-dev libgmock-dev libbenchmark-dev libargon2-dev libcurl4-openssl-dev
  libspdlog-dev libmimalloc-dev libicu-dev
)
if [[ "${RAMPART_WITH_BENCH:-0}" == "1" ]]; then
  PACKAGES+=(nginx-light wrk curl)
fi
if [[ "${RAMPART_WITH_FUZZ:-0}" == "1" ]]; then
  PACKAGES+=(clang-19 libclang-rt-19-dev)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
