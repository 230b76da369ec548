#!/usr/bin/env bash
# Smoke test of the real node (the commands of README.md, in one script): builds the images,
# brings the node up with them, runs smoke.yaml (a data-plane Deployment and its Service),
# curls /readyz through the Service's cluster IP and through its DNS name from inside the
# network namespace, then tears everything down and checks nothing is left.
# Usage: tests/k8s-node/smoke.sh        (root; HYDRANT_BIN_DIR as for images/build.sh)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

images="$(bash "$repo/images/build.sh" dataplane pause | tail -n 1)"
version="$(awk -F': *' '$1 == "appVersion" { gsub(/"/, "", $2); print $2 }' "$repo/charts/hydrant/Chart.yaml")"
ls -l "$images"/*.oci.tar >&2

dir="$(bash "$here/up.sh" "$images/hydrant-$version.oci.tar" | tail -n 1)"
trap 'bash "$here/down.sh" "$dir"' EXIT
set -a
source "$dir/env"
set +a
k() { "$HYDRANT_NODE_BIN/kubectl" "$@"; }
innet() { ip netns exec "$HYDRANT_NODE_NETNS" "$@"; }

t0=$(date +%s.%N)
k apply -f "$here/smoke.yaml"
k -n smoke rollout status deploy/smoke --timeout=120s
echo "rollout took $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"
k -n smoke get pods,svc,endpointslices -o wide
ip="$(k -n smoke get svc smoke -o jsonpath='{.spec.clusterIP}')"
# kube-proxy programs the Service a moment after the pod is Ready (its iptables sync): retry.
t1=$(date +%s.%N)
for _ in $(seq 1 40); do
    innet curl -s --max-time 1 -o /dev/null "http://$ip:9464/readyz" && break
    sleep 0.25
done
echo "Service reachable $(awk -v a="$t1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s after the rollout"
echo "--- curl http://$ip:9464/readyz (cluster IP, inside $HYDRANT_NODE_NETNS)"
innet curl -sS --fail -w ' [HTTP %{http_code}]\n' "http://$ip:9464/readyz"
echo "--- curl http://smoke.smoke.svc.cluster.local:9464/readyz (CoreDNS)"
innet curl -sS --fail -w ' [HTTP %{http_code}]\n' http://smoke.smoke.svc.cluster.local:9464/readyz
echo "--- pod log"
k -n smoke logs deploy/smoke --tail=5

rss=0
while read -r _ p _; do
    r="$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)"
    rss=$((rss + ${r:-0}))
done <"$HYDRANT_NODE_PIDS"
echo "cluster processes' RSS with the smoke pod running: $((rss / 1024)) MiB"

trap - EXIT
bash "$here/down.sh" "$dir"
echo "smoke test passed"
