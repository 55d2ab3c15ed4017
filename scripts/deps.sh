#!/usr/bin/env bash
# Installs the Debian packages Stratus needs to build, test and benchmark, only when missing.
# Usage: scripts/deps.sh [build|test|bench]   (each level includes the ones before it)
set -euo pipefail
level=${1:-build}

pkgs=(g++ cmake ninja-build ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-system1.81-dev
  libssl-dev libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev ca-certificates
  libsqlite3-dev libpq-dev libmimalloc-dev)
if [[ $level == test || $level == bench ]]; then
  # postgresql: the store tests start a throwaway server (initdb/pg_ctl) in a temp dir.
  pkgs+=(libgtest-dev libgmock-dev libbenchmark-dev openssl curl postgresql)
fi
if [[ $level == bench ]]; then
  pkgs+=(wrk nginx-light)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  [[ $level == build ]] || missing+=(nodejs npm)
fi

if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
