#!/usr/bin/env bash
# Brings up a real single-node Kubernetes cluster inside a network namespace of its own:
# containerd + runc + CNI (bridge), etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kube-proxy (iptables) and CoreDNS, all as local processes.
#
# Usage: tests/k8s-node/up.sh [OCI-ARCHIVE...]
#   Every OCI-ARCHIVE (e.g. from images/build.sh) is imported into containerd's k8s.io
#   namespace under the reference it carries, so pods use it with imagePullPolicy
#   IfNotPresent/Never. The pause (sandbox) image is always built and imported.
# Environment (all optional):
#   HYDRANT_CACHE                cache root for the builds (default ~/.cache/hydrant)
#   HYDRANT_K8S_TOOLS            bin dir with etcd, kube-apiserver, kube-controller-manager
#                                (default: the output of tests/k8s-tools/build.sh)
#   HYDRANT_K8S_NODE             bin dir with kubelet, kube-scheduler, kube-proxy, kubectl,
#                                coredns (default: the output of tests/k8s-node/build.sh)
#   HYDRANT_NODE_READY_TIMEOUT   seconds to wait for the node to be Ready (default 120)
#   HYDRANT_NODE_KEEP_ON_FAILURE 1: leave everything running when bring-up fails (to debug)
#
# Output: progress on stderr; on stdout, lines KEY=VALUE (also written to $DIR/env, which a
# shell can source), the last line being the state directory DIR:
#   HYDRANT_NODE_DIR     state dir (/tmp/hydrant-node-<id>): configs, data, logs/<name>.log
#   HYDRANT_NODE_NETNS   network namespace name (hydrant-<id>); run clients in it with
#                        `ip netns exec "$HYDRANT_NODE_NETNS" ...`
#   HYDRANT_NODE_NAME    the Node's name (hydrant-<id>)
#   HYDRANT_NODE_IP      bridge address = node IP = the API server's advertise address
#   HYDRANT_NODE_API     API server URL reachable from the host and from inside the netns
#                        (a veth pair links the host to the namespace)
#   KUBECONFIG           admin kubeconfig (static token, group system:masters)
#   HYDRANT_NODE_PIDS    file of "name pid starttime" lines, one per process, for down.sh
#   HYDRANT_NODE_CONTAINERD  containerd's socket (ctr --address ... -n k8s.io)
#   HYDRANT_NODE_BIN     bin dir holding kubectl (and the node binaries)
# Stop with tests/k8s-node/down.sh DIR.
#
# Addresses (all inside the namespace except the host end of the veth):
#   pods 10.244.0.0/24 on bridge hbr0 (10.244.0.1 = node IP), Services 10.96.0.0/16,
#   kubernetes Service 10.96.0.1, cluster DNS 10.96.0.10 (Service kube-dns in kube-system,
#   backed by the CoreDNS process on 10.244.0.1:53), host link 10.213.x.y/30.
#
# The daemons run in the netns and share one private mount namespace (made by unshare for
# containerd, entered with nsenter by the others), so the kubelet's volume mounts (Secrets,
# projected ServiceAccount tokens) are the ones runc sees and every mount they make disappears
# with the last of them. `ip netns exec` would give each daemon a mount namespace of its own
# and remount /sys without the cgroup mounts. See README.md in this directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
t_start=$(date +%s.%N)

log() { echo "k8s-node: $*" >&2; }
die() { log "$*"; exit 1; }
elapsed() { awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

[[ $EUID -eq 0 ]] || die "must run as root (network namespace, containerd, kubelet)"
for archive in "$@"; do
    [[ -s "$archive" ]] || die "no such OCI archive: $archive"
done
for tool in containerd containerd-shim-runc-v2 runc ctr ip iptables nsenter unshare setsid openssl curl; do
    command -v "$tool" >/dev/null || die "$tool is missing (run tests/k8s-node/install-packages.sh)"
done
for plugin in bridge host-local loopback portmap; do
    [[ -x /usr/lib/cni/$plugin ]] || die "/usr/lib/cni/$plugin is missing (containernetworking-plugins)"
done

tools="${HYDRANT_K8S_TOOLS:-$(bash "$repo/tests/k8s-tools/build.sh" | tail -n 1)}"
nodebin="${HYDRANT_K8S_NODE:-$(bash "$here/build.sh" | tail -n 1)}"
for b in "$tools/etcd" "$tools/kube-apiserver" "$tools/kube-controller-manager" \
    "$nodebin/kubelet" "$nodebin/kube-scheduler" "$nodebin/kube-proxy" "$nodebin/kubectl" \
    "$nodebin/coredns" "$nodebin/metrics-server"; do
    [[ -x "$b" ]] || die "$b is missing"
done
images="$(bash "$repo/images/build.sh" pause | tail -n 1)"
pause_archive="$images/pause-1.oci.tar"
pause_ref="localhost/hydrant/pause:1"
t_built=$(date +%s.%N)

# --- state directory and names -----------------------------------------------------------
while :; do
    id="$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
    dir="/tmp/hydrant-node-$id"
    mkdir -m 0700 "$dir" 2>/dev/null && break
done
netns="hydrant-$id"
node="hydrant-$id"
node_ip=10.244.0.1
pod_cidr=10.244.0.0/24
cluster_cidr=10.244.0.0/16
service_cidr=10.96.0.0/16
kubernetes_svc_ip=10.96.0.1
dns_ip=10.96.0.10
cgroup_root="/hydrant-$id"
pids="$dir/pids"
mkdir -p "$dir"/{logs,pki,etcd,containerd,cni/net.d,cni/ipam,kubelet,pod-logs,kcm,scheduler,metrics-server}
: >"$pids"
echo "$netns" >"$dir/netns"
echo "$cgroup_root" >"$dir/cgroup-root"

ok=0
on_exit() {
    local rc=$?
    ((ok)) && return
    ((rc)) || rc=1
    log "bring-up failed (exit $rc) after $(elapsed)s; logs in $dir/logs"
    local f
    for f in "$dir"/logs/*.log; do
        [[ -s "$f" ]] || continue
        echo "--- last lines of $f ---" >&2
        tail -n 15 "$f" >&2
    done
    if [[ "${HYDRANT_NODE_KEEP_ON_FAILURE:-0}" == 1 ]]; then
        log "left running (HYDRANT_NODE_KEEP_ON_FAILURE=1); stop with $here/down.sh $dir"
    else
        cp -r "$dir/logs" "$dir-logs" 2>/dev/null && log "logs kept in $dir-logs"
        bash "$here/down.sh" "$dir" >&2 || true
    fi
    exit "$rc"
}
trap on_exit EXIT

# --- network namespace: loopback, bridge (node IP), veth to the host ------------------------
log "netns $netns, state in $dir"
ip netns add "$netns"
nsip() { ip -n "$netns" "$@"; }
nsip link set lo up
nsip link add hbr0 type bridge
nsip addr add "$node_ip/24" dev hbr0
nsip link set hbr0 up
# Service IPs need a route for locally started clients (kube-proxy's DNAT happens after the
# routing decision); pods route them through their default gateway, the bridge address.
nsip route add "$service_cidr" dev hbr0 src "$node_ip"
# Host link: the first free 10.213.a.b/30 (host .1, namespace .2); the lock keeps two
# concurrent bring-ups from taking the same one.
host_if="hyd-$id"
exec 8>/run/lock/hydrant-node-uplink.lock
flock 8
for i in $(seq 0 16383); do
    a=$((i / 64)) b=$((i % 64 * 4))
    if ! ip -4 -o addr show | grep -q " 10\.213\.$a\.$((b + 1))/"; then
        host_ip="10.213.$a.$((b + 1))" ns_uplink_ip="10.213.$a.$((b + 2))"
        break
    fi
done
[[ -n "${host_ip:-}" ]] || die "no free /30 in 10.213.0.0/16 for the host link"
ip link add "$host_if" type veth peer name uplink0 netns "$netns"
ip addr add "$host_ip/30" dev "$host_if"
flock -u 8
exec 8>&-
ip link set "$host_if" up
nsip addr add "$ns_uplink_ip/30" dev uplink0
nsip link set uplink0 up
ip netns exec "$netns" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$netns" sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
api="https://$ns_uplink_ip:6443"
# Clients started with `ip netns exec` (curl, kubectl) resolve cluster names through CoreDNS:
# ip netns exec bind-mounts /etc/netns/<netns>/resolv.conf over /etc/resolv.conf.
mkdir -p "/etc/netns/$netns"
printf 'search svc.cluster.local cluster.local\nnameserver %s\noptions ndots:5\n' "$dns_ip" \
    >"/etc/netns/$netns/resolv.conf"

# --- certificates, tokens, kubeconfigs --------------------------------------------------
pki="$dir/pki"
openssl ecparam -name prime256v1 -genkey -noout -out "$pki/ca.key" 2>/dev/null
openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=hydrant-node-ca" -days 30 \
    -out "$pki/ca.crt" 2>/dev/null
# cert NAME SUBJECT EXTENSIONS: a key and a certificate signed by the CA.
cert() {
    openssl ecparam -name prime256v1 -genkey -noout -out "$pki/$1.key" 2>/dev/null
    openssl req -new -key "$pki/$1.key" -subj "$2" -out "$pki/$1.csr" 2>/dev/null
    printf '%s\n' "$3" >"$pki/$1.ext"
    openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
        -CAcreateserial -days 30 -extfile "$pki/$1.ext" -out "$pki/$1.crt" 2>/dev/null
}
cert apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:$node_ip,IP:$ns_uplink_ip,IP:$kubernetes_svc_ip,IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" \
    "basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
# The aggregation layer's client: the API server proxies metrics.k8s.io to metrics-server with it.
cert front-proxy-client "/CN=front-proxy-client" "basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null

token() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }
admin_token="$(token)"
{
    echo "$admin_token,admin,admin,\"system:masters\""
    echo "$(token),system:kube-controller-manager,kcm,\"system:masters\""
    echo "$(token),system:kube-scheduler,scheduler,\"system:masters\""
    echo "$(token),system:node:$node,kubelet,\"system:nodes\""
    echo "$(token),system:kube-proxy,kube-proxy,\"system:node-proxier\""
    echo "$(token),system:metrics-server,metrics-server,\"system:masters\""
} >"$pki/tokens.csv"
chmod 0600 "$pki/tokens.csv" "$pki"/*.key
# kubeconfig FILE SERVER TOKEN
kubeconfig() {
    cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: hydrant
  cluster:
    server: $2
    certificate-authority: $pki/ca.crt
users:
- name: user
  user:
    token: $3
contexts:
- name: hydrant
  context: {cluster: hydrant, user: user}
current-context: hydrant
EOF
}
token_of() { awk -F, -v u="$1" '$2 == u { print $1 }' "$pki/tokens.csv"; }
kubeconfig "$dir/admin.kubeconfig" "$api" "$admin_token"
kubeconfig "$dir/kcm.kubeconfig" "https://$node_ip:6443" "$(token_of system:kube-controller-manager)"
kubeconfig "$dir/scheduler.kubeconfig" "https://$node_ip:6443" "$(token_of system:kube-scheduler)"
kubeconfig "$dir/kubelet.kubeconfig" "https://$node_ip:6443" "$(token_of "system:node:$node")"
kubeconfig "$dir/kube-proxy.kubeconfig" "https://$node_ip:6443" "$(token_of system:kube-proxy)"
kubeconfig "$dir/coredns.kubeconfig" "https://$node_ip:6443" "$admin_token"
kubeconfig "$dir/metrics-server.kubeconfig" "https://$node_ip:6443" \
    "$(token_of system:metrics-server)"

# --- configuration files -------------------------------------------------------------------
ctrd="$dir/containerd"
cat >"$ctrd/config.toml" <<EOF
version = 2
root = "$ctrd/root"
state = "$ctrd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "$ctrd/containerd.sock"

[ttrpc]
  address = "$ctrd/containerd.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "$ctrd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_ref"
  # The VM lacks CAP_SYS_RESOURCE: without this every sandbox fails in runc with
  # "oom_score_adj: Permission denied".
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  max_container_log_line_size = 16384

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    discard_unpacked_layers = false

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$ctrd/runc"

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni/net.d"
    max_conf_num = 1
EOF

# containerd's CRI sets up each pod's loopback itself (the loopback plugin from bin_dir);
# the conflist gives eth0 on the bridge, an address from host-local, and hostPort support.
cat >"$dir/cni/net.d/10-hydrant.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$netns",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "hbr0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$dir/cni/ipam",
        "ranges": [[{ "subnet": "$pod_cidr", "gateway": "$node_ip" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF

printf '' >"$dir/kubelet/resolv.conf"
cat >"$dir/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $node_ip
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://$ctrd/containerd.sock
imageServiceEndpoint: unix://$ctrd/containerd.sock
# The host is a cgroup v1/v2 hybrid without systemd and without swap accounting.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: $cgroup_root
failSwapOn: false
oomScoreAdj: 0
clusterDNS: [$dns_ip]
clusterDomain: cluster.local
resolvConf: $dir/kubelet/resolv.conf
podCIDR: $pod_cidr
podLogsDir: $dir/pod-logs
evictionHard:
  memory.available: 50Mi
  nodefs.available: "1%"
  nodefs.inodesFree: "1%"
  imagefs.available: "1%"
# Images are imported, never pulled: never garbage-collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
registerNode: true
rotateCertificates: false
serverTLSBootstrap: false
protectKernelDefaults: false
nodeStatusUpdateFrequency: 5s
syncFrequency: 10s
shutdownGracePeriod: 0s
EOF

cat >"$dir/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $dir/kube-proxy.kubeconfig
hostnameOverride: $node
mode: iptables
clusterCIDR: $cluster_cidr
detectLocalMode: ClusterCIDR
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
oomScoreAdj: 0
nodePortAddresses: [primary]
iptables:
  # Otherwise kube-proxy sets route_localnet=1.
  localhostNodePorts: false
  masqueradeAll: false
# Zeros: kube-proxy leaves the conntrack sysctls alone.
conntrack:
  maxPerCore: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
EOF

# CoreDNS as a process on the node IP (not a pod): cluster.local from the API server. There is
# no upstream DNS here, so other names get REFUSED.
cat >"$dir/Corefile" <<EOF
cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {
    errors
    health 127.0.0.1:18080
    ready 127.0.0.1:18181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $dir/coredns.kubeconfig hydrant
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    loadbalance
}
EOF

# --- processes ------------------------------------------------------------------------------
anchor=""
declare -A pid=()
# start NAME CMD...: runs CMD in the netns and in a session of its own, logging to
# logs/NAME.log, and records its PID. The first (containerd) gets a new mount namespace; the
# others enter that one.
start() {
    local name="$1"
    shift
    if [[ -z "$anchor" ]]; then
        # A new mount namespace (slave: the host's mounts, /sys/fs/cgroup included, propagate
        # in; none propagate out), in the netns. Not `ip netns exec`: it remounts /sys, which
        # hides the cgroup mounts the kubelet and runc need.
        unshare --mount --propagation slave -- nsenter --net="/run/netns/$netns" -- \
            setsid "$@" >"$dir/logs/$name.log" 2>&1 </dev/null &
    else
        nsenter --mount="/proc/$anchor/ns/mnt" --net="/run/netns/$netns" -- \
            setsid "$@" >"$dir/logs/$name.log" 2>&1 </dev/null &
    fi
    pid[$name]=$!
    local st
    st="$(awk '{ print $22 }' "/proc/${pid[$name]}/stat" 2>/dev/null || echo 0)"
    echo "$name ${pid[$name]} $st" >>"$pids"
}
alive() { kill -0 "$1" 2>/dev/null; }
# wait_for WHAT SECONDS PID CMD...: polls CMD every 0.1 s while process PID lives.
wait_for() {
    local what="$1" secs="$2" watched="$3"
    shift 3
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        alive "$watched" || die "$what: process $watched exited (see $dir/logs)"
        ((SECONDS < deadline)) || die "$what: not ready after ${secs}s"
        sleep 0.1
    done
}
innet() { ip netns exec "$netns" "$@"; }
kubectl_() { "$nodebin/kubectl" --kubeconfig "$dir/admin.kubeconfig" "$@"; }

# The kubelet's cgroup root, in every v1 hierarchy and in the unified one.
mkdir_cgroups() {
    local h
    for h in /sys/fs/cgroup/*/; do
        [[ -d "$h" ]] || continue
        mkdir -p "$h${cgroup_root#/}"
        if [[ -f "$h/cpuset.cpus" ]]; then
            cat "$h/cpuset.cpus" >"$h${cgroup_root#/}/cpuset.cpus"
            cat "$h/cpuset.mems" >"$h${cgroup_root#/}/cpuset.mems"
        fi
    done
    if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
        mkdir -p "/sys/fs/cgroup${cgroup_root}"
    fi
}
mkdir_cgroups

log "starting containerd and etcd ($(elapsed)s)"
start containerd containerd --config "$ctrd/config.toml" --log-level warn
# Its PID is unshare's until the exec chain reaches containerd: the others may enter its mount
# namespace only once it has its own (and is in the netns).
in_place() {
    [[ "$(stat -L -c %i "/proc/${pid[containerd]}/ns/mnt")" != "$(stat -L -c %i /proc/self/ns/mnt)" &&
        "$(stat -L -c %i "/proc/${pid[containerd]}/ns/net")" == "$(stat -L -c %i "/run/netns/$netns")" ]]
}
wait_for "containerd's namespaces" 10 "${pid[containerd]}" in_place
anchor="${pid[containerd]}"
start etcd "$tools/etcd" --name "$node" --data-dir "$dir/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster "$node=http://127.0.0.1:2380" --initial-cluster-state new \
    --unsafe-no-fsync=true --log-level warn
wait_for containerd 30 "${pid[containerd]}" ctr --address "$ctrd/containerd.sock" version

# Image imports run while the control plane starts.
import_log="$dir/logs/images.log"
(
    for archive in "$pause_archive" "$@"; do
        echo "import $archive" >>"$import_log"
        ctr --address "$ctrd/containerd.sock" -n k8s.io images import --all-platforms "$archive" \
            >>"$import_log" 2>&1
    done
) &
imports=$!

wait_for etcd 30 "${pid[etcd]}" innet curl -sf http://127.0.0.1:2379/health
log "starting kube-apiserver ($(elapsed)s)"
start kube-apiserver "$tools/kube-apiserver" \
    --etcd-servers=http://127.0.0.1:2379 \
    --bind-address=0.0.0.0 --secure-port=6443 --advertise-address="$node_ip" \
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" --token-auth-file="$pki/tokens.csv" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
    --service-cluster-ip-range="$service_cidr" \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --allow-privileged=true \
    --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$pki/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP \
    --requestheader-client-ca-file="$pki/ca.crt" --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$pki/front-proxy-client.crt" \
    --proxy-client-key-file="$pki/front-proxy-client.key" --enable-aggregator-routing=true \
    --profiling=false --v=1
wait_for kube-apiserver 60 "${pid[kube-apiserver]}" \
    curl -sf --cacert "$pki/ca.crt" -H "Authorization: Bearer $admin_token" "$api/readyz"

# The kubelet sets these kernel tunables host-wide (they are not per network namespace);
# down.sh puts the values read here back.
for key in vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops \
    kernel.keys.root_maxkeys kernel.keys.root_maxbytes; do
    printf '%s %s\n' "$key" "$(sysctl -n "$key")"
done >"$dir/host-sysctls"
log "starting controller-manager, scheduler, kubelet, kube-proxy, CoreDNS ($(elapsed)s)"
start kube-controller-manager "$tools/kube-controller-manager" \
    --kubeconfig="$dir/kcm.kubeconfig" \
    --authentication-kubeconfig="$dir/kcm.kubeconfig" \
    --authorization-kubeconfig="$dir/kcm.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=10257 --cert-dir="$dir/kcm" \
    --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
    --cluster-name=hydrant --allocate-node-cidrs=false \
    --controllers='*,-nodeipam,-cloud-node-lifecycle' \
    --horizontal-pod-autoscaler-sync-period=5s \
    --horizontal-pod-autoscaler-downscale-stabilization=30s \
    --horizontal-pod-autoscaler-cpu-initialization-period=15s \
    --horizontal-pod-autoscaler-initial-readiness-delay=5s --v=1
start kube-scheduler "$nodebin/kube-scheduler" \
    --kubeconfig="$dir/scheduler.kubeconfig" \
    --authentication-kubeconfig="$dir/scheduler.kubeconfig" \
    --authorization-kubeconfig="$dir/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=10259 --cert-dir="$dir/scheduler" \
    --leader-elect=false --v=1
start kubelet "$nodebin/kubelet" \
    --config="$dir/kubelet/config.yaml" --kubeconfig="$dir/kubelet.kubeconfig" \
    --root-dir="$dir/kubelet" --cert-dir="$dir/kubelet/pki" \
    --hostname-override="$node" --node-ip="$node_ip" --v=1
start kube-proxy "$nodebin/kube-proxy" --config="$dir/kube-proxy.yaml" --v=1
start coredns "$nodebin/coredns" -conf "$dir/Corefile" -dns.port 53
# The resource metrics API (CPU and memory from the kubelet's /metrics/resource) on 4443.
start metrics-server "$nodebin/metrics-server" \
    --kubeconfig="$dir/metrics-server.kubeconfig" \
    --authentication-kubeconfig="$dir/metrics-server.kubeconfig" \
    --authorization-kubeconfig="$dir/metrics-server.kubeconfig" \
    --bind-address="$node_ip" --secure-port=4443 --cert-dir="$dir/metrics-server" \
    --kubelet-insecure-tls --kubelet-preferred-address-types=InternalIP \
    --metric-resolution=10s --kubelet-request-timeout=5s --v=1

# The cluster DNS Service: no selector, one EndpointSlice naming the CoreDNS process.
kubectl_ apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns, kubernetes.io/name: CoreDNS}
spec:
  clusterIP: $dns_ip
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-coredns
  namespace: kube-system
  labels:
    kubernetes.io/service-name: kube-dns
    endpointslice.kubernetes.io/managed-by: hydrant-k8s-node-up
addressType: IPv4
endpoints:
- addresses: [$node_ip]
  conditions: {ready: true}
  nodeName: $node
ports:
- {name: dns, port: 53, protocol: UDP}
- {name: dns-tcp, port: 53, protocol: TCP}
EOF

# metrics.k8s.io: the same shape, a Service naming the metrics-server process, and the APIService
# the aggregation layer routes by (metrics-server's serving certificate is self-signed).
kubectl_ apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Service
metadata: {name: metrics-server, namespace: kube-system, labels: {k8s-app: metrics-server}}
spec:
  ports: [{name: https, port: 443, protocol: TCP, targetPort: 4443}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: metrics-server-process
  namespace: kube-system
  labels:
    kubernetes.io/service-name: metrics-server
    endpointslice.kubernetes.io/managed-by: hydrant-k8s-node-up
addressType: IPv4
endpoints:
- addresses: [$node_ip]
  conditions: {ready: true}
  nodeName: $node
ports: [{name: https, port: 4443, protocol: TCP}]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.k8s.io}
spec:
  group: metrics.k8s.io
  version: v1beta1
  service: {name: metrics-server, namespace: kube-system, port: 443}
  insecureSkipTLSVerify: true
  groupPriorityMinimum: 100
  versionPriority: 100
EOF

node_ready() {
    [[ "$(kubectl_ get node "$node" \
        -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}
timeout="${HYDRANT_NODE_READY_TIMEOUT:-120}"
wait_for "node $node Ready" "$timeout" "${pid[kubelet]}" node_ready
t_ready=$(date +%s.%N)
wait "$imports" || die "image import failed: $(tail -n 5 "$import_log")"
wait_for coredns 30 "${pid[coredns]}" innet curl -sf http://127.0.0.1:18181/ready
netns_ino="$(stat -L -c %i "/run/netns/$netns")"
for p in $(awk '{ print $2 }' "$pids"); do
    what="process $p ($(awk -v p="$p" '$2 == p { print $1 }' "$pids"))"
    alive "$p" || die "$what exited"
    [[ "$(stat -L -c %i "/proc/$p/ns/net")" == "$netns_ino" ]] || die "$what is not in $netns"
done

t_done=$(date +%s.%N)
rss_kb=0
while read -r _ p _; do
    r="$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)"
    rss_kb=$((rss_kb + ${r:-0}))
done <"$pids"
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
log "node $node Ready $(secs "$t_built" "$t_ready")s after the start of containerd" \
    "($(secs "$t_start" "$t_ready")s after the start of up.sh, build checks included);" \
    "images imported at $(secs "$t_start" "$t_done")s; cluster processes' RSS $((rss_kb / 1024)) MiB"

cat >"$dir/env" <<EOF
HYDRANT_NODE_DIR=$dir
HYDRANT_NODE_NETNS=$netns
HYDRANT_NODE_NAME=$node
HYDRANT_NODE_IP=$node_ip
HYDRANT_NODE_API=$api
KUBECONFIG=$dir/admin.kubeconfig
HYDRANT_NODE_PIDS=$pids
HYDRANT_NODE_CONTAINERD=$ctrd/containerd.sock
HYDRANT_NODE_BIN=$nodebin
EOF
ok=1
cat "$dir/env"
printf '%s\n' "$dir"
