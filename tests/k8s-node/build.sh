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

label=k8s-node
# shellcheck source=../lib/go-build.sh
source "$here/../lib/go-build.sh"

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
inputs_hash="$(cd "$here" && cat build.sh ../lib/go-build.sh kube/go.mod kube/go.sum \
    coredns/go.mod coredns/go.sum coredns/main.go metrics-server/go.mod metrics-server/go.sum | sha256sum | cut -c1-12)"
dir="$cache/k8s-node-${k8s_version#v}-coredns${coredns_version#v}-ms${metrics_server_version#v}-$inputs_hash"
begin_build "$dir" kubelet kube-scheduler kube-proxy kubectl coredns metrics-server

echo "k8s-node: kubernetes $k8s_version, coredns $coredns_version," \
    "metrics-server $metrics_server_version -> $bin" >&2

ldflags="$(kube_ldflags "$k8s_version")"
for cmd in kubelet kube-scheduler kube-proxy kubectl; do
    step "$cmd" go -C "$here/kube" build -trimpath -ldflags="$ldflags" \
        -o "$staging/$cmd" "k8s.io/kubernetes/cmd/$cmd"
done

step coredns go -C "$here/coredns" build -trimpath -ldflags="-s -w" -o "$staging/coredns" .
step metrics-server go -C "$here/metrics-server" build -trimpath -ldflags="-s -w" \
    -o "$staging/metrics-server" sigs.k8s.io/metrics-server/cmd/metrics-server

finish_build
