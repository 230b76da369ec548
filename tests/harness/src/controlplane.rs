//! A real Kubernetes control plane for integration tests, envtest style: etcd and
//! kube-apiserver (and, on request, kube-controller-manager) as local processes on
//! 127.0.0.1 with their data in a temporary directory.
//!
//! The binaries come from `tests/k8s-tools/build.sh`, which builds them from their Go
//! modules into a versioned cache outside the checkout (the first run takes ~9 minutes,
//! later runs reuse the cache). `HYDRANT_K8S_TOOLS=<bin dir>` points at prebuilt tools
//! instead.
//!
//! Authentication: the admin is a static bearer token (user `admin`, group
//! `system:masters`) from `--token-auth-file`; ServiceAccount tokens from the TokenRequest
//! API work too (`kubeconfig_for_token`). Authorization is RBAC. Without the controller
//! manager there are no ReplicaSets, no Deployment status and no garbage collection, and
//! there are never any pods (no scheduler, no kubelet).

use std::collections::hash_map::RandomState;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kube::config::{KubeConfigOptions, Kubeconfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::free_port;

/// Issuer of ServiceAccount tokens, as in a real cluster.
pub const SERVICE_ACCOUNT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

const ETCD_TIMEOUT: Duration = Duration::from_secs(60);
const APISERVER_TIMEOUT: Duration = Duration::from_secs(180);
const START_ATTEMPTS: usize = 3;
const LOG_TAIL_LINES: usize = 40;

pub struct ControlPlane {
    /// Kubeconfig of the admin user (static token, group `system:masters`).
    pub kubeconfig: PathBuf,
    /// `https://127.0.0.1:PORT`
    pub server: String,
    /// Holds etcd's data, certificates, keys, kubeconfigs and the processes' logs.
    pub dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT` of etcd's client endpoint.
    pub etcd_endpoint: String,
    /// CA bundle that verifies the API server's serving certificate.
    pub ca_file: PathBuf,
    /// RSA private key that signs ServiceAccount tokens (PEM).
    pub service_account_key: PathBuf,
    /// Bearer token of the admin user.
    pub admin_token: String,
    tools: PathBuf,
    // Killed in reverse order of start by `Drop`.
    procs: Vec<Proc>,
    kubeconfigs: AtomicUsize,
}

impl ControlPlane {
    /// Builds (or reuses) the tools, starts etcd and kube-apiserver on free loopback ports,
    /// waits for `/readyz` and for the `default` namespace, and writes the admin kubeconfig.
    /// Panics with the tails of the processes' logs when anything fails.
    pub async fn start() -> ControlPlane {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let tools = tokio::task::spawn_blocking(tools_dir)
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        let mut last = String::new();
        for attempt in 1..=START_ATTEMPTS {
            match Self::try_start(&tools).await {
                Ok(cp) => return cp,
                Err(failure) if failure.port_conflict && attempt < START_ATTEMPTS => {
                    eprintln!("controlplane: port conflict, retrying: {}", failure.message);
                    last = failure.message;
                }
                Err(failure) => panic!("{}", failure.message),
            }
        }
        panic!("{last}")
    }

    /// An admin client built from `self.kubeconfig`.
    pub async fn client(&self) -> kube::Client {
        client_from_kubeconfig(&self.kubeconfig)
            .await
            .unwrap_or_else(|e| panic!("admin client from {}: {e:#}", self.kubeconfig.display()))
    }

    /// Writes a kubeconfig (in `self.dir`) for the same cluster that authenticates with
    /// `token`, e.g. a ServiceAccount token from the TokenRequest API, and returns its path.
    pub fn kubeconfig_for_token(&self, token: &str) -> PathBuf {
        let n = self.kubeconfigs.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.path().join(format!("kubeconfig-token-{n}.yaml"));
        write_kubeconfig(&path, &self.server, &self.ca_file, "token-user", token);
        path
    }

    /// Path of a built tool: `etcd`, `kube-apiserver`, `kube-controller-manager`, `helm`.
    pub fn bin(&self, name: &str) -> PathBuf {
        self.tools.join(name)
    }

    /// Starts kube-controller-manager against this API server (Deployments get
    /// ReplicaSets and status, garbage collection runs, ServiceAccounts get the
    /// `kube-root-ca.crt` ConfigMap). Still no pods are ever run: there is no scheduler
    /// and no kubelet. Returns once the process is up; callers wait for its effects.
    pub async fn start_controller_manager(&mut self) {
        let port = free_port();
        let log = self.dir.path().join("kube-controller-manager.log");
        let kubeconfig = self.kubeconfig.display().to_string();
        let mut proc = Proc::spawn(
            "kube-controller-manager",
            &self.bin("kube-controller-manager"),
            &[
                format!("--kubeconfig={kubeconfig}"),
                format!("--authentication-kubeconfig={kubeconfig}"),
                format!("--authorization-kubeconfig={kubeconfig}"),
                "--bind-address=127.0.0.1".into(),
                format!("--secure-port={port}"),
                format!("--cert-dir={}", self.dir.path().join("kcm-certs").display()),
                "--leader-elect=false".into(),
                "--use-service-account-credentials=false".into(),
                format!(
                    "--service-account-private-key-file={}",
                    self.service_account_key.display()
                ),
                format!("--root-ca-file={}", self.ca_file.display()),
                "--cluster-name=hydrant-test".into(),
                "--controllers=*".into(),
            ],
            &log,
        );
        // Give it a moment to fail on bad flags or a taken port.
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Some(status) = proc.exited() {
                panic!(
                    "kube-controller-manager exited early ({status})\n{}",
                    proc.tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.procs.push(proc);
    }

    /// The last lines of each process's log, for assertion messages.
    pub fn logs(&self) -> String {
        self.procs
            .iter()
            .map(Proc::tail)
            .collect::<Vec<_>>()
            .join("\n")
    }

    async fn try_start(tools: &Path) -> Result<ControlPlane, StartFailure> {
        let dir = tempfile::Builder::new()
            .prefix("hydrant-controlplane-")
            .tempdir()
            .expect("create temp dir for the control plane");
        let root = dir.path().to_path_buf();
        let mut procs: Vec<Proc> = Vec::new();
        let result = Self::start_processes(tools, &root, &mut procs).await;
        match result {
            Ok(started) => Ok(ControlPlane {
                kubeconfig: started.kubeconfig,
                server: started.server,
                dir,
                etcd_endpoint: started.etcd_endpoint,
                ca_file: started.ca_file,
                service_account_key: started.service_account_key,
                admin_token: started.admin_token,
                tools: tools.to_path_buf(),
                procs,
                kubeconfigs: AtomicUsize::new(0),
            }),
            Err(what) => {
                let tails = procs.iter().map(Proc::tail).collect::<Vec<_>>().join("\n");
                let port_conflict = tails.contains("address already in use");
                // Stop the processes, then keep the directory for a post-mortem.
                while let Some(p) = procs.pop() {
                    drop(p);
                }
                let kept = dir.keep();
                Err(StartFailure {
                    port_conflict,
                    message: format!(
                        "control plane failed to start: {what}\n(files kept in {})\n{tails}",
                        kept.display()
                    ),
                })
            }
        }
    }

    async fn start_processes(
        tools: &Path,
        root: &Path,
        procs: &mut Vec<Proc>,
    ) -> Result<Started, String> {
        let etcd_endpoint = Self::start_etcd(tools, root, procs).await?;
        let (service_account_key, admin_token, token_file) = Self::admin_credentials(root)?;
        let port = free_port();
        let server = format!("https://127.0.0.1:{port}");
        let cert_dir = root.join("apiserver-certs");
        procs.push(Proc::spawn(
            "kube-apiserver",
            &tools.join("kube-apiserver"),
            &[
                format!("--etcd-servers={etcd_endpoint}"),
                "--bind-address=127.0.0.1".into(),
                "--advertise-address=127.0.0.1".into(),
                format!("--secure-port={port}"),
                format!("--cert-dir={}", cert_dir.display()),
                format!("--service-account-issuer={SERVICE_ACCOUNT_ISSUER}"),
                format!(
                    "--service-account-key-file={}",
                    service_account_key.display()
                ),
                format!(
                    "--service-account-signing-key-file={}",
                    service_account_key.display()
                ),
                "--service-cluster-ip-range=10.96.0.0/16".into(),
                "--authorization-mode=RBAC".into(),
                "--disable-admission-plugins=ServiceAccount".into(),
                "--allow-privileged=true".into(),
                format!("--token-auth-file={}", token_file.display()),
            ],
            &root.join("kube-apiserver.log"),
        ));
        let apiserver = procs.len() - 1;
        let (kubeconfig, ca_file) = Self::wait_for_apiserver(
            &mut procs[apiserver],
            root,
            &cert_dir,
            &server,
            &admin_token,
        )
        .await?;
        Ok(Started {
            kubeconfig,
            server,
            etcd_endpoint,
            ca_file,
            service_account_key,
            admin_token,
        })
    }

    /// Starts etcd on free loopback ports and waits for it to be healthy; returns its client URL.
    async fn start_etcd(
        tools: &Path,
        root: &Path,
        procs: &mut Vec<Proc>,
    ) -> Result<String, String> {
        let client_port = free_port();
        let peer_port = free_port();
        let etcd_endpoint = format!("http://127.0.0.1:{client_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        procs.push(Proc::spawn(
            "etcd",
            &tools.join("etcd"),
            &[
                "--name=hydrant-test".into(),
                format!("--data-dir={}", root.join("etcd").display()),
                format!("--listen-client-urls={etcd_endpoint}"),
                format!("--advertise-client-urls={etcd_endpoint}"),
                format!("--listen-peer-urls={peer_url}"),
                format!("--initial-advertise-peer-urls={peer_url}"),
                format!("--initial-cluster=hydrant-test={peer_url}"),
                "--initial-cluster-state=new".into(),
                "--unsafe-no-fsync=true".into(),
            ],
            &root.join("etcd.log"),
        ));
        let etcd = procs.len() - 1;
        wait_for(&mut procs[etcd], "etcd /health", ETCD_TIMEOUT, || async {
            http_get_plain(client_port, "/health")
                .await
                .is_some_and(|body| body.contains("\"health\":\"true\""))
        })
        .await?;
        Ok(etcd_endpoint)
    }

    /// A ServiceAccount signing key and the admin's static token (and the token file).
    fn admin_credentials(root: &Path) -> Result<(PathBuf, String, PathBuf), String> {
        let service_account_key = root.join("sa.key");
        run_checked(
            Command::new("openssl")
                .arg("genrsa")
                .arg("-out")
                .arg(&service_account_key)
                .arg("2048"),
        )?;
        let admin_token = random_token();
        let token_file = root.join("tokens.csv");
        std::fs::write(
            &token_file,
            format!("{admin_token},admin,admin,\"system:masters\"\n"),
        )
        .map_err(|e| format!("write {}: {e}", token_file.display()))?;
        Ok((service_account_key, admin_token, token_file))
    }

    /// Waits for the API server's serving certificate, writes the admin kubeconfig trusting
    /// it, and waits for `/readyz` and the `default` namespace; returns the kubeconfig and CA.
    async fn wait_for_apiserver(
        apiserver: &mut Proc,
        root: &Path,
        cert_dir: &Path,
        server: &str,
        admin_token: &str,
    ) -> Result<(PathBuf, PathBuf), String> {
        // The API server writes its self-signed serving certificate (leaf + CA) before it
        // starts serving; the kubeconfig trusts that CA.
        let serving_cert = cert_dir.join("apiserver.crt");
        wait_for(
            apiserver,
            "serving certificate",
            APISERVER_TIMEOUT,
            || async { serving_cert.exists() },
        )
        .await?;
        let ca_file = root.join("ca.crt");
        let pem = std::fs::read_to_string(&serving_cert)
            .map_err(|e| format!("read {}: {e}", serving_cert.display()))?;
        std::fs::write(&ca_file, last_pem_certificate(&pem))
            .map_err(|e| format!("write {}: {e}", ca_file.display()))?;
        let kubeconfig = root.join("kubeconfig.yaml");
        write_kubeconfig(&kubeconfig, server, &ca_file, "admin", admin_token);
        let client = client_from_kubeconfig(&kubeconfig)
            .await
            .map_err(|e| format!("admin client: {e:#}"))?;
        let readyz = || async {
            let req = http::Request::get("/readyz").body(Vec::new()).unwrap();
            client
                .request_text(req)
                .await
                .is_ok_and(|t| t.trim() == "ok")
        };
        wait_for(apiserver, "/readyz", APISERVER_TIMEOUT, readyz).await?;
        // The `default` namespace is created by a bootstrap controller shortly after
        // the server reports ready; tests expect it.
        let default_ns = || async {
            let req = http::Request::get("/api/v1/namespaces/default")
                .body(Vec::new())
                .unwrap();
            client.request_text(req).await.is_ok()
        };
        wait_for(
            apiserver,
            "namespace default",
            APISERVER_TIMEOUT,
            default_ns,
        )
        .await?;
        Ok((kubeconfig, ca_file))
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        // Controller manager, then API server, then etcd; the temp dir goes afterwards.
        while let Some(p) = self.procs.pop() {
            drop(p);
        }
    }
}

struct Started {
    kubeconfig: PathBuf,
    server: String,
    etcd_endpoint: String,
    ca_file: PathBuf,
    service_account_key: PathBuf,
    admin_token: String,
}

struct StartFailure {
    port_conflict: bool,
    message: String,
}

/// A child process whose stdout and stderr go to a log file; killed on drop.
struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &'static str, bin: &Path, args: &[String], log: &Path) -> Proc {
        let out = File::create(log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        let err = out.try_clone().expect("clone log file handle");
        let child = Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name} ({}): {e}", bin.display()));
        Proc {
            name,
            child,
            log: log.to_path_buf(),
        }
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(LOG_TAIL_LINES);
        format!(
            "--- last {} lines of {} ({}) ---\n{}",
            lines.len() - from,
            self.name,
            self.log.display(),
            lines[from..].join("\n")
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `tests/k8s-tools/build.sh` once per test process (or takes `HYDRANT_K8S_TOOLS`)
/// and returns the bin directory. Blocking: the first build takes minutes.
pub fn tools_dir() -> PathBuf {
    static TOOLS: OnceLock<PathBuf> = OnceLock::new();
    TOOLS
        .get_or_init(|| {
            if let Some(dir) = std::env::var_os("HYDRANT_K8S_TOOLS").filter(|d| !d.is_empty()) {
                return PathBuf::from(dir);
            }
            let script = crate::workspace_root().join("tests/k8s-tools/build.sh");
            // The build's progress goes to stderr, visible while the test waits.
            let out = Command::new("bash")
                .arg(&script)
                .stdin(Stdio::null())
                .stderr(Stdio::inherit())
                .output()
                .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{} failed ({}); stdout:\n{stdout}",
                script.display(),
                out.status
            );
            let dir = stdout
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(|l| PathBuf::from(l.trim()))
                .unwrap_or_else(|| panic!("{} printed no bin directory", script.display()));
            assert!(
                dir.join("kube-apiserver").exists(),
                "{} has no kube-apiserver",
                dir.display()
            );
            dir
        })
        .clone()
}

/// Polls `ready` every 100 ms until it holds, the process exits, or `timeout` passes.
async fn wait_for<F, Fut>(
    proc: &mut Proc,
    what: &str,
    timeout: Duration,
    mut ready: F,
) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if ready().await {
            return Ok(());
        }
        if let Some(status) = proc.exited() {
            return Err(format!(
                "{} exited ({status}) while waiting for {what}",
                proc.name
            ));
        }
        if start.elapsed() > timeout {
            return Err(format!(
                "{} not ready after {timeout:?}: waiting for {what}",
                proc.name
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Minimal HTTP/1.0 GET against 127.0.0.1:`port` (etcd's plain-HTTP client port).
async fn http_get_plain(port: u16, path: &str) -> Option<String> {
    let io = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.ok()?;
        let text = String::from_utf8_lossy(&response).into_owned();
        let status_line = text.lines().next().unwrap_or_default();
        status_line.contains(" 200 ").then_some(text)
    };
    tokio::time::timeout(Duration::from_secs(2), io)
        .await
        .ok()
        .flatten()
}

fn run_checked(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// 32 hex characters from the standard library's randomly seeded hasher.
fn random_token() -> String {
    let mut token = String::new();
    for i in 0..2u64 {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        h.write_u32(std::process::id());
        token.push_str(&format!("{:016x}", h.finish()));
    }
    token
}

/// The last certificate of a PEM bundle (the CA of the API server's self-signed pair).
fn last_pem_certificate(pem: &str) -> String {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    match pem.rfind(BEGIN) {
        Some(i) => pem[i..].to_string(),
        None => pem.to_string(),
    }
}

fn write_kubeconfig(path: &Path, server: &str, ca_file: &Path, user: &str, token: &str) {
    // JSON is YAML: kube-rs, client-go (helm) and kubectl all read it.
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": "hydrant-test",
            "cluster": { "server": server, "certificate-authority": ca_file },
        }],
        "users": [{ "name": user, "user": { "token": token } }],
        "contexts": [{
            "name": "hydrant-test",
            "context": { "cluster": "hydrant-test", "user": user, "namespace": "default" },
        }],
        "current-context": "hydrant-test",
    });
    let text = serde_json::to_string_pretty(&config).expect("serialize kubeconfig");
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

pub(crate) async fn client_from_kubeconfig(path: &Path) -> anyhow::Result<kube::Client> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let kubeconfig = Kubeconfig::read_from(path)?;
    let config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    Ok(kube::Client::try_from(config)?)
}
