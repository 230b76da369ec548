#!/usr/bin/env bash
# Scaling curves: one `bench/run.sh` run per point, printed as Markdown tables —
#   against connections: 1, 2, 4, 8, 16, 64 (1 KiB records, 500 a request);
#   against record size: 100 B, 1 KiB, 10 KiB, 1 MB (8 connections; as many records a request
#   as fit PutRecordBatch's 500 records and 4 MiB).
#   bash bench/curves.sh [seconds per point, default 15]
# For each point: acknowledged and delivered MiB/s and records/s, ack p50/p99, the server's peak
# RSS and the cores it used over the load, and the verification (missing, duplicates). The same
# env as bench/run.sh applies (DURABILITY, COMPRESSION, ...). CURVES=connections or CURVES=sizes
# runs one of the two.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-15}"
CURVES="${CURVES:-connections sizes}"
OUT="$(mktemp -d /tmp/hydrant-curves.XXXXXX)"
trap 'rm -rf "$OUT"' EXIT

# One point: the loadgen report's JSON line, kept in $OUT/<name>.json.
point() {
    local name="$1" size="$2" batch="$3" conns="$4"
    RECORD_SIZE="$size" BATCH_SIZE="$batch" bash bench/run.sh "$DURATION" \
        --connections "$conns" --json > "$OUT/$name.log" 2>&1 \
        || { echo "point $name failed:" >&2; tail -n 20 "$OUT/$name.log" >&2; exit 1; }
    grep '^{' "$OUT/$name.log" | tail -n 1 > "$OUT/$name.json"
}

table() {
    python3 - "$@" <<'EOF'
import json, sys
print("| connections | record size | records a request | acknowledged MiB/s | records/s | delivered MiB/s | p50 / p99 ms | peak RSS MiB | server cores | missing / duplicates |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for path in sys.argv[1:]:
    r = json.load(open(path))
    d = r.get("delivery") or {}
    v = d.get("verify") or {}
    cores = (r.get("server_cpu_s") or 0) / r["elapsed_s"]
    print(f"| {r['connections']} | {r['record_size']:,} B | {r['batch_size']} | {r['mib_per_s']:.1f} "
          f"| {r['records_per_s']:,.0f} | {d.get('delivered_mib_per_s', 0):.1f} "
          f"| {r['latency_ms']['p50']:.1f} / {r['latency_ms']['p99']:.1f} "
          f"| {r.get('server_peak_rss_mib') or 0:.0f} | {cores:.2f} "
          f"| {v.get('missing', '?')} / {v.get('duplicates', '?')} |")
EOF
}

for curve in $CURVES; do
    case "$curve" in
    connections)
        files=()
        for c in 1 2 4 8 16 64; do
            point "conns-$c" 1024 500 "$c"
            files+=("$OUT/conns-$c.json")
        done
        echo "### Against connections (1 KiB records, 500 a request, $DURATION s a point)"
        table "${files[@]}"
        ;;
    sizes)
        files=()
        for spec in 100:500 1024:500 10240:400 1000000:4; do
            point "size-${spec%%:*}" "${spec%%:*}" "${spec##*:}" 8
            files+=("$OUT/size-${spec%%:*}.json")
        done
        echo "### Against record size (8 connections, $DURATION s a point)"
        table "${files[@]}"
        ;;
    *) echo "unknown curve $curve (connections or sizes)" >&2; exit 2 ;;
    esac
done
