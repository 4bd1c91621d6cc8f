#!/usr/bin/env bash
# Sets up rootful podman 4.3 with the CNI network backend, for the CNI plugin
# tests: Debian packages, /etc/containers/containers.conf, and a local
# busybox image (localhost/vnf-busybox:latest) built without any registry.
# Idempotent: prints one line per thing it did, nothing (and takes ~0.1 s)
# when everything is already there.
set -euo pipefail

IMAGE=localhost/vnf-busybox:latest
CONF=/etc/containers/containers.conf

APT_PACKAGES=(
  podman                      # 4.3; pulls conmon + golang-github-containers-common
  runc                        # crun fails on this machine's cgroup layout (shared/sandbox.md)
  containernetworking-plugins # reference bridge, host-local, portmap, ... in /usr/lib/cni
  busybox-static              # the container image's only binary
  iptables                    # portmap / bridge ipMasq / firewall plugins
)

# containers.conf: section, key, value. Written only when the key is not set
# (uncommented) in that section already; other content is left as it is.
#  - default_ulimits: podman (as root) otherwise asks for nofile=1048576 and a
#    huge nproc, above this machine's hard limits, and root here lacks
#    CAP_SYS_RESOURCE: "error setting rlimit type 7: operation not permitted".
#    With these, no --ulimit flags are needed. (A --ulimit flag replaces this
#    whole list, so a caller passing one must pass both.)
#  - network_backend: CNI, not netavark.
#  - runtime / cgroup_manager: what podman picks by itself here today (crun is
#    not installed, no systemd); pinned so that --runtime/--cgroup-manager
#    flags are not needed even if crun gets installed later.
CONF_SETTINGS=(
  'containers|default_ulimits|["nofile=1024:1024", "nproc=1024:1024"]'
  'network|network_backend|"cni"'
  'engine|runtime|"runc"'
  'engine|cgroup_manager|"cgroupfs"'
)

say() { echo "podman-setup: $*"; }

if [[ $(id -u) -ne 0 ]]; then
  echo "podman-setup: must run as root (rootful podman with CNI networks)" >&2
  exit 1
fi

# 1. Debian packages, only the missing ones.
declare -A installed=()
while read -r pkg status; do
  if [[ $status == ii ]]; then installed[$pkg]=1; fi
done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${APT_PACKAGES[@]}" 2>/dev/null || true)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  [[ -n ${installed[$p]:-} ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Without recommends podman still runs rootful containers here; the
  # recommends (buildah, slirp4netns, fuse-overlayfs, uidmap, ...) are for
  # rootless use and image building.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    2> >(grep -v '^debconf: delaying package configuration' >&2)
fi

# 2. containers.conf
conf_has() { # section key -> 0 when "key =" is set (uncommented) in [section]
  [[ -f $CONF ]] || return 1
  awk -v sec="$1" -v key="$2" '
    /^[ \t]*\[[^]]*\][ \t]*(#.*)?$/ {
      s = $0; sub(/^[ \t]*\[[ \t]*/, "", s); sub(/[ \t]*\].*$/, "", s); cur = s; next
    }
    cur == sec && $0 ~ "^[ \t]*" key "[ \t]*=" { found = 1; exit }
    END { exit !found }' "$CONF"
}
conf_set() { # section key value: after the [section] header, or a new section
  local sec=$1 key=$2 val=$3 tmp
  mkdir -p "$(dirname "$CONF")"
  touch "$CONF"
  tmp=$(mktemp "$CONF.XXXXXX")
  if grep -Eq "^[[:space:]]*\[[[:space:]]*${sec}[[:space:]]*\][[:space:]]*(#.*)?$" "$CONF"; then
    awk -v sec="$sec" -v line="$key = $val" '
      { print }
      !done && /^[ \t]*\[[^]]*\][ \t]*(#.*)?$/ {
        s = $0; sub(/^[ \t]*\[[ \t]*/, "", s); sub(/[ \t]*\].*$/, "", s)
        if (s == sec) { print line; done = 1 }
      }' "$CONF" >"$tmp"
  else
    { cat "$CONF"; [[ ! -s $CONF ]] || echo; echo "[$sec]"; echo "$key = $val"; } >"$tmp"
  fi
  chmod 644 "$tmp"
  mv "$tmp" "$CONF"
  say "$CONF: [$sec] $key = $val"
}
for s in "${CONF_SETTINGS[@]}"; do
  IFS='|' read -r sec key val <<<"$s"
  conf_has "$sec" "$key" || conf_set "$sec" "$key" "$val"
done

# 3. The busybox image: the static binary and its applet links, nothing else.
if ! podman image exists "$IMAGE"; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  root=$tmp/rootfs
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,root,var/tmp}
  install -d -m 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  while read -r applet; do # e.g. bin/sh, sbin/ip, usr/bin/wget
    [[ $applet == */* && $applet != bin/busybox ]] || continue
    ln -sf /bin/busybox "$root/$applet"
  done < <(/bin/busybox --list-full)
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  tar -C "$root" --numeric-owner --owner=0 --group=0 -cf "$tmp/rootfs.tar" .
  podman import -q --change 'CMD ["/bin/sh"]' "$tmp/rootfs.tar" "$IMAGE" >/dev/null
  say "imported $IMAGE"
fi
