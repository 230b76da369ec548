#!/usr/bin/env bash
# Ingest + delivery benchmark: hydrant and loadgen on this machine, results verified.
#   bash bench/run.sh [duration-seconds] [extra loadgen flags...]
# Env: RECORD_SIZE and BATCH_SIZE (default 1024 and 500); COMPRESSION=GZIP to deliver gzip (COMPRESSION_LEVEL=1..9 sets its level); DURABILITY=none; TLS=1 to serve the ingest port over
# TLS (a throwaway CA made with openssl); ENCRYPTION=1 to encrypt the log at rest with a
# generated key (spec.encryption AWS_OWNED_CMK); SIGV4=1 to verify SigV4 signatures on ingest
# (spec.ingest.auth.sigV4, a generated key; loadgen signs every request); BENCH_DIR to choose
# the work directory; BIN_DIR to run binaries built before instead of building.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-60}"; shift || true
# BIN_DIR: binaries built before (to compare builds, or to edit while a run goes on).
if [ -n "${BIN_DIR:-}" ]; then
    BIN="$(cd "$BIN_DIR" && pwd)"
else
    cargo build --release --bins --quiet
    # Absolute: the server starts from the work directory (CARGO_TARGET_DIR may be relative or not).
    BIN="$(cd "${CARGO_TARGET_DIR:-target}/release" && pwd)"
fi
WORK="${BENCH_DIR:-$(mktemp -d /work/hydrant-bench.XXXXXX)}"
mkdir -p "$WORK"
sed -e "s/compressionFormat: UNCOMPRESSED/compressionFormat: ${COMPRESSION:-UNCOMPRESSED}/" -e "s/durability: fsync/durability: ${DURABILITY:-fsync}/"  bench/stream.yaml > "$WORK/stream.yaml"
if [ -n "${COMPRESSION_LEVEL:-}" ]; then
    sed -i "s/^\( *\)compressionFormat: .*/&\n\1compressionLevel: ${COMPRESSION_LEVEL}/" "$WORK/stream.yaml"
fi

if [ "${ENCRYPTION:-0}" = 1 ]; then
    sed -i 's/^spec:$/spec:\n  encryption: {keyType: AWS_OWNED_CMK}/' "$WORK/stream.yaml"
fi

echo "== disk ceiling: sequential 1 GiB write with fsync (3 runs; noisy here)"
for i in 1 2 3; do
    dd if=/dev/zero of="$WORK/dd.tmp" bs=1M count=1024 conv=fsync 2>&1 | tail -1
    rm -f "$WORK/dd.tmp"
done

ENDPOINT=http://127.0.0.1:4573
if [ "${TLS:-0}" = 1 ]; then
    mkdir -p "$WORK/secrets/ingest-tls"
    (cd "$WORK" && openssl req -x509 -days 1 -subj /CN=bench-ca -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt 2>/dev/null \
        && openssl req -subj /CN=localhost -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout secrets/ingest-tls/tls.key -out server.csr 2>/dev/null \
        && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.ext \
        && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile san.ext -out secrets/ingest-tls/tls.crt 2>/dev/null)
    sed -i 's/^spec:$/spec:\n  ingest:\n    tls: {secretName: ingest-tls}/' "$WORK/stream.yaml"
    export HYDRANT_SECRETS_DIR="$WORK/secrets" LOADGEN_CA_FILE="$WORK/ca.crt"
    ENDPOINT=https://localhost:4573
fi

if [ "${SIGV4:-0}" = 1 ]; then
    export LOADGEN_ACCESS_KEY_ID=AKIDBENCH LOADGEN_SECRET_ACCESS_KEY="$(openssl rand -hex 20)"
    mkdir -p "$WORK/secrets/bench-producers"
    printf '%s' "$LOADGEN_SECRET_ACCESS_KEY" > "$WORK/secrets/bench-producers/$LOADGEN_ACCESS_KEY_ID"
    export HYDRANT_SECRETS_DIR="$WORK/secrets"
    if grep -q '^  ingest:$' "$WORK/stream.yaml"; then
        sed -i 's/^  ingest:$/  ingest:\n    auth: {sigV4: {credentialsSecret: bench-producers}}/' "$WORK/stream.yaml"
    else
        sed -i 's/^spec:$/spec:\n  ingest:\n    auth: {sigV4: {credentialsSecret: bench-producers}}/' "$WORK/stream.yaml"
    fi
fi

(cd "$WORK" && exec "$BIN/hydrant" run -f stream.yaml \
    --ingest-addr 127.0.0.1:4573 --metrics-addr 127.0.0.1:9464 2> hydrant.log) &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:9464/readyz >/dev/null && break; sleep 0.1; done
if [ "${ENCRYPTION:-0}" = 1 ] && [ ! -f "$WORK/wal/keys/generated.key" ]; then
    echo "ENCRYPTION=1 but the stream generated no key: is encryption on?" >&2; exit 1
fi

echo "== load: $DURATION s, ${RECORD_SIZE:-1024}-byte records, ${BATCH_SIZE:-500} a request"
"$BIN/loadgen" --endpoint "$ENDPOINT" --stream bench --duration "$DURATION" \
    --record-size "${RECORD_SIZE:-1024}" --batch-size "${BATCH_SIZE:-500}" --server-pid "$PID" \
    --verify-dir "$WORK/out" "$@"
kill -TERM $PID; wait $PID || true
rm -rf "$WORK"
