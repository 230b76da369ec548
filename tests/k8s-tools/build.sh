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

# Version of module $2 as required in $1/go.mod (block or single-line require).
modver() {
    local v
    v="$(awk -v m="$2" '
        $1 == m && $2 ~ /^v/ { print $2; exit }
        $1 == "require" && $2 == m && $3 ~ /^v/ { print $3; exit }
    ' "$here/$1/go.mod")"
    if [[ -z "$v" ]]; then
        echo "k8s-tools: $2 not found in $1/go.mod" >&2
        exit 1
    fi
    printf '%s\n' "$v"
}

k8s_version="$(modver kube k8s.io/kubernetes)"
etcd_version="$(modver etcd go.etcd.io/etcd/server/v3)"
helm_version="$(modver helm helm.sh/helm/v3)"
helm_client_go="$(modver helm k8s.io/client-go)"

cache="${HYDRANT_CACHE:-$HOME/.cache/hydrant}"
dir="$cache/k8s-tools-${k8s_version#v}-etcd${etcd_version#v}-helm${helm_version#v}"
bin="$dir/bin"
tools=(etcd kube-apiserver kube-controller-manager helm)

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
    echo "k8s-tools: another build holds $dir/.lock; waiting" >&2
    flock 9
fi
if complete; then
    printf '%s\n' "$bin"
    exit 0
fi

command -v go >/dev/null || { echo "k8s-tools: go is not installed" >&2; exit 1; }

# -mod=mod: never fail on a go.sum that lacks a line (the committed files are tidy, so
# nothing changes in the normal case). CGO off: static binaries, as upstream builds them.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"
export CGO_ENABLED=0

staging="$dir/bin.partial"
rm -rf "$staging"
mkdir -p "$staging"
start=$SECONDS

step() {
    local name="$1"
    shift
    echo "k8s-tools: building $name" >&2
    local t0=$SECONDS
    "$@" >&2
    echo "k8s-tools: built $name in $((SECONDS - t0))s" >&2
}

echo "k8s-tools: kubernetes $k8s_version, etcd $etcd_version, helm $helm_version -> $bin" >&2

step etcd go -C "$here/etcd" build -trimpath -ldflags="-s -w" -o "$staging/etcd" .

k8s_minor="${k8s_version#v1.}"
k8s_minor="${k8s_minor%%.*}"
kube_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    kube_ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
    kube_ldflags+=" -X $pkg.gitTreeState=clean"
done
for cmd in kube-apiserver kube-controller-manager; do
    step "$cmd" go -C "$here/kube" build -trimpath -ldflags="$kube_ldflags" \
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

touch "$staging/.complete"
rm -rf "$bin"
mv "$staging" "$bin"
echo "k8s-tools: done in $((SECONDS - start))s" >&2
printf '%s\n' "$bin"
