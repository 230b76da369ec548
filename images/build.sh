#!/usr/bin/env bash
# Builds Hydrant's container images as OCI archives with buildah, without a Docker engine or a
# registry:
#   dataplane  ghcr.io/hydrant-dev/hydrant:<appVersion>           hydrant-<appVersion>.oci.tar
#   operator   ghcr.io/hydrant-dev/hydrant-operator:<appVersion>  hydrant-operator-<appVersion>.oci.tar
#   pause      localhost/hydrant/pause:<PAUSE_VERSION>            pause-<PAUSE_VERSION>.oci.tar
# <appVersion> is charts/hydrant/Chart.yaml's appVersion, so the archives carry the chart's
# default image references (values.yaml: image.repository, dataplane.image.repository, tags
# defaulting to appVersion). The pause image is the pod sandbox of tests/k8s-node (containerd's
# sandbox_image).
#
# Usage: images/build.sh [dataplane|operator|pause ...]     (no argument: all three)
# Environment:
#   HYDRANT_CACHE     cache root (default ~/.cache/hydrant); archives go to $HYDRANT_CACHE/images/
#   HYDRANT_BIN_DIR   take hydrant / hydrant-operator from this directory instead of running
#                     `cargo build --release --locked` (default: cargo's release dir, honouring
#                     CARGO_TARGET_DIR)
# The last line on stdout is the archive directory; everything else goes to stderr. An archive
# whose inputs (binary, libraries, this script, rootfs.sh) have not changed is not rebuilt.
# Import into containerd: ctr -n k8s.io images import <archive>.
#
# The images are what the Dockerfiles at the repository root build (see docs/images.md): a
# scratch image with the binary, exactly the shared libraries `ldd` lists, the CA bundle,
# /etc/passwd and /etc/group with nonroot (65532), USER 65532:65532.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
PAUSE_VERSION=1

cache="${HYDRANT_CACHE:-$HOME/.cache/hydrant}"
out="$cache/images"

if [[ $# -eq 0 ]]; then
    set -- dataplane operator pause
fi
# Both binaries are always built together, even for one image: cargo unifies the features of
# shared dependencies over what one invocation builds, so `--bin hydrant` alone gives a
# different hydrant than `--bin hydrant --bin hydrant-operator`.
want_bins=()
for image in "$@"; do
    case "$image" in
        dataplane | operator) want_bins=(hydrant hydrant-operator) ;;
        pause) ;;
        *) echo "usage: $0 [dataplane|operator|pause ...]" >&2; exit 2 ;;
    esac
done

for tool in buildah sha256sum; do
    command -v "$tool" >/dev/null || {
        echo "images: $tool is not installed (tests/k8s-node/install-packages.sh installs buildah)" >&2
        exit 1
    }
done

app_version="$(awk -F': *' '$1 == "appVersion" { gsub(/["'\'']/, "", $2); print $2; exit }' \
    "$repo/charts/hydrant/Chart.yaml")"
[[ -n "$app_version" ]] || { echo "images: no appVersion in charts/hydrant/Chart.yaml" >&2; exit 1; }

mkdir -p "$out"
exec 9>"$out/.lock"
if ! flock -n 9; then
    echo "images: another build holds $out/.lock; waiting" >&2
    flock 9
fi

# The release binaries, built once for all requested images.
if ((${#want_bins[@]})); then
    if [[ -n "${HYDRANT_BIN_DIR:-}" ]]; then
        bindir="$HYDRANT_BIN_DIR"
    else
        args=()
        for b in "${want_bins[@]}"; do args+=(--bin "$b"); done
        echo "images: cargo build --release --locked ${args[*]}" >&2
        t0=$SECONDS
        (cd "$repo" && cargo build --release --locked "${args[@]}") >&2
        echo "images: cargo build took $((SECONDS - t0))s" >&2
        release="${CARGO_TARGET_DIR:-$repo/target}/release"
        # A target dir shared by several checkouts has one target/release/<bin> for all of
        # them: another checkout's build may replace it at any moment. Copy it, let cargo
        # (fresh, instant) link this checkout's artifact there again, and keep the copy only if
        # it is still the same file.
        bindir="$(mktemp -d "${TMPDIR:-/tmp}/hydrant-images-bin.XXXXXX")"
        bindir_tmp="$bindir"
        trap 'rm -rf "$bindir_tmp"' EXIT
        for attempt in 1 2 3 4 5; do
            inodes=()
            for b in "${want_bins[@]}"; do
                inodes+=("$(stat -c %i "$release/$b")")
                cp "$release/$b" "$bindir/$b"
            done
            (cd "$repo" && cargo build --release --locked --quiet "${args[@]}") >&2
            same=1
            i=0
            for b in "${want_bins[@]}"; do
                [[ "$(stat -c %i "$release/$b")" == "${inodes[$i]}" ]] || same=0
                i=$((i + 1))
            done
            ((same)) && break
            echo "images: $release changed under us (another checkout's build); again" >&2
            ((attempt < 5)) || { echo "images: could not get a stable copy of the binaries" >&2; exit 1; }
        done
    fi
    for b in "${want_bins[@]}"; do
        [[ -x "$bindir/$b" ]] || { echo "images: $bindir/$b does not exist" >&2; exit 1; }
    done
fi

# buildah keeps its storage (vfs: plain directories, no mounts) in a throwaway directory, so
# nothing is left in /var/lib/containers and concurrent builds do not share state.
work="$(mktemp -d "${TMPDIR:-/tmp}/hydrant-images.XXXXXX")"
trap 'rm -rf "$work" ${bindir_tmp:+"$bindir_tmp"}' EXIT
bah() {
    buildah --storage-driver vfs --root "$work/storage" --runroot "$work/run" "$@"
}

# $1 archive, $2... input files: true (and no rebuild) when the archive was built from exactly
# these inputs.
inputs_hash() {
    sha256sum "$@" "$here/build.sh" "$here/rootfs.sh" | awk '{ print $1 }' | sha256sum | awk '{ print $1 }'
}
up_to_date() {
    local archive="$1"
    shift
    [[ -s "$archive" && -f "$archive.inputs" ]] && [[ "$(cat "$archive.inputs")" == "$(inputs_hash "$@")" ]]
}

# Commits container $1 as $2 (reference) into archive $3, recording the inputs $4...
commit_to() {
    local ctr="$1" ref="$2" archive="$3"
    shift 3
    # --timestamp 0: the same inputs give the same image digest.
    bah commit --quiet --timestamp 0 --format oci "$ctr" "$ref" >/dev/null
    rm -f "$archive" "$archive.inputs"
    bah push --quiet --format oci "$ref" "oci-archive:$archive.partial:$ref" >&2
    mv "$archive.partial" "$archive"
    inputs_hash "$@" >"$archive.inputs"
    bah rm "$ctr" >/dev/null
    echo "images: $ref -> $archive ($(du -h "$archive" | cut -f1) archive, $unpacked unpacked)" >&2
}

# A Hydrant image: $1 binary name, $2 reference, $3 archive, $4 exposed ports, $5 CMD (or "").
hydrant_image() {
    local name="$1" ref="$2" archive="$3" ports="$4" cmd="$5"
    local binary="$bindir/$name"
    local libs
    mapfile -t libs < <(ldd "$binary" 2>/dev/null \
        | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | xargs -r readlink -f)
    if up_to_date "$archive" "$binary" "${libs[@]}" /etc/ssl/certs/ca-certificates.crt; then
        echo "images: $ref is up to date ($archive, $(du -h "$archive" | cut -f1))" >&2
        return
    fi
    echo "images: building $ref" >&2
    local rootfs="$work/rootfs-$name"
    bash "$here/rootfs.sh" "$binary" "$rootfs"
    unpacked="$(du -sh --apparent-size "$rootfs" | cut -f1)"
    mkdir -p "$work/home-$name"
    chmod 0700 "$work/home-$name"
    local ctr
    ctr="$(bah from --quiet scratch)"
    bah copy --quiet "$ctr" "$rootfs" / >/dev/null
    bah copy --quiet --chown 65532:65532 "$ctr" "$work/home-$name" /home/nonroot >/dev/null
    local config=(--os linux --arch amd64 --user 65532:65532 --workingdir /
        --created-by "images/build.sh (rootfs.sh $name)"
        --env PATH=/usr/local/bin:/usr/bin:/bin --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
        --entrypoint "[\"/usr/local/bin/$name\"]"
        --label org.opencontainers.image.title="$name"
        --label org.opencontainers.image.version="$app_version"
        --label org.opencontainers.image.source=https://github.com/hydrant-dev/hydrant)
    local p
    for p in $ports; do config+=(--port "$p"); done
    if [[ -n "$cmd" ]]; then
        config+=(--cmd "[\"$cmd\"]")
    else
        config+=(--cmd "")
    fi
    bah config "${config[@]}" "$ctr"
    commit_to "$ctr" "$ref" "$archive" "$binary" "${libs[@]}" /etc/ssl/certs/ca-certificates.crt
}

pause_image() {
    local ref="localhost/hydrant/pause:$PAUSE_VERSION"
    local archive="$out/pause-$PAUSE_VERSION.oci.tar"
    local src=("$here/pause/main.go" "$here/pause/go.mod")
    if up_to_date "$archive" "${src[@]}"; then
        echo "images: $ref is up to date ($archive, $(du -h "$archive" | cut -f1))" >&2
        return
    fi
    command -v go >/dev/null || { echo "images: go is not installed (needed for the pause image)" >&2; exit 1; }
    echo "images: building $ref" >&2
    mkdir -p "$work/pause/usr/local/bin"
    CGO_ENABLED=0 go -C "$here/pause" build -trimpath -ldflags="-s -w" \
        -o "$work/pause/usr/local/bin/pause" . >&2
    unpacked="$(du -sh --apparent-size "$work/pause" | cut -f1)"
    local ctr
    ctr="$(bah from --quiet scratch)"
    bah copy --quiet "$ctr" "$work/pause" / >/dev/null
    bah config --os linux --arch amd64 --user 65535:65535 --created-by "images/build.sh (pause)" \
        --entrypoint '["/usr/local/bin/pause"]' --cmd "" \
        --label org.opencontainers.image.title=hydrant-pause "$ctr"
    commit_to "$ctr" "$ref" "$archive" "${src[@]}"
}

for image in "$@"; do
    case "$image" in
        dataplane)
            hydrant_image hydrant "ghcr.io/hydrant-dev/hydrant:$app_version" \
                "$out/hydrant-$app_version.oci.tar" "4573 9464" "" ;;
        operator)
            hydrant_image hydrant-operator "ghcr.io/hydrant-dev/hydrant-operator:$app_version" \
                "$out/hydrant-operator-$app_version.oci.tar" "8080" run ;;
        pause) pause_image ;;
    esac
done

printf '%s\n' "$out"
