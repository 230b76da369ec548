#!/usr/bin/env bash
# Installs kinesalite (a Kinesis Data Streams implementation in Node.js, from the npm registry)
# once into a cache directory outside the checkout and prints that directory's absolute path as
# the LAST line of stdout:
#   dir=$(bash tests/kinesalite/build.sh | tail -n 1)
#   node "$dir/node_modules/kinesalite/cli.js" --port PORT
# kinesalite keeps closed shards closed after a split or merge (new records go to the children,
# GetRecords on a closed shard read to its end returns no NextShardIterator), which moto's
# Kinesis does not, so the resharding tests need it. Its in-memory store needs no native module.
# Everything but the path goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version=3.3.3
hash="$(cat "$here/build.sh" | sha256sum | cut -c1-12)"
cache_root="${HYDRANT_CACHE:-$HOME/.cache/hydrant}"
mkdir -p "$cache_root"
cache_root="$(cd "$cache_root" && pwd)"
dir="$cache_root/kinesalite-$version-$hash"

if [ -f "$dir/.complete" ]; then
  echo "$dir"
  exit 0
fi
exec 9>"$cache_root/.kinesalite.lock"
flock 9
if [ -f "$dir/.complete" ]; then
  echo "$dir"
  exit 0
fi
rm -rf "$dir"
mkdir -p "$dir"
echo "installing kinesalite $version into $dir" >&2
(
  cd "$dir"
  printf '{"name":"hydrant-kinesalite","private":true}\n' > package.json
  # --ignore-scripts: the optional native leveldown build is not needed (memdown is used).
  npm install --no-audit --no-fund --ignore-scripts "kinesalite@$version" >&2
)
test -f "$dir/node_modules/kinesalite/cli.js"
touch "$dir/.complete"
echo "$dir"
