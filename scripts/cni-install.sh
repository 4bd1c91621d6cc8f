#!/usr/bin/env bash
# Installs the vnf CNI plugin: in each directory given, an executable `vnf` that runs the built
# plugin (dist/vnf-cni.js of this checkout) with this machine's node. Rewritten only when it differs.
set -euo pipefail
bundle=$1
shift
node=$(command -v node)
want=$(printf '#!/bin/sh\n# vnf CNI plugin (installed by make cni-install)\nexec env -u NODE_EXTRA_CA_CERTS -u NODE_OPTIONS %q %q "$@"\n' "$node" "$bundle")
for dir in "$@"; do
  mkdir -p "$dir"
  if [[ ! -f $dir/vnf || $(cat "$dir/vnf") != "$want" ]]; then
    printf '%s\n' "$want" > "$dir/vnf.tmp"
    chmod 755 "$dir/vnf.tmp"
    mv "$dir/vnf.tmp" "$dir/vnf"
    echo "cni-install: $dir/vnf"
  fi
done
