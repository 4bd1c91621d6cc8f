#!/usr/bin/env bash
# Installs what vnf needs to build, test and run, and nothing when all of it
# is already there. Debian packages via apt-get (root), npm packages via npm ci.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  # build
  clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool pkg-config make g++ python3
  # run and test
  iproute2 iputils-ping netcat-openbsd ethtool tcpdump
  # benchmarks and the Linux reference datapath
  iperf3 iptables nftables
  # trafgen: frames from an AF_PACKET TX ring, whose headers arrive paged (test/integration/router-paged)
  netsniff-ng
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "deps: missing Debian packages: ${missing[*]}; run as root (apt-get install) or install them" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci when node_modules is missing or older than the lock file.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "deps: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
