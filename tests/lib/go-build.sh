# Sourced by the scripts that build test binaries from their Go modules (tests/k8s-tools/build.sh,
# tests/k8s-node/build.sh): the version lookup, the cache directory with its lock, the staged
# build. The caller sets `label` (its log prefix) before sourcing. Logs go to stderr; the bin
# directory is the last line on stdout.

# modver GO_MOD_DIR MODULE: the version of MODULE that GO_MOD_DIR/go.mod requires (block or
# single-line require).
modver() {
    local v
    v="$(awk -v m="$2" '
        $1 == m && $2 ~ /^v/ { print $2; exit }
        $1 == "require" && $2 == m && $3 ~ /^v/ { print $3; exit }
    ' "$1/go.mod")"
    if [[ -z "$v" ]]; then
        echo "$label: $2 not found in $1/go.mod" >&2
        exit 1
    fi
    printf '%s\n' "$v"
}

# bin_complete: every tool of `tools` is in `bin`, which a finished build marked complete.
bin_complete() {
    [[ -f "$bin/.complete" ]] || return 1
    local t
    for t in "${tools[@]}"; do
        [[ -x "$bin/$t" ]] || return 1
    done
}

# begin_build DIR TOOL...: when DIR/bin holds every TOOL, prints it and exits; otherwise takes
# DIR's lock (waiting while another build holds it, then checking again) and sets up an empty
# `staging` directory for the tools, Go's flags and `start` for finish_build.
begin_build() {
    dir="$1"
    shift
    tools=("$@")
    bin="$dir/bin"
    if bin_complete; then
        printf '%s\n' "$bin"
        exit 0
    fi
    mkdir -p "$dir"
    exec 9>"$dir/.lock"
    if ! flock -n 9; then
        echo "$label: another build holds $dir/.lock; waiting" >&2
        flock 9
    fi
    if bin_complete; then
        printf '%s\n' "$bin"
        exit 0
    fi
    command -v go >/dev/null || { echo "$label: go is not installed" >&2; exit 1; }
    # -mod=mod: never fail on a go.sum that lacks a line (the committed files are tidy, so
    # nothing changes in the normal case). CGO off: static binaries, as upstream builds them.
    export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"
    export CGO_ENABLED=0
    staging="$dir/bin.partial"
    rm -rf "$staging"
    mkdir -p "$staging"
    start=$SECONDS
}

# step NAME CMD...: runs one build command, logging how long it took.
step() {
    local name="$1"
    shift
    echo "$label: building $name" >&2
    local t0=$SECONDS
    "$@" >&2
    echo "$label: built $name in $((SECONDS - t0))s" >&2
}

# kube_ldflags VERSION: the linker flags that stamp a Kubernetes binary with its version, as
# upstream's build does (the binaries report it, and the kubelet and API server compare it).
kube_ldflags() {
    local minor="${1#v1.}"
    minor="${minor%%.*}"
    local flags="-s -w" pkg
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        flags+=" -X $pkg.gitVersion=$1 -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
        flags+=" -X $pkg.gitTreeState=clean"
    done
    printf '%s\n' "$flags"
}

# finish_build: marks the staged tools complete, moves them to `bin` and prints it.
finish_build() {
    touch "$staging/.complete"
    rm -rf "$bin"
    mv "$staging" "$bin"
    echo "$label: done in $((SECONDS - start))s" >&2
    printf '%s\n' "$bin"
}
