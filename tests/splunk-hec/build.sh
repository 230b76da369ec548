#!/usr/bin/env bash
# Builds otelcol-hec (./main.go: a minimal OpenTelemetry Collector with the Splunk HEC receiver,
# the ack and bearertokenauth extensions and the file/debug exporters) from Go modules only,
# into a cache directory outside the checkout, keyed by the collector release pinned in go.mod
# and a short hash of go.mod + main.go:
#   ${HYDRANT_CACHE:-$HOME/.cache/hydrant}/splunk-hec-<release>-<hash>/otelcol-hec
#
# Idempotent: when the binary is there it exits at once. The last line on stdout is always the
# absolute path of the binary; everything else goes to stderr. Safe to run concurrently (flock).
# Modules come from the module proxy into the usual module cache (~/go/pkg/mod); go.sum is
# committed and complete, so no checksum-database lookup is needed (see README.md).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
receiver=github.com/open-telemetry/opentelemetry-collector-contrib/receiver/splunkhecreceiver

release="$(awk -v m="$receiver" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$here/go.mod")"
if [[ -z "$release" ]]; then
    echo "splunk-hec: $receiver not found in go.mod" >&2
    exit 1
fi
hash="$(cat "$here/go.mod" "$here/main.go" | sha256sum | cut -c1-12)"

cache="${HYDRANT_CACHE:-$HOME/.cache/hydrant}"
dir="$cache/splunk-hec-${release#v}-$hash"
bin="$dir/otelcol-hec"

if [[ -x "$bin" ]]; then
    printf '%s\n' "$bin"
    exit 0
fi

mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
bin="$dir/otelcol-hec"
exec 9>"$dir/.lock"
if ! flock -n 9; then
    echo "splunk-hec: another build holds $dir/.lock; waiting" >&2
    flock 9
fi
if [[ -x "$bin" ]]; then
    printf '%s\n' "$bin"
    exit 0
fi

command -v go >/dev/null || { echo "splunk-hec: go is not installed" >&2; exit 1; }

# -mod=readonly: build exactly what go.mod/go.sum pin. CGO off: a static binary.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath -mod=readonly"
export CGO_ENABLED=0

echo "splunk-hec: building otelcol-hec (collector contrib $release) -> $bin" >&2
start=$SECONDS
go -C "$here" build -ldflags="-s -w" -o "$bin.partial" . >&2
mv "$bin.partial" "$bin"
echo "splunk-hec: built in $((SECONDS - start))s" >&2
printf '%s\n' "$bin"
