#!/usr/bin/env bash
# Builds the Kubernetes test tools from their upstream Go modules (no release downloads):
#   etcd                     go.etcd.io/etcd/server/v3/etcdmain       (./etcd)
#   kube-apiserver           k8s.io/kubernetes/cmd/kube-apiserver     (./kube)
#   kube-controller-manager  k8s.io/kubernetes/cmd/kube-controller-manager (./kube)
#   helm                     helm.sh/helm/v3/cmd/helm                 (./helm)
# into a cache directory outside the checkout, keyed by the versions pinned in the go.mod files:
#   ${HYDRANT_CACHE:-$HOME/.cache/hydrant}/k8s-tools-<k8s>-etcd<etcd>-helm<helm>/bin/
#
# Idempotent: when that directory is complete it exits at once. The last line on stdout is
# always the bin directory; everything else goes to stderr. Safe to run concurrently (flock).
# Go modules come from the module proxy into the usual module cache (~/go/pkg/mod); once
# that cache is warm the build works offline.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

label=k8s-tools
# shellcheck source=../lib/go-build.sh
source "$here/../lib/go-build.sh"

k8s_version="$(modver "$here/kube" k8s.io/kubernetes)"
etcd_version="$(modver "$here/etcd" go.etcd.io/etcd/server/v3)"
helm_version="$(modver "$here/helm" helm.sh/helm/v3)"
helm_client_go="$(modver "$here/helm" k8s.io/client-go)"

cache="${HYDRANT_CACHE:-$HOME/.cache/hydrant}"
dir="$cache/k8s-tools-${k8s_version#v}-etcd${etcd_version#v}-helm${helm_version#v}"
begin_build "$dir" etcd kube-apiserver kube-controller-manager helm

echo "k8s-tools: kubernetes $k8s_version, etcd $etcd_version, helm $helm_version -> $bin" >&2

step etcd go -C "$here/etcd" build -trimpath -ldflags="-s -w" -o "$staging/etcd" .

ldflags="$(kube_ldflags "$k8s_version")"
for cmd in kube-apiserver kube-controller-manager; do
    step "$cmd" go -C "$here/kube" build -trimpath -ldflags="$ldflags" \
        -o "$staging/$cmd" "k8s.io/kubernetes/cmd/$cmd"
done

# Helm's default .Capabilities.KubeVersion follows the client-go it is built with (client-go
# v0.X.Y -> Kubernetes 1.X), as its Makefile sets it.
cg_minor="${helm_client_go#v0.}"
cg_minor="${cg_minor%%.*}"
helm_ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$helm_version"
helm_ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    helm_ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$cg_minor"
done
step helm go -C "$here/helm" build -trimpath -ldflags="$helm_ldflags" \
    -o "$staging/helm" helm.sh/helm/v3/cmd/helm

finish_build
