#!/usr/bin/env bash
# Installs the vnf CNI plugin: in each directory given, an executable `vnf` that runs the built
# plugin (dist/vnf-cni.js of this checkout) with this machine's node. Rewritten only when it differs.
#
# Podman asks every plugin of every network for its VERSION before each command; the wrapper
# answers that in the shell, with the versions the plugin itself reports at install time (asked
# here, so they are defined once, in src/cni/versions.ts), and starts node only for real work.
set -euo pipefail
bundle=$1
shift
node=$(command -v node)
supported=$(echo '{}' | CNI_COMMAND=VERSION "$node" "$bundle" | sed -n 's/.*"supportedVersions":\(\[[^]]*\]\).*/\1/p')
latest=$(echo '{}' | CNI_COMMAND=VERSION "$node" "$bundle" | sed -n 's/.*"cniVersion":"\([^"]*\)".*/\1/p')
if [[ -z $supported || -z $latest ]]; then
  echo "cni-install: $bundle does not answer VERSION" >&2
  exit 1
fi
versions=$(tr -d '[]"' <<<"$supported" | tr ',' '|')
want=$(cat <<WRAPPER
#!/bin/sh
# vnf CNI plugin (installed by make cni-install)
if [ "\$CNI_COMMAND" = VERSION ]; then
  v=\$(tr -d ' \\t\\n' | grep -o '"cniVersion":"[^"]*"' | head -n 1 | cut -d '"' -f 4)
  case "\$v" in $versions) ;; *) v=$latest ;; esac
  printf '{"cniVersion":"%s","supportedVersions":%s}\\n' "\$v" '$supported'
  exit 0
fi
exec env -u NODE_EXTRA_CA_CERTS -u NODE_OPTIONS $(printf %q "$node") $(printf %q "$bundle") "\$@"
WRAPPER
)
for dir in "$@"; do
  mkdir -p "$dir"
  if [[ ! -f $dir/vnf || $(cat "$dir/vnf") != "$want" ]]; then
    printf '%s\n' "$want" > "$dir/vnf.tmp"
    chmod 755 "$dir/vnf.tmp"
    mv "$dir/vnf.tmp" "$dir/vnf"
    echo "cni-install: $dir/vnf"
  fi
done
