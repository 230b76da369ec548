#!/usr/bin/env bash
# Builds the embedded OpenSearch test launcher once into a cache directory outside the
# checkout and prints that directory's absolute path as the LAST line of stdout:
#   dir=$(bash tests/opensearch/build.sh | tail -n 1)
#   "$dir/run.sh" --http-port PORT --data-dir TMPDIR        # exec's java: its pid is the node's
# The directory name carries a hash of pom.xml, src/, this script and `java -version`, so a
# change to any of them builds a new one; a complete directory (marked .complete) is reused.
# The build ends with one smoke start of the node, which also records a class-data-sharing
# archive (cds.jsa) that run.sh uses: startup ~2 s instead of ~4 s, ~150 MB RSS instead of ~240.
# Needs java 17 and mvn (Maven Central through ~/.m2). Everything but the path goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version=2.19.6

hash="$(
  cd "$here"
  {
    { printf '%s\n' pom.xml build.sh; find src -type f | LC_ALL=C sort; } |
      while read -r f; do printf '%s\n' "$f"; cat "$f"; done
    java -version 2>&1 # the CDS archive is only valid for the JVM that wrote it
  } | sha256sum | cut -c1-12
)"
cache_root="${HYDRANT_CACHE:-$HOME/.cache/hydrant}"
mkdir -p "$cache_root"
cache_root="$(cd "$cache_root" && pwd)"
dir="$cache_root/opensearch-$version-launcher-$hash"

if [ -f "$dir/.complete" ]; then
  echo "$dir"
  exit 0
fi

# Serialise concurrent builds (tests started in parallel); re-check once the lock is held.
exec 9>"$cache_root/.opensearch-launcher.lock"
flock 9
if [ -f "$dir/.complete" ]; then
  echo "$dir"
  exit 0
fi

work="$(mktemp -d "$cache_root/.opensearch-build.XXXXXX")"
trap 'rm -rf "$work"; [ -f "$dir/.complete" ] || rm -rf "$dir"' EXIT
# Build from a copy so no target/ appears in the checkout.
cp -R "$here/pom.xml" "$here/src" "$work/"
rm -rf "$dir"
mkdir -p "$dir/lib"

echo "building OpenSearch $version test launcher into $dir" >&2
(
  cd "$work"
  mvn -B -q -Dstyle.color=never -Dmaven.test.skip=true \
    package dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$dir/lib" 2>&1 |
    sed -e 's/\x1b\[[0-9;]*m//g' -e '/^$/d' >&2 # pipefail: a failing mvn fails the build
)
cp "$work/target/launcher.jar" "$dir/launcher.jar"

cat > "$dir/run.sh" <<'RUN'
#!/usr/bin/env bash
# Starts one OpenSearch node: run.sh --http-port PORT --data-dir DIR [--write-queue-size N]
#   [--write-threads N] [--log-level warn]. exec: the pid is java's; SIGTERM stops it.
# OPENSEARCH_JAVA_OPTS replaces the default heap and JIT options.
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cds=()
if [ -f "$dir/cds.jsa" ]; then
  # A stale archive only costs speed: the JVM then ignores it (warnings to stderr).
  cds=(-XX:SharedArchiveFile="$dir/cds.jsa" -Xlog:disable -Xlog:all=warning:stderr)
fi
# shellcheck disable=SC2086
exec java ${OPENSEARCH_JAVA_OPTS:--Xms256m -Xmx512m -XX:TieredStopAtLevel=1} "${cds[@]}" \
  -cp "$dir/lib/*:$dir/launcher.jar" dev.hydrant.testing.OpenSearchLauncher "$@"
RUN
chmod +x "$dir/run.sh"

# Smoke start at the final paths (the archive records the class path), exits 0 once READY.
smoke="$work/smoke"
mkdir -p "$smoke"
echo "smoke start (records $dir/cds.jsa)" >&2
if ! timeout 180 java -Xms256m -Xmx512m -XX:TieredStopAtLevel=1 \
  -XX:ArchiveClassesAtExit="$dir/cds.jsa" -Xlog:disable -Xlog:all=warning:stderr \
  -cp "$dir/lib/*:$dir/launcher.jar" dev.hydrant.testing.OpenSearchLauncher \
  --http-port 0 --data-dir "$smoke" --exit-after-ready >"$work/smoke.out" 2>"$work/smoke.err" ||
  ! grep -q '^OPENSEARCH READY ' "$work/smoke.out"; then
  echo "smoke start of the OpenSearch launcher failed:" >&2
  cat "$work/smoke.out" "$work/smoke.err" >&2
  exit 1
fi
rm -rf "$smoke"

touch "$dir/.complete"
echo "$dir"
