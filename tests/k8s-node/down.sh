#!/usr/bin/env bash
# Stops a cluster started by tests/k8s-node/up.sh and removes everything it left:
#   1. stops kube-controller-manager and kube-scheduler (nothing recreates pods), deletes every
#      pod and waits (up to HYDRANT_NODE_DRAIN_TIMEOUT seconds, default 30) until containerd
#      runs no container, so the CRI tears down the pods' network namespaces and CNI leases;
#   2. stops the processes by the PIDs in DIR/pids (SIGTERM, then SIGKILL after 10 s; a PID
#      whose start time differs from the recorded one was reused and is left alone);
#   3. kills what is still in the cluster's network namespace (containerd shims) and in its
#      cgroup root (pod processes), removes those cgroups and deletes the network namespace
#      (which removes the bridge and the host's end of the veth);
#   4. removes by path what the kubelet, containerd and CNI write outside DIR:
#      /var/log/containers/* links into DIR, /var/lib/cni/results/<netns>-*,
#      /var/lib/kubelet/device-plugins (when no other node of this kind runs), empty
#      /run/containerd/{s,runc}, and /etc/netns/<netns>;
#   5. unmounts anything left under DIR and deletes DIR.
# Then it checks that nothing is left (netns, processes, mounts, cgroups, DIR) and exits
# non-zero when something is.
#
# Usage: tests/k8s-node/down.sh DIR     (DIR: the last line up.sh printed)
# Idempotent: running it again on a removed DIR only repeats the checks it can.
set -uo pipefail

log() { echo "k8s-node down: $*" >&2; }

[[ $# -eq 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
dir="${1%/}"
[[ $EUID -eq 0 ]] || { log "must run as root"; exit 1; }
case "$dir" in
    /tmp/hydrant-node-*) ;;
    *) log "$dir is not a state directory of up.sh (/tmp/hydrant-node-*)"; exit 2 ;;
esac
id="${dir#/tmp/hydrant-node-}"
netns="hydrant-$id"
cgroup_root="/hydrant-$id"
pids="$dir/pids"
t0=$SECONDS
pid_lines="$(cat "$pids" 2>/dev/null)"
# When this node started: pod network namespaces made since then are its own.
node_started="$(stat -c %Y "$dir" 2>/dev/null || echo 0)"

# True while process $1 runs (a zombie does not: nobody may reap it soon).
running() {
    local state
    state="$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" || return 1
    [[ -n "$state" && "$state" != Z ]]
}
# The recorded PID of NAME when that process still runs (same start time), else nothing.
pid_of() {
    local name pid st
    while read -r name pid st; do
        [[ "$name" == "$1" ]] || continue
        running "$pid" && [[ "$(awk '{ print $22 }' "/proc/$pid/stat" 2>/dev/null)" == "$st" ]] \
            && echo "$pid"
    done <<<"$pid_lines"
}
# stop NAME...: SIGTERM, wait up to 10 s, SIGKILL.
stop() {
    local t=$SECONDS
    stop_ "$@"
    ((SECONDS - t < 2)) || log "stopping $* took $((SECONDS - t))s"
}
stop_() {
    local name pid list=()
    for name in "$@"; do
        pid="$(pid_of "$name")"
        [[ -n "$pid" ]] || continue
        kill -TERM "$pid" 2>/dev/null && list+=("$pid")
    done
    ((${#list[@]})) || return 0
    local deadline=$((SECONDS + 10)) p any
    while ((SECONDS < deadline)); do
        any=0
        for p in "${list[@]}"; do running "$p" && any=1; done
        ((any)) || return 0
        sleep 0.1
    done
    for p in "${list[@]}"; do
        running "$p" && { log "SIGKILL $p"; kill -KILL "$p" 2>/dev/null; }
    done
    sleep 0.2
}

kubectl=""
if [[ -f "$dir/env" ]]; then
    bin="$(awk -F= '$1 == "HYDRANT_NODE_BIN" { print $2 }' "$dir/env")"
    [[ -x "$bin/kubectl" ]] && kubectl="$bin/kubectl"
fi
[[ -z "$kubectl" && -x "${HYDRANT_K8S_NODE:-/nonexistent}/kubectl" ]] && kubectl="$HYDRANT_K8S_NODE/kubectl"
ctr_sock="$dir/containerd/containerd.sock"
running_tasks() {
    ctr --address "$ctr_sock" -n k8s.io tasks ls -q 2>/dev/null | grep -c . || true
}

# 1. Pods.
if [[ -n "$(pid_of kube-apiserver)" && -n "$(pid_of kubelet)" && -n "$kubectl" ]]; then
    stop kube-controller-manager kube-scheduler
    k() { timeout 20 "$kubectl" --kubeconfig "$dir/admin.kubeconfig" "$@"; }
    k delete pods --all --all-namespaces --wait=false >/dev/null 2>&1
    drain="${HYDRANT_NODE_DRAIN_TIMEOUT:-30}"
    deadline=$((SECONDS + drain))
    while ((SECONDS < deadline)); do
        n_pods="$(k get pods --all-namespaces --no-headers 2>/dev/null | grep -c . || true)"
        n_tasks="$(running_tasks)"
        ((n_pods == 0 && n_tasks == 0)) && break
        sleep 0.5
    done
    if ((n_pods || n_tasks)); then
        log "after ${drain}s: $n_pods pods, $n_tasks containers still running; forcing"
        k delete pods --all --all-namespaces --grace-period=0 --force >/dev/null 2>&1
        sleep 2
    else
        log "pods deleted ($((SECONDS - t0))s)"
    fi
fi
# Sandboxes the kubelet did not remove: kill their tasks (the network namespaces go with the
# mount namespace below; their CNI results are removed by path).
if [[ -S "$ctr_sock" && -n "$(pid_of containerd)" ]]; then
    for c in $(ctr --address "$ctr_sock" -n k8s.io tasks ls -q 2>/dev/null); do
        ctr --address "$ctr_sock" -n k8s.io tasks kill -s SIGKILL "$c" >/dev/null 2>&1
    done
fi

# 2. The processes, clients before servers.
stop kubelet kube-proxy coredns kube-controller-manager kube-scheduler
stop kube-apiserver
stop etcd
stop containerd

# 3. What is left in the netns (shims), in the cgroup root (pod processes); cgroups; netns.
if [[ -e "/run/netns/$netns" ]]; then
    for p in $(ip netns pids "$netns" 2>/dev/null); do
        log "killing leftover process $p ($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-80))"
        kill -KILL "$p" 2>/dev/null
    done
fi
cgroup_dirs() {
    local h
    for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
        [[ -d "$h${cgroup_root#/}" ]] && find "$h${cgroup_root#/}" -depth -type d
    done
}
for _ in 1 2 3; do
    procs="$(cgroup_dirs | while read -r d; do cat "$d/cgroup.procs" 2>/dev/null; done | sort -u)"
    [[ -n "$procs" ]] || break
    for p in $procs; do kill -KILL "$p" 2>/dev/null; done
    sleep 0.3
done
sleep 0.2
cgroup_dirs | while read -r d; do rmdir "$d" 2>/dev/null; done
if [[ -e "/run/netns/$netns" ]]; then
    for _ in 1 2 3 4 5; do
        [[ -z "$(ip netns pids "$netns" 2>/dev/null)" ]] && break
        sleep 0.2
    done
    ip netns del "$netns" 2>/dev/null || log "ip netns del $netns failed"
fi

# 4. Paths outside DIR.
rm -rf "/etc/netns/$netns"
rmdir /etc/netns 2>/dev/null
for l in /var/log/containers/*; do
    [[ -L "$l" ]] || continue
    case "$(readlink "$l")" in "$dir"/*) rm -f "$l" ;; esac
done
rmdir /var/log/containers 2>/dev/null
# libcni's cache: "<network>-<container>-eth0" for the pods' network and
# "cni-loopback-<container>-lo" for their loopback (the CRI's own network).
for f in /var/lib/cni/results/"$netns"-*; do
    [[ -e "$f" ]] || continue
    c="${f#/var/lib/cni/results/$netns-}"
    rm -f "$f" "/var/lib/cni/results/cni-loopback-${c%-*}-lo"
done
rmdir /var/lib/cni/results /var/lib/cni 2>/dev/null
# Another running node (another state dir with a live kubelet) shares the fixed paths.
others=0
for other in /tmp/hydrant-node-*/pids; do
    [[ -f "$other" && "$other" != "$pids" ]] || continue
    while read -r name pid st; do
        [[ "$name" == kubelet && "$(awk '{ print $22 }' "/proc/$pid/stat" 2>/dev/null)" == "$st" ]] \
            && others=1
    done <"$other"
done
if ((others == 0)); then
    rm -rf /var/lib/kubelet/device-plugins
    rmdir /var/lib/kubelet 2>/dev/null
    # Shim sockets whose shim is gone.
    for s in /run/containerd/s/*; do
        [[ -S "$s" ]] || continue
        ss -xl 2>/dev/null | grep -qF "$s" || rm -f "$s"
    done
fi
rmdir /run/containerd/s /run/containerd/runc /run/containerd 2>/dev/null

# Kernel tunables the kubelet changed host-wide go back to what up.sh read.
if [[ -f "$dir/host-sysctls" ]]; then
    while read -r key value; do
        sysctl -q -w "$key=$value" >/dev/null 2>&1 || log "could not restore $key=$value"
    done <"$dir/host-sysctls"
fi

# 5. Mounts under DIR (none are expected in this mount namespace) and DIR.
if [[ -d "$dir" ]]; then
    findmnt -rn -o TARGET | awk -v d="$dir/" 'index($0, d) == 1' | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null && log "unmounted $m"
    done
    rm -rf "$dir" 2>/dev/null || { sleep 1; rm -rf "$dir"; }
fi

# The CRI's pod network namespaces (cni-<uuid>) outlive a forced teardown: remove those made
# since this node started (one node per machine: no other CRI makes them meanwhile).
for ns in /run/netns/cni-*; do
    [[ -e "$ns" ]] || continue
    if (( $(stat -c %Y "$ns") >= node_started )); then
        ip netns delete "${ns##*/}" 2>/dev/null && log "removed pod netns ${ns##*/}"
    fi
done

# Checks.
left=()
[[ -e "/run/netns/$netns" ]] && left+=("netns $netns")
# The host end of the veth goes a moment after the netns.
for _ in $(seq 1 30); do
    ip link show "hyd-$id" >/dev/null 2>&1 || break
    sleep 0.1
done
ip link show "hyd-$id" >/dev/null 2>&1 && left+=("link hyd-$id")
for name in $(awk '{ print $1 }' <<<"$pid_lines"); do
    [[ -n "$(pid_of "$name")" ]] && left+=("process $name")
done
[[ -n "$(cgroup_dirs)" ]] && left+=("cgroups $cgroup_root")
findmnt -rn -o TARGET | grep -qF "$dir" && left+=("mounts under $dir")
[[ -e "$dir" ]] && left+=("$dir")
if ((${#left[@]})); then
    log "left behind: ${left[*]}"
    exit 1
fi
log "removed $netns and $dir ($((SECONDS - t0))s)"
