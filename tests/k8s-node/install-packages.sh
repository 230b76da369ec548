#!/usr/bin/env bash
# Installs the Debian packages a real single-node cluster needs (tests/k8s-node/up.sh) and that
# images/build.sh uses:
#   containerd                   container runtime (CRI), with its `ctr` client
#   runc                         OCI runtime containerd starts containers with
#   containernetworking-plugins  CNI plugins bridge, host-local, loopback, portmap in /usr/lib/cni
#   buildah                      builds OCI image archives without a Docker engine or a registry
#   iptables, iproute2           kube-proxy's rules; netns, bridge and addresses
#   conntrack                    kube-proxy clears stale UDP conntrack entries with it
# Idempotent: exits at once when every package is already installed. Must run as root.
# Nothing here is started: containerd's own service (if the package enables one) is not used;
# up.sh starts its own containerd with its own config inside a network namespace.
set -euo pipefail

pkgs=(containerd runc containernetworking-plugins buildah iptables iproute2 conntrack)

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$p")
    fi
done

if ((${#missing[@]} == 0)); then
    echo "k8s-node: packages already installed: ${pkgs[*]}" >&2
    exit 0
fi

if [[ $EUID -ne 0 ]]; then
    echo "k8s-node: installing ${missing[*]} needs root" >&2
    exit 1
fi

echo "k8s-node: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d: do not start the packaged services while installing (there is no init system
# to run them here, and up.sh runs its own containerd).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    created_policy=1
fi
trap '[[ $created_policy == 1 ]] && rm -f "$policy"' EXIT
apt-get update >&2
apt-get install -y --no-install-recommends "${missing[@]}" >&2
