//! A real single-node cluster for the cluster tests: `tests/k8s-node/up.sh` brings up
//! containerd, etcd, the control plane, a kubelet, kube-proxy and CoreDNS inside a network
//! namespace of their own, with the images from `images/build.sh` imported; dropping the
//! [`Node`] runs `down.sh`, which stops every process by PID and deletes the namespace.
//!
//! Everything the cluster uses exists only in that namespace: tests reach pods, Services and
//! cluster DNS names by running clients in it ([`Node::in_netns`]); the API server is also
//! reachable from the host through a veth pair ([`Node::api`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::workspace_root;

/// The images the cluster tests run, built once per test run by `images/build.sh`.
pub struct Images {
    pub dir: PathBuf,
    pub version: String,
}

impl Images {
    /// Builds (or finds up to date) the data-plane, operator and pause images; with
    /// `HYDRANT_IMAGES` set (`tests/run.sh` builds them before the tests), uses that directory. Fails
    /// loudly with the script's output: a cluster test without its images cannot run.
    pub fn build() -> Images {
        let root = workspace_root();
        if let Some(dir) = std::env::var_os("HYDRANT_IMAGES") {
            return Images {
                dir: PathBuf::from(dir),
                version: chart_app_version(&root),
            };
        }
        let output = Command::new("bash")
            .arg(root.join("images/build.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("run images/build.sh");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "images/build.sh failed ({}); it needs buildah (tests/k8s-node/install-packages.sh)",
            output.status
        );
        let dir = PathBuf::from(stdout.lines().last().expect("images dir").trim());
        Images {
            dir,
            version: chart_app_version(&root),
        }
    }

    /// The OCI archive of `name` (`hydrant`, `hydrant-operator`).
    pub fn archive(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}-{}.oci.tar", self.version))
    }
}

/// The chart's `appVersion`: the tag its default image references carry.
fn chart_app_version(root: &Path) -> String {
    let chart =
        std::fs::read_to_string(root.join("charts/hydrant/Chart.yaml")).expect("Chart.yaml");
    chart
        .lines()
        .find_map(|l| l.strip_prefix("appVersion:"))
        .map(|v| v.trim().trim_matches('"').to_owned())
        .expect("appVersion in Chart.yaml")
}

/// A running node; torn down on drop.
pub struct Node {
    /// up.sh's state directory: configs, data, `logs/<process>.log`.
    pub dir: PathBuf,
    pub netns: String,
    /// The bridge address: node IP, API server advertise address, where test servers listen.
    pub ip: String,
    /// The API server's URL, reachable from the host and from the namespace.
    pub api: String,
    pub kubeconfig: PathBuf,
    /// Holds kubectl and the node binaries.
    pub bin: PathBuf,
    /// containerd's socket (`ctr --address`).
    pub containerd: PathBuf,
}

impl Node {
    /// Brings the node up with `archives` imported into containerd. Fails loudly with the
    /// reason: a cluster test never skips.
    pub fn start(archives: &[PathBuf]) -> Node {
        let script = workspace_root().join("tests/k8s-node/up.sh");
        let started = std::time::Instant::now();
        let output = Command::new("bash")
            .arg(&script)
            .args(archives)
            .stderr(Stdio::inherit())
            .output()
            .expect("run tests/k8s-node/up.sh");
        assert!(
            output.status.success(),
            "tests/k8s-node/up.sh failed ({}); its log is above (packages: tests/k8s-node/install-packages.sh)",
            output.status
        );
        let env = parse_env(&String::from_utf8_lossy(&output.stdout));
        let get = |k: &str| {
            env.get(k)
                .cloned()
                .unwrap_or_else(|| panic!("up.sh printed no {k}"))
        };
        let node = Node {
            dir: PathBuf::from(get("HYDRANT_NODE_DIR")),
            netns: get("HYDRANT_NODE_NETNS"),
            ip: get("HYDRANT_NODE_IP"),
            api: get("HYDRANT_NODE_API"),
            kubeconfig: PathBuf::from(get("KUBECONFIG")),
            bin: PathBuf::from(get("HYDRANT_NODE_BIN")),
            containerd: PathBuf::from(get("HYDRANT_NODE_CONTAINERD")),
        };
        eprintln!(
            "node {} up in {:.1} s (netns {}, node IP {})",
            node.dir.display(),
            started.elapsed().as_secs_f64(),
            node.netns,
            node.ip
        );
        node
    }

    /// An admin client (from the host, through the veth pair).
    pub async fn client(&self) -> kube::Client {
        crate::controlplane::client_from_kubeconfig(&self.kubeconfig)
            .await
            .expect("admin client")
    }

    /// `kubectl` with the admin kubeconfig, run in the namespace (cluster DNS names resolve).
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.in_netns(&self.bin.join("kubectl"))
            .env("KUBECONFIG", &self.kubeconfig)
            .args(args)
            .output()
            .expect("run kubectl")
    }

    /// `kubectl`, which must succeed; its stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `program` run inside the cluster's network namespace.
    pub fn in_netns(&self, program: &Path) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.netns]).arg(program);
        c
    }

    /// The namespace's address this process reaches it at (the API server's host).
    pub fn reach_ip(&self) -> String {
        let host = self.api.trim_start_matches("https://");
        host.split(':').next().unwrap_or(host).to_owned()
    }

    /// A tool of the control-plane build (`helm`).
    pub fn tool(&self, name: &str) -> PathBuf {
        crate::controlplane::tools_dir().join(name)
    }

    /// Kills a container's processes with SIGKILL, as a crash would: every process whose
    /// cgroup path names the container (`container_id` as the pod status gives it,
    /// `containerd://<id>`), or else the pod (`pod_uid`) and whose command line names
    /// `program` (so the pod's sandbox is spared). Returns how many were killed.
    pub fn kill_container(&self, container_id: &str, pod_uid: &str, program: &str) -> usize {
        let id = container_id.trim_start_matches("containerd://");
        let pod = pod_uid.replace('-', "_");
        let mut killed = 0;
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cgroup = std::fs::read_to_string(entry.path().join("cgroup")).unwrap_or_default();
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let in_pod = cgroup.contains(pod_uid) || cgroup.contains(&pod);
            let runs_program = String::from_utf8_lossy(&cmdline).contains(program);
            if cgroup.contains(id) || (in_pod && runs_program) {
                let status = Command::new("kill").args(["-9", &pid.to_string()]).status();
                killed += usize::from(matches!(status, Ok(s) if s.success()));
            }
        }
        killed
    }

    /// The tail of one cluster process's log (`kubelet`, `kube-apiserver`, ...).
    pub fn log_tail(&self, process: &str, lines: usize) -> String {
        let text = std::fs::read_to_string(self.dir.join("logs").join(format!("{process}.log")))
            .unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // What the cluster looked like when the test failed, before it is torn down.
            for args in [
                &["get", "pods", "-A", "-o", "wide"][..],
                &["get", "events", "-A", "--sort-by=.lastTimestamp"][..],
            ] {
                let out = self.kubectl(args);
                eprintln!(
                    "kubectl {}:\n{}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stdout)
                );
            }
            eprintln!("kubelet log:\n{}", self.log_tail("kubelet", 40));
        }
        let script = workspace_root().join("tests/k8s-node/down.sh");
        let status = Command::new("bash").arg(script).arg(&self.dir).status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!(
                "tests/k8s-node/down.sh {} failed: {status:?}",
                self.dir.display()
            );
        }
    }
}

/// up.sh's `KEY=VALUE` lines.
fn parse_env(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_sh_output_parses_to_its_keys() {
        let env = parse_env("HYDRANT_NODE_IP=10.244.0.1\nKUBECONFIG=/tmp/x/kubeconfig\n/tmp/x\n");
        assert_eq!(env["HYDRANT_NODE_IP"], "10.244.0.1");
        assert_eq!(env["KUBECONFIG"], "/tmp/x/kubeconfig");
        assert_eq!(env.len(), 2);
    }

    #[test]
    fn the_chart_names_its_app_version() {
        assert!(!chart_app_version(&workspace_root()).is_empty());
    }
}
