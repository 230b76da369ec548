//! A real OpenSearch 2.19 node (tests/opensearch: Maven Central jars run by a small launcher) on
//! 127.0.0.1, or inside a network namespace, with a temporary data directory.
//! `HYDRANT_TEST_OPENSEARCH` names the built launcher directory; without it,
//! `tests/opensearch/build.sh` builds (or finds) it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub struct OpenSearch {
    child: Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

fn launcher_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("HYDRANT_TEST_OPENSEARCH") {
        return PathBuf::from(dir);
    }
    let script = crate::workspace_root().join("tests/opensearch/build.sh");
    let out = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .expect("run tests/opensearch/build.sh");
    assert!(
        out.status.success(),
        "building the OpenSearch launcher failed"
    );
    let stdout = String::from_utf8(out.stdout).expect("utf8");
    PathBuf::from(
        stdout
            .lines()
            .last()
            .expect("build.sh prints the directory")
            .trim(),
    )
}

impl OpenSearch {
    /// Starts a node; `extra` are launcher options such as `--write-queue-size 1`.
    pub async fn start(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        let command = Command::new(launcher_dir().join("run.sh"));
        Self::spawn(command, dir, extra, None).await
    }

    /// A node inside the network namespace `netns` (a test cluster's), its HTTP API on every
    /// address there; `reach` is the namespace's address this process reaches it at (`url`).
    ///
    /// The launcher binds 127.0.0.1 only, which pods cannot reach; OpenSearch reads
    /// `config/opensearch.yml` under its home (`<data-dir>/home`) before the launcher's own
    /// settings, and `http.bind_host` there widens the HTTP binding alone (publishing and the
    /// transport stay on 127.0.0.1).
    pub async fn start_in_netns(netns: &str, reach: &str, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        let config = dir.path().join("home/config");
        std::fs::create_dir_all(&config).expect("config dir");
        std::fs::write(config.join("opensearch.yml"), "http.bind_host: 0.0.0.0\n")
            .expect("opensearch.yml");
        let command = crate::netns::command(netns, launcher_dir().join("run.sh"));
        Self::spawn(command, dir, extra, Some(reach)).await
    }

    async fn spawn(
        mut command: Command,
        dir: tempfile::TempDir,
        extra: &[&str],
        reach: Option<&str>,
    ) -> Self {
        let mut child = command
            .args(["--http-port", "0", "--data-dir"])
            .arg(dir.path())
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start OpenSearch");
        let stdout = child.stdout.take().expect("stdout");
        let url = tokio::task::spawn_blocking(move || {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(Ok(line)) = lines.next() {
                if let Some(url) = line.strip_prefix("OPENSEARCH READY ") {
                    return Some(url.trim().to_owned());
                }
            }
            None
        });
        let url = tokio::time::timeout(Duration::from_secs(120), url)
            .await
            .expect("OpenSearch ready within 120 s")
            .expect("reader")
            .expect("OpenSearch exited before it was ready");
        // The launcher prints its loopback address; from outside the namespace it is `reach`.
        let url = match reach {
            Some(host) => url.replacen("127.0.0.1", host, 1),
            None => url,
        };
        Self {
            child,
            url,
            _dir: dir,
        }
    }

    pub async fn request(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut r = reqwest::Client::new().request(method, format!("{}{path}", self.url));
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.expect("OpenSearch request");
        resp.json().await.unwrap_or(Value::Null)
    }

    /// Documents in `index` after a refresh.
    pub async fn count(&self, index: &str) -> u64 {
        self.request(reqwest::Method::POST, &format!("/{index}/_refresh"), None)
            .await;
        self.request(reqwest::Method::GET, &format!("/{index}/_count"), None)
            .await["count"]
            .as_u64()
            .unwrap_or(0)
    }
}

impl Drop for OpenSearch {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}
