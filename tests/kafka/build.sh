#!/usr/bin/env bash
# Fetches the jars of one Apache Kafka broker (KRaft mode) from Maven Central once into a cache
# directory outside the checkout and prints that directory's absolute path as the LAST line of
# stdout:
#   dir=$(bash tests/kafka/build.sh | tail -n 1)
#   "$dir/run.sh" format CONFIG CLUSTER_ID [StorageTool format options]   # once per data dir
#   "$dir/run.sh" server CONFIG                 # exec's java: its pid is the broker's
# The directory name carries the Kafka version and a hash of pom.xml and this script, so a change
# to either fetches a new one; a complete directory (marked .complete) is reused. The build ends
# with one smoke start (format, start, SIGTERM) of a broker on free ports.
# Needs java 17 and mvn (Maven Central through ~/.m2). Everything but the path goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version=4.4.0 # keep in step with kafka.version in pom.xml

hash="$(
  cd "$here"
  for f in pom.xml build.sh; do printf '%s\n' "$f"; cat "$f"; done | sha256sum | cut -c1-12
)"
cache_root="${HYDRANT_CACHE:-$HOME/.cache/hydrant}"
mkdir -p "$cache_root"
cache_root="$(cd "$cache_root" && pwd)"
dir="$cache_root/kafka-$version-$hash"

if [ -f "$dir/.complete" ]; then
  echo "$dir"
  exit 0
fi

# Serialise concurrent builds (tests started in parallel); re-check once the lock is held.
exec 9>"$cache_root/.kafka.lock"
flock 9
if [ -f "$dir/.complete" ]; then
  echo "$dir"
  exit 0
fi

work="$(mktemp -d "$cache_root/.kafka-build.XXXXXX")"
smoke_pid=
trap '[ -z "$smoke_pid" ] || kill -9 "$smoke_pid" 2>/dev/null || true; rm -rf "$work"; [ -f "$dir/.complete" ] || rm -rf "$dir"' EXIT
cp "$here/pom.xml" "$work/"
rm -rf "$dir"
mkdir -p "$dir/lib"

echo "fetching Apache Kafka $version (KRaft broker) into $dir" >&2
(
  cd "$work"
  mvn -B -q -Dstyle.color=never dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$dir/lib" 2>&1 |
    sed -e 's/\x1b\[[0-9;]*m//g' -e '/^$/d' >&2 # pipefail: a failing mvn fails the build
)

# Everything the broker logs goes to ${kafka.logs.dir}/server.log; nothing to stdout.
cat > "$dir/log4j2.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn">
  <Appenders>
    <File name="file" fileName="${sys:kafka.logs.dir}/server.log" append="true">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Logger name="kafka.request.logger" level="warn"/>
    <Logger name="org.apache.kafka.clients.NetworkClient" level="warn"/>
    <Root level="info"><AppenderRef ref="file"/></Root>
  </Loggers>
</Configuration>
XML

cat > "$dir/run.sh" <<'RUN'
#!/usr/bin/env bash
# One Apache Kafka broker in KRaft mode, from the jars in lib/:
#   run.sh random-uuid                        prints a new cluster id
#   run.sh format CONFIG CLUSTER_ID [ARGS]    formats the log.dirs of CONFIG (kafka.tools.StorageTool
#                                             format -t CLUSTER_ID -c CONFIG ARGS, e.g. --standalone
#                                             or --add-scram 'SCRAM-SHA-512=[name=u,password=p]')
#   run.sh server CONFIG                      exec's the broker (kafka.Kafka CONFIG): the pid is
#                                             java's; SIGTERM shuts it down cleanly (exit 143)
# Logs go to $KAFKA_LOG_DIR/server.log (default: CONFIG's directory). KAFKA_JAVA_OPTS replaces the
# default heap, GC and JIT options.
set -euo pipefail
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
usage="usage: run.sh random-uuid | format CONFIG CLUSTER_ID [ARGS] | server CONFIG"
cmd="${1:?$usage}"
shift
# shellcheck disable=SC2086
java=(java ${KAFKA_JAVA_OPTS:--Xms256m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1}
  -Djava.awt.headless=true -cp "$dir/lib/*")
logging() { # CONFIG: where server.log goes
  local logs
  logs="${KAFKA_LOG_DIR:-$(cd "$(dirname "$1")" && pwd)}"
  java+=(-Dlog4j2.configurationFile="$dir/log4j2.xml" -Dkafka.logs.dir="$logs")
}
case "$cmd" in
  random-uuid) exec "${java[@]}" kafka.tools.StorageTool random-uuid ;; # logs nothing
  format)
    config="${1:?$usage}"
    id="${2:?$usage}"
    shift 2
    logging "$config"
    exec "${java[@]}" kafka.tools.StorageTool format -t "$id" -c "$config" "$@" ;;
  server)
    logging "${1:?$usage}"
    exec "${java[@]}" kafka.Kafka "$1" ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
RUN
chmod +x "$dir/run.sh"

# Smoke start: format and start a combined broker+controller on free ports, wait for it to
# report itself started, stop it with SIGTERM.
smoke="$work/smoke"
mkdir -p "$smoke"
ports=($(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(*[x.getsockname()[1] for x in s])'))
cat > "$smoke/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${ports[1]}
listeners=PLAINTEXT://127.0.0.1:${ports[0]},CONTROLLER://127.0.0.1:${ports[1]}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$smoke/data
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
PROPS
echo "smoke start of the broker" >&2
fail() {
  echo "smoke start of the Kafka broker failed: $*" >&2
  cat "$smoke"/*.out "$smoke/server.log" >&2 2>/dev/null || true
  exit 1
}
"$dir/run.sh" format "$smoke/server.properties" "$("$dir/run.sh" random-uuid)" >"$smoke/format.out" 2>&1 ||
  fail "format"
"$dir/run.sh" server "$smoke/server.properties" >"$smoke/server.out" 2>&1 &
smoke_pid=$!
for _ in $(seq 1 1200); do
  grep -q 'Kafka Server started' "$smoke/server.log" 2>/dev/null && break
  kill -0 "$smoke_pid" 2>/dev/null || fail "the broker exited"
  sleep 0.1
done
grep -q 'Kafka Server started' "$smoke/server.log" || fail "not started within 120 s"
kill -TERM "$smoke_pid"
wait "$smoke_pid" || true
smoke_pid=
rm -rf "$smoke"

touch "$dir/.complete"
echo "$dir"
