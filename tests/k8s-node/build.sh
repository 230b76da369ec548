#!/usr/bin/env bash
# Builds the binaries of a real single-node cluster that tests/k8s-tools does not build, from
# their upstream Go modules (no release downloads):
#   kubelet, kube-scheduler, kube-proxy, kubectl   k8s.io/kubernetes/cmd/...   (./kube)
#   coredns                                        github.com/coredns/coredns  (./coredns; only
#                                                  the plugins up.sh's Corefile uses)
#   metrics-server                                 sigs.k8s.io/metrics-server  (./metrics-server;
#                                                  the resource metrics API an HPA reads)
# into a cache directory outside the checkout, keyed by the versions pinned in the go.mod files
# and a hash of the build inputs (this script, the go.mod/go.sum files, CoreDNS's plugin list):
#   ${HYDRANT_CACHE:-$HOME/.cache/hydrant}/k8s-node-<k8s>-coredns<coredns>-<hash>/bin/
# The control plane (etcd, kube-apiserver, kube-controller-manager) and helm stay in
# tests/k8s-tools/build.sh; up.sh uses both directories. ./kube pins the same Kubernetes
# version as ../k8s-tools/kube (checked below): the node must match the control plane.
#
# Idempotent: when that directory is complete it exits at once. The last line on stdout is
# always the bin directory; everything else goes to stderr. Safe to run concurrently (flock).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Version of module $2 as required in $1/go.mod (block or single-line require).
modver() {
    local v
    v="$(awk -v m="$2" '
        $1 == m && $2 ~ /^v/ { print $2; exit }
        $1 == "require" && $2 == m && $3 ~ /^v/ { print $3; exit }
    ' "$1/go.mod")"
    if [[ -z "$v" ]]; then
        echo "k8s-node: $2 not found in $1/go.mod" >&2
        exit 1
    fi
    printf '%s\n' "$v"
}

k8s_version="$(modver "$here/kube" k8s.io/kubernetes)"
control_plane="$(modver "$here/../k8s-tools/kube" k8s.io/kubernetes)"
if [[ "$k8s_version" != "$control_plane" ]]; then
    echo "k8s-node: kube/go.mod pins k8s.io/kubernetes $k8s_version but ../k8s-tools/kube/go.mod" \
        "pins $control_plane; keep them equal" >&2
    exit 1
fi
coredns_version="$(modver "$here/coredns" github.com/coredns/coredns)"
metrics_server_version="$(modver "$here/metrics-server" sigs.k8s.io/metrics-server)"

cache="${HYDRANT_CACHE:-$HOME/.cache/hydrant}"
inputs_hash="$(cd "$here" && cat build.sh kube/go.mod kube/go.sum coredns/go.mod coredns/go.sum \
    coredns/main.go metrics-server/go.mod metrics-server/go.sum | sha256sum | cut -c1-12)"
dir="$cache/k8s-node-${k8s_version#v}-coredns${coredns_version#v}-ms${metrics_server_version#v}-$inputs_hash"
bin="$dir/bin"
tools=(kubelet kube-scheduler kube-proxy kubectl coredns metrics-server)

complete() {
    [[ -f "$bin/.complete" ]] || return 1
    local t
    for t in "${tools[@]}"; do
        [[ -x "$bin/$t" ]] || return 1
    done
}

if complete; then
    printf '%s\n' "$bin"
    exit 0
fi

mkdir -p "$dir"
exec 9>"$dir/.lock"
if ! flock -n 9; then
    echo "k8s-node: another build holds $dir/.lock; waiting" >&2
    flock 9
fi
if complete; then
    printf '%s\n' "$bin"
    exit 0
fi

command -v go >/dev/null || { echo "k8s-node: go is not installed" >&2; exit 1; }

# -mod=mod: never fail on a go.sum that lacks a line (the committed files are tidy). CGO off:
# static binaries, as upstream builds them.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"
export CGO_ENABLED=0

staging="$dir/bin.partial"
rm -rf "$staging"
mkdir -p "$staging"
start=$SECONDS

step() {
    local name="$1"
    shift
    echo "k8s-node: building $name" >&2
    local t0=$SECONDS
    "$@" >&2
    echo "k8s-node: built $name in $((SECONDS - t0))s" >&2
}

echo "k8s-node: kubernetes $k8s_version, coredns $coredns_version," \
    "metrics-server $metrics_server_version -> $bin" >&2

k8s_minor="${k8s_version#v1.}"
k8s_minor="${k8s_minor%%.*}"
kube_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    kube_ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
    kube_ldflags+=" -X $pkg.gitTreeState=clean"
done
for cmd in kubelet kube-scheduler kube-proxy kubectl; do
    step "$cmd" go -C "$here/kube" build -trimpath -ldflags="$kube_ldflags" \
        -o "$staging/$cmd" "k8s.io/kubernetes/cmd/$cmd"
done

step coredns go -C "$here/coredns" build -trimpath -ldflags="-s -w" -o "$staging/coredns" .
step metrics-server go -C "$here/metrics-server" build -trimpath -ldflags="-s -w" \
    -o "$staging/metrics-server" sigs.k8s.io/metrics-server/cmd/metrics-server

touch "$staging/.complete"
rm -rf "$bin"
mv "$staging" "$bin"
echo "k8s-node: done in $((SECONDS - start))s" >&2
printf '%s\n' "$bin"
