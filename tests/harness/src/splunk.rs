//! A real Splunk HEC implementation: the OpenTelemetry Collector's `splunkhec` receiver with the
//! ack extension (tests/splunk-hec), on 127.0.0.1 (or over TLS inside a network namespace),
//! writing what it accepted to a file.
//! `HYDRANT_TEST_SPLUNK_HEC` names the binary; without it `tests/splunk-hec/build.sh` builds it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct SplunkHec {
    child: Child,
    pub port: u16,
    pub token: String,
    /// `scheme://host` this process reaches it at.
    base: String,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

fn binary() -> PathBuf {
    if let Ok(bin) = std::env::var("HYDRANT_TEST_SPLUNK_HEC") {
        return PathBuf::from(bin);
    }
    let script = crate::workspace_root().join("tests/splunk-hec/build.sh");
    let out = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .expect("run tests/splunk-hec/build.sh");
    assert!(out.status.success(), "building the HEC receiver failed");
    let stdout = String::from_utf8(out.stdout).expect("utf8");
    PathBuf::from(
        stdout
            .lines()
            .last()
            .expect("build.sh prints the binary")
            .trim(),
    )
}

impl SplunkHec {
    pub async fn start(token: &str) -> Self {
        let config = crate::workspace_root().join("tests/splunk-hec/config.example.yaml");
        let dir = tempfile::tempdir().expect("tmp");
        let base = "http://127.0.0.1".to_owned();
        Self::spawn(
            Command::new(binary()),
            &config,
            dir,
            token,
            base,
            reqwest::Client::new(),
        )
        .await
    }

    /// A receiver inside the network namespace `netns` (a test cluster's), on every address
    /// there, over TLS with `server.crt` and `server.key` of `certs` (signed by their `ca.crt`);
    /// `reach` is the namespace's address this process reaches it at (`url`).
    pub async fn start_tls_in_netns(token: &str, netns: &str, reach: &str, certs: &Path) -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        let example = crate::workspace_root().join("tests/splunk-hec/config.example.yaml");
        let example = std::fs::read_to_string(example).expect("config.example.yaml");
        let listen = "    endpoint: 127.0.0.1:${env:HEC_PORT}\n";
        assert!(example.contains(listen), "config.example.yaml: {listen}");
        let tls = format!(
            "    endpoint: 0.0.0.0:${{env:HEC_PORT}}\n    tls:\n      cert_file: {}\n      key_file: {}\n",
            certs.join("server.crt").display(),
            certs.join("server.key").display()
        );
        let config = dir.path().join("config.yaml");
        std::fs::write(&config, example.replace(listen, &tls)).expect("config");
        let ca = std::fs::read(certs.join("ca.crt")).expect("ca.crt");
        let client = reqwest::Client::builder()
            .tls_certs_only(reqwest::Certificate::from_pem_bundle(&ca).expect("ca.crt is PEM"))
            .build()
            .expect("client");
        let command = crate::netns::command(netns, binary());
        Self::spawn(
            command,
            &config,
            dir,
            token,
            format!("https://{reach}"),
            client,
        )
        .await
    }

    async fn spawn(
        mut command: Command,
        config: &Path,
        dir: tempfile::TempDir,
        token: &str,
        base: String,
        client: reqwest::Client,
    ) -> Self {
        let port = crate::free_port();
        let out = dir.path().join("received.jsonl");
        let log = dir.path().join("hec.log");
        let child = command
            .arg("--config")
            .arg(config)
            .env("HEC_PORT", port.to_string())
            .env("HEC_TOKEN", token)
            .env("HEC_OUT", &out)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start the HEC receiver");
        let hec = Self {
            child,
            port,
            token: token.to_owned(),
            base,
            out,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = client
                .get(format!("{}/services/collector/health", hec.url()))
                .header("Authorization", format!("Splunk {token}"))
                .send()
                .await;
            let last = match r {
                Ok(r) if r.status().is_success() => break,
                Ok(r) => r.status().to_string(),
                Err(e) => e.to_string(),
            };
            assert!(
                Instant::now() < deadline,
                "the HEC receiver did not start ({last}); its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        hec
    }

    /// Its base URL as this process reaches it.
    pub fn url(&self) -> String {
        format!("{}:{}", self.base, self.port)
    }

    /// The body of every event received, as text (string bodies) or JSON text.
    pub fn events(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        // A line still being written (no newline after it yet) is read next time.
        let written = text.rfind('\n').map_or("", |end| &text[..=end]);
        let mut out = Vec::new();
        for line in written.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line).expect("exporter line is JSON");
            for rl in v["resourceLogs"].as_array().into_iter().flatten() {
                for sl in rl["scopeLogs"].as_array().into_iter().flatten() {
                    for rec in sl["logRecords"].as_array().into_iter().flatten() {
                        let body = &rec["body"];
                        out.push(match body["stringValue"].as_str() {
                            Some(s) => s.to_owned(),
                            None => body.to_string(),
                        });
                    }
                }
            }
        }
        out
    }
}

impl Drop for SplunkHec {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
