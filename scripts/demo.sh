#!/usr/bin/env bash
# make demo: shows vnf working on this machine (needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
node dist/demo/count-ping.js
