//! A real Splunk HEC implementation: the OpenTelemetry Collector's `splunkhec` receiver with the
//! ack extension (tests/splunk-hec), on 127.0.0.1, writing what it accepted to a file.
//! `HYDRANT_TEST_SPLUNK_HEC` names the binary; without it `tests/splunk-hec/build.sh` builds it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct SplunkHec {
    child: Child,
    pub port: u16,
    pub token: String,
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
        let dir = tempfile::tempdir().expect("tmp");
        let config = crate::workspace_root().join("tests/splunk-hec/config.example.yaml");
        let port = crate::free_port();
        let out = dir.path().join("received.jsonl");
        let child = Command::new(binary())
            .arg("--config")
            .arg(&config)
            .env("HEC_PORT", port.to_string())
            .env("HEC_TOKEN", token)
            .env("HEC_OUT", &out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the HEC receiver");
        let hec = Self {
            child,
            port,
            token: token.to_owned(),
            out,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = reqwest::Client::new();
        loop {
            let r = client
                .get(format!("{}/services/collector/health", hec.url()))
                .header("Authorization", format!("Splunk {token}"))
                .send()
                .await;
            if r.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            assert!(Instant::now() < deadline, "the HEC receiver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        hec
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The body of every event received, as text (string bodies) or JSON text.
    pub fn events(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        let mut out = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
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
