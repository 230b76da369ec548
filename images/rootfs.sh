#!/usr/bin/env bash
# Assembles the root filesystem of a Hydrant image (data plane or operator) in DEST:
#   /usr/local/bin/<name>              the binary (mode 0755)
#   its shared libraries and loader    exactly what `ldd BINARY` lists, at the paths it lists
#                                      (symlinks resolved), e.g. /lib/x86_64-linux-gnu/libc.so.6
#                                      and /lib64/ld-linux-x86-64.so.2; nothing for a static binary
#   /etc/ssl/certs/ca-certificates.crt the build host's CA bundle (Debian ca-certificates)
#   /etc/passwd, /etc/group            root and nonroot (65532:65532, home /home/nonroot)
#   /etc/nsswitch.conf                 hosts: files dns
#   /tmp                               mode 1777
#   /home                              (empty; root's)
# /home/nonroot (owned by 65532) is not made here: ownership is set by the image builder
# (buildah copy --chown / COPY --chown), so this script needs no root.
#
# Usage: rootfs.sh BINARY DEST
# Used by images/build.sh (buildah) and by the Dockerfiles' build stage, so both build the
# same image. Needs bash, ldd and the CA bundle on the build host (Debian bookworm here and in
# the rust:*-bookworm build stage, so the libraries are the same glibc).
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 BINARY DEST" >&2
    exit 2
fi
binary="$1"
dest="$2"
ca=/etc/ssl/certs/ca-certificates.crt

[[ -x "$binary" ]] || { echo "rootfs: $binary is not an executable" >&2; exit 1; }
[[ -s "$ca" ]] || { echo "rootfs: $ca is missing (install ca-certificates)" >&2; exit 1; }

mkdir -p "$dest/usr/local/bin" "$dest/etc/ssl/certs" "$dest/tmp" "$dest/home"
install -m 0755 "$binary" "$dest/usr/local/bin/$(basename "$binary")"
install -m 0644 "$ca" "$dest/etc/ssl/certs/ca-certificates.crt"
chmod 1777 "$dest/tmp"

# ldd prints "name => /path (addr)" for libraries, "/path (addr)" for the loader, and
# "linux-vdso.so.1 (addr)" (no file) for the vDSO; a static binary prints "not a dynamic
# executable" and exits non-zero.
if ldd_out="$(ldd "$binary" 2>&1)"; then
    while read -r path; do
        [[ -n "$path" ]] || continue
        [[ -f "$path" ]] || { echo "rootfs: ldd names $path, which does not exist" >&2; exit 1; }
        mkdir -p "$dest$(dirname "$path")"
        cp -L "$path" "$dest$path"
        chmod 0755 "$dest$path"
    done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$ldd_out")
    if grep -q 'not found' <<<"$ldd_out"; then
        echo "rootfs: unresolved libraries:" >&2
        grep 'not found' <<<"$ldd_out" >&2
        exit 1
    fi
elif ! grep -Eq 'not a dynamic executable|statically linked' <<<"$ldd_out"; then
    echo "rootfs: ldd $binary failed: $ldd_out" >&2
    exit 1
fi

cat >"$dest/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
PASSWD
cat >"$dest/etc/group" <<'GROUP'
root:x:0:
nonroot:x:65532:
GROUP
printf 'hosts: files dns\n' >"$dest/etc/nsswitch.conf"
chmod 0644 "$dest/etc/passwd" "$dest/etc/group" "$dest/etc/nsswitch.conf"
