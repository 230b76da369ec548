//! The data plane under test: a running `hydrant run` process, the manifests the tests give it,
//! and reading its metrics.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_firehose::config::{BehaviorVersion, Credentials, Region};

use crate::{bin_path, free_port};

/// The access key id of [`Hydrant::start_signed`]'s producers, and its secret.
pub const SIGNED_KEY_ID: &str = "AKIDPRODUCER1";
pub const SIGNED_SECRET: &str = "s3cr3t/key+value";

/// A running `hydrant run` process.
pub struct Hydrant {
    child: Option<Child>,
    pub manifest: PathBuf,
    pub work: PathBuf,
    pub ingest_port: u16,
    pub metrics_port: u16,
    pub env: Vec<(String, String)>,
    log: PathBuf,
    starts: u32,
}

impl Hydrant {
    /// Writes `manifest` into `work` and starts the binary there.
    pub async fn start(work: &Path, manifest: &str, env: &[(&str, &str)]) -> Self {
        std::fs::create_dir_all(work).expect("work dir");
        let path = work.join("stream.yaml");
        std::fs::write(&path, manifest).expect("write manifest");
        let mut h = Self {
            child: None,
            manifest: path,
            work: work.to_path_buf(),
            ingest_port: free_port(),
            metrics_port: free_port(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            log: work.join("hydrant.log"),
            starts: 0,
        };
        h.spawn();
        h.wait_ready().await;
        h
    }

    /// Starts a local-directory stream named `signed` whose producers must sign with the key
    /// [`SIGNED_KEY_ID`] / [`SIGNED_SECRET`] (a Secret under `work/secrets/producers`).
    pub async fn start_signed(work: &Path, env: &[(&str, &str)]) -> Self {
        let secrets = work.join("secrets/producers");
        std::fs::create_dir_all(&secrets).expect("secrets");
        std::fs::write(secrets.join(SIGNED_KEY_ID), format!("{SIGNED_SECRET}\n")).expect("key");
        let manifest = local_manifest(
            "signed",
            "",
            "  ingest:\n    auth:\n      sigV4:\n        credentialsSecret: producers\n",
        );
        let secrets_dir = work.join("secrets");
        let mut env = env.to_vec();
        env.push(("HYDRANT_SECRETS_DIR", secrets_dir.to_str().expect("utf8")));
        Self::start(work, &manifest, &env).await
    }

    fn spawn(&mut self) {
        self.starts += 1;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(bin_path("hydrant"))
            .arg("run")
            .arg("-f")
            .arg(&self.manifest)
            .arg("--ingest-addr")
            .arg(format!("127.0.0.1:{}", self.ingest_port))
            .arg("--metrics-addr")
            .arg(format!("127.0.0.1:{}", self.metrics_port))
            .current_dir(&self.work)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", "info,dataplane=debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn hydrant");
        self.child = Some(child);
    }

    pub fn ingest_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ingest_port)
    }

    pub fn metrics_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.metrics_port)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).expect("running")
    }

    /// The process log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = reqwest::Client::new();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("hydrant exited during start ({status}):\n{}", self.log());
            }
            if let Ok(r) = client
                .get(format!("{}/readyz", self.metrics_url()))
                .send()
                .await
                && r.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "hydrant not ready:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// kill -9.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again with the same manifest, ports and directories.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "still running");
        self.spawn();
        self.wait_ready().await;
    }

    /// SIGTERM, then waits (at most `timeout`) for the exit status.
    pub async fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let child = self.child.take().expect("running");
        crate::process::terminate(child, timeout, "hydrant", || self.log()).await
    }

    pub async fn status(&self) -> serde_json::Value {
        let body = reqwest::get(format!("{}/status", self.metrics_url()))
            .await
            .expect("status")
            .text()
            .await
            .expect("status body");
        serde_json::from_str(&body).expect("status json")
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.metrics_url()))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics body")
    }

    /// Waits until nothing acknowledged is left undelivered.
    pub async fn wait_drained(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.status().await;
            if s["backlogRecords"].as_u64() == Some(0) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "backlog not delivered: {s}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// An aws-sdk-firehose client for this process, signing with the given credentials.
    pub fn firehose_with(&self, access_key: &str, secret: &str) -> aws_sdk_firehose::Client {
        firehose_client(&self.ingest_url(), access_key, secret)
    }

    /// A client with throwaway credentials (servers in anonymous mode accept any signature).
    pub fn firehose(&self) -> aws_sdk_firehose::Client {
        self.firehose_with("AKIDANYTHING", "anything")
    }
}

impl Drop for Hydrant {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub fn firehose_client(endpoint: &str, access_key: &str, secret: &str) -> aws_sdk_firehose::Client {
    let config = aws_sdk_firehose::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(access_key, secret, None, None, "test"))
        .build();
    aws_sdk_firehose::Client::from_conf(config)
}

/// Like [`firehose_client`], without the SDK's retries: a producer that outlives restarts
/// retries every few milliseconds itself (the SDK's backoff, seconds, would stall it).
pub fn firehose_client_without_retries(endpoint: &str) -> aws_sdk_firehose::Client {
    let base = firehose_client(endpoint, "AKID", "secret");
    aws_sdk_firehose::Client::from_conf(
        base.config()
            .to_builder()
            .retry_config(aws_sdk_firehose::config::retry::RetryConfig::disabled())
            .build(),
    )
}

/// Like [`firehose_client`], over HTTPS trusting only the CA in `ca_pem`.
pub fn firehose_client_trusting(
    endpoint: &str,
    access_key: &str,
    secret: &str,
    ca_pem: &[u8],
) -> aws_sdk_firehose::Client {
    use aws_smithy_http_client::tls;
    let context = tls::TlsContext::builder()
        .with_trust_store(tls::TrustStore::empty().with_pem_certificate(ca_pem.to_vec()))
        .build()
        .expect("a TLS context with the test CA");
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(context)
        .build_https();
    let config = aws_sdk_firehose::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .http_client(http)
        .credentials_provider(Credentials::new(access_key, secret, None, None, "test"))
        .build();
    aws_sdk_firehose::Client::from_conf(config)
}

/// A manifest for a local-directory stream.
pub fn local_manifest(name: &str, extra_destination: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: hydrant.dev/v1alpha1
kind: DeliveryStream
metadata:
  name: {name}
spec:
  buffer:
    directory: ./wal
    maxBytes: 256Mi
{extra_spec}
  destination:
    local:
      directory: ./out
      bufferingHints: {{sizeInMBs: 1, intervalInSeconds: 1}}
      processingConfiguration:
        enabled: true
        processors: [{{type: AppendDelimiterToRecord}}]
{extra_destination}"
    )
}

/// The value of the sample of `name` whose labels include every `labels` pair.
pub fn metric_value(metrics: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        let (labels_text, value) = match rest.strip_prefix('{') {
            Some(r) => r.split_once("} ")?,
            None => ("", rest.strip_prefix(' ')?),
        };
        labels
            .iter()
            .all(|(k, v)| labels_text.contains(&format!("{k}=\"{v}\"")))
            .then(|| value.trim().parse().ok())?
    })
}

/// A stream manifest: `destination` is the YAML under `spec.destination` (indented 4 spaces),
/// the log in `./wal` bounded by `max_bytes`.
pub fn stream_manifest(name: &str, max_bytes: &str, destination: &str) -> String {
    format!(
        "apiVersion: hydrant.dev/v1alpha1
kind: DeliveryStream
metadata:
  name: {name}
spec:
  buffer:
    directory: ./wal
    maxBytes: {max_bytes}
  destination:
{destination}"
    )
}
