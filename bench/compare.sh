#!/usr/bin/env bash
# Hydrant and Vector side by side, in one sitting, on the same HTTP load:
#   VECTOR_BIN=../shared/bin/vector bash bench/compare.sh [seconds per run] [repetitions]
# wrk (2 threads) posts 500 newline-delimited 1,000-byte records per request to
#   - Hydrant's plain endpoint (/records), durability fsync and none, delivering to a local
#     directory (one record per line);
#   - Vector's http_server source (acknowledgements on) into its file sink, with a disk buffer
#     and with the default memory buffer.
# at 4 and 8 connections, the configurations interleaved, each repeated. For each run: acked
# MiB/s (2xx responses x 500 records x 1,000 bytes over the load time), end-to-end delivered MiB/s
# (acknowledged bytes over load time + the time until the output holds every acknowledged
# byte; the line count is then checked >= acknowledged), wrk's p50/p99, the server's peak RSS and CPU.
# Without VECTOR_BIN (or if it is not executable) only Hydrant runs, and the script says so.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-20}"
REPS="${2:-3}"
RECORDS=500
RECORD_BYTES=1000
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 2; }
cargo build --release --bin hydrant --quiet
BIN="$(cd "${CARGO_TARGET_DIR:-target}/release" && pwd)"
WORK="${BENCH_DIR:-$(mktemp -d /work/hydrant-compare.XXXXXX)}"
mkdir -p "$WORK"
trap 'kill "${SERVER:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
VECTOR="${VECTOR_BIN:-}"
if [ -n "$VECTOR" ] && [ -x "$VECTOR" ]; then
    echo "Vector: $("$VECTOR" --version)"
    SYSTEMS="hydrant-fsync hydrant-none vector-disk vector-memory"
else
    echo "VECTOR_BIN is not set to an executable Vector: running Hydrant alone" >&2
    SYSTEMS="hydrant-fsync hydrant-none"
fi

# The request body: 500 lines of 999 bytes and a newline.
python3 - "$WORK/post.lua" "$RECORDS" "$RECORD_BYTES" <<'EOF'
import sys
path, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
line = "x" * (size - 1)
body = "\\n".join([line] * n) + "\\n"
open(path, "w").write(
    'wrk.method = "POST"\nwrk.headers["Content-Type"] = "text/plain"\nwrk.body = "%s"\n' % body
)
EOF

hydrant_config() { # durability
    cat > "$WORK/stream.yaml" <<EOF
apiVersion: hydrant.dev/v1alpha1
kind: DeliveryStream
metadata: {name: compare}
spec:
  buffer: {directory: ./wal, maxBytes: 4Gi, durability: $1}
  destination:
    local:
      directory: ./out
      bufferingHints: {sizeInMBs: 5, intervalInSeconds: 1}
      processingConfiguration:
        enabled: true
        processors: [{type: AppendDelimiterToRecord}]
EOF
}

vector_config() { # buffer type
    local buffer=""
    if [ "$1" = disk ]; then
        buffer='buffer.type = "disk"
buffer.max_size = 4294967296
buffer.when_full = "block"'
    fi
    cat > "$WORK/vector.toml" <<EOF
data_dir = "$WORK/vector-data"
[sources.in]
type = "http_server"
address = "127.0.0.1:4580"
path = "/records"
decoding.codec = "bytes"
framing.method = "newline_delimited"
[sinks.out]
type = "file"
inputs = ["in"]
path = "$WORK/out/vector.log"
encoding.codec = "text"
acknowledgements.enabled = true
$buffer
EOF
}

# Starts $1 from a clean work directory; sets SERVER (pid) and URL.
start() {
    rm -rf "$WORK/wal" "$WORK/out" "$WORK/vector-data"
    mkdir -p "$WORK/out" "$WORK/vector-data"
    case "$1" in
    hydrant-*)
        hydrant_config "${1#hydrant-}"
        (cd "$WORK" && exec "$BIN/hydrant" run -f stream.yaml --quiet \
            --ingest-addr 127.0.0.1:4573 --metrics-addr 127.0.0.1:9464 2> hydrant.log) &
        SERVER=$!
        URL=http://127.0.0.1:4573/records
        for _ in $(seq 100); do curl -sf http://127.0.0.1:9464/readyz >/dev/null && break; sleep 0.1; done
        ;;
    vector-*)
        vector_config "${1#vector-}"
        "$VECTOR" --quiet --config "$WORK/vector.toml" 2> "$WORK/vector.log" &
        SERVER=$!
        URL=http://127.0.0.1:4580/records
        for _ in $(seq 100); do curl -sf -o /dev/null -X POST --data-binary $'warm\n' "$URL" && break; sleep 0.1; done
        ;;
    esac
}

bytes_delivered() { # every output file's size (cheap to poll while the server writes)
    find "$WORK/out" -type f -printf '%s\n' 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'
}

lines_delivered() { # every output file's lines (the warm-up line included for Vector)
    find "$WORK/out" -type f -exec cat {} + 2>/dev/null | wc -l
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# One run: prints a result row.
run() { # system connections
    start "$1"
    local warm=0
    [ "${1%%-*}" = vector ] && warm=1
    local ticks0 t0 t1 out ok non2xx acked lines deadline
    ticks0=$(cpu_ticks "$SERVER")
    t0=$(date +%s.%N)
    out=$(wrk -t2 -c"$2" -d"${DURATION}s" --latency -s "$WORK/post.lua" "$URL")
    t1=$(date +%s.%N)
    ok=$(echo "$out" | awk '/requests in/ {print $1}')
    non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    ok=$(( ok - ${non2xx:-0} ))
    acked=$(( ok * RECORDS ))
    # Every record is RECORD_BYTES with its newline (Vector's warm-up line is 5 bytes more).
    deadline=$(( $(date +%s) + 300 ))
    while [ "$(bytes_delivered)" -lt $(( acked * RECORD_BYTES + warm * 5 )) ] && [ "$(date +%s)" -lt "$deadline" ]; do
        sleep 0.2
    done
    local t2 ticks1 rss p50 p99
    t2=$(date +%s.%N)
    ticks1=$(cpu_ticks "$SERVER")
    lines=$(lines_delivered)
    rss=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$SERVER/status")
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
    rm -rf "$WORK/wal" "$WORK/out" "$WORK/vector-data"  # up to several GB a run
    python3 - "$1" "$2" "$acked" "$(( lines - warm ))" "$t0" "$t1" "$t2" "$ticks0" "$ticks1" "$rss" "$p50" "$p99" "$RECORD_BYTES" "$(getconf CLK_TCK)" <<'EOF'
import sys
system, conns, acked, lines = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
t0, t1, t2 = map(float, sys.argv[5:8])
ticks0, ticks1 = int(sys.argv[8]), int(sys.argv[9])
rss, p50, p99, size, hz = sys.argv[10], sys.argv[11], sys.argv[12], int(sys.argv[13]), int(sys.argv[14])
mib = acked * size / 2**20
ack_rate = mib / (t1 - t0)
e2e = mib / (t2 - t0)
cpu = (ticks1 - ticks0) / hz / (t2 - t0)
check = "ok" if lines >= acked else f"MISSING {acked - lines}"
print(f"RESULT {system:14} c={conns} acked {ack_rate:7.1f} MiB/s  end-to-end {e2e:7.1f} MiB/s  "
      f"p50 {p50:>8} p99 {p99:>8}  peak RSS {rss:>6} MiB  CPU {cpu:4.2f} cores  lines {check}")
EOF
}

echo "== $REPS repetitions, $DURATION s each, 500 x 1,000-byte records per request"
for rep in $(seq "$REPS"); do
    for conns in 4 8; do
        for system in $SYSTEMS; do
            echo "-- rep $rep: $system, $conns connections"
            run "$system" "$conns" | tee -a "$WORK/results"
        done
    done
done

echo "== medians and ratios (same sitting)"
python3 - "$WORK/results" <<'EOF'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"RESULT (\S+)\s+c=(\d+) acked\s+([\d.]+) MiB/s  end-to-end\s+([\d.]+)", line)
    if m:
        rows.setdefault((m[1], int(m[2])), []).append((float(m[3]), float(m[4])))
med = {k: (statistics.median(a for a, _ in v), statistics.median(e for _, e in v)) for k, v in rows.items()}
for (system, conns), (a, e) in sorted(med.items()):
    print(f"{system:14} c={conns}: acked {a:7.1f} MiB/s, end to end {e:7.1f} MiB/s (median of {len(rows[(system, conns)])})")
for conns in (4, 8):
    def ratio(x, y, i):
        if (x, conns) in med and (y, conns) in med and med[(y, conns)][i] > 0:
            return f"{med[(x, conns)][i] / med[(y, conns)][i]:.2f}x"
        return "n/a"
    print(f"c={conns}: acked hydrant-fsync / vector-disk {ratio('hydrant-fsync', 'vector-disk', 0)}; "
          f"end to end hydrant-fsync / vector-disk {ratio('hydrant-fsync', 'vector-disk', 1)}; "
          f"end to end hydrant-none / vector-memory {ratio('hydrant-none', 'vector-memory', 1)}")
EOF
