//! `hydrant serve` under test, and the unmodified AWS clients (boto3, the AWS CLI) that talk to
//! it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::{bin_path, firehose_client, free_port};

/// A running `hydrant serve` process.
pub struct Serve {
    child: Option<Child>,
    pub data_dir: PathBuf,
    pub port: u16,
    args: Vec<String>,
    env: Vec<(String, String)>,
    log: PathBuf,
}

impl Serve {
    /// Starts `hydrant serve --data-dir <work>/data` with `args` appended.
    pub async fn start(work: &Path, args: &[&str]) -> Self {
        Self::start_with_env(work, args, &[]).await
    }

    /// Like [`Self::start`], with extra environment variables.
    pub async fn start_with_env(work: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        std::fs::create_dir_all(work).expect("work dir");
        let mut s = Self {
            child: None,
            data_dir: work.join("data"),
            port: free_port(),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            log: work.join("serve.log"),
        };
        s.spawn();
        s.wait_ready().await;
        s
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(bin_path("hydrant"))
            .arg("serve")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--addr")
            .arg(format!("127.0.0.1:{}", self.port))
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", "info,dataplane=debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn hydrant serve");
        self.child = Some(child);
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn firehose(&self) -> aws_sdk_firehose::Client {
        firehose_client(&self.url(), "AKIDANYTHING", "anything")
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = reqwest::Client::new();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "hydrant serve exited during start ({status}):\n{}",
                    self.log()
                );
            }
            if let Ok(r) = client.get(format!("{}/healthz", self.url())).send().await
                && r.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "hydrant serve not up:\n{}",
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

    /// Starts again with the same data directory, port and arguments.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "still running");
        self.spawn();
        self.wait_ready().await;
    }

    /// SIGTERM, then waits (at most `timeout`) for the exit status.
    pub async fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let child = self.child.take().expect("running");
        crate::process::terminate(child, timeout, "hydrant serve", || self.log()).await
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.url()))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics body")
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The bin directory of the virtualenv holding boto3 and the AWS CLI
/// (`tests/aws-clients/build.sh`, exported by tests/run.sh as HYDRANT_TEST_AWS_CLIENTS).
pub fn aws_clients() -> PathBuf {
    let dir = std::env::var_os("HYDRANT_TEST_AWS_CLIENTS").map(PathBuf::from).expect(
        "HYDRANT_TEST_AWS_CLIENTS must name the bin directory of tests/aws-clients/build.sh (tests/run.sh sets it)",
    );
    assert!(dir.join("aws").exists(), "no aws CLI in {}", dir.display());
    dir
}

/// Environment for the AWS clients: throwaway credentials, no profile, no metadata lookups.
fn client_env(cmd: &mut Command, work: &Path) {
    client_env_as(cmd, work, ("AKIDANYTHING", "anything"));
}

/// [`client_env`] signing with `key` (access key id, secret access key).
fn client_env_as(cmd: &mut Command, work: &Path, key: (&str, &str)) {
    cmd.env("AWS_ACCESS_KEY_ID", key.0)
        .env("AWS_SECRET_ACCESS_KEY", key.1)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", work.join("aws-config-none"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            work.join("aws-credentials-none"),
        )
        .env_remove("AWS_PROFILE");
}

/// Runs a Python script with the clients' interpreter; returns stdout, panicking with both
/// streams when it fails.
pub fn run_python(work: &Path, script: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new(aws_clients().join("python"));
    cmd.arg(script).args(args);
    client_env(&mut cmd, work);
    output(cmd, &format!("python {}", script.display()))
}

/// Runs `aws <args>`; returns stdout (JSON when the command answers any), or the error output
/// as `Err` when it exits non-zero.
pub fn aws_cli(work: &Path, endpoint: &str, args: &[&str]) -> Result<String, String> {
    let mut cmd = Command::new(aws_clients().join("aws"));
    cmd.args(args)
        .arg("--endpoint-url")
        .arg(endpoint)
        .arg("--output")
        .arg("json");
    client_env(&mut cmd, work);
    let out = cmd.output().expect("run aws");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Where and as whom an AWS client runs: inside a network namespace (a test cluster's, where
/// its Services resolve) or not, signing with a given key.
#[derive(Clone, Copy)]
pub struct ClientAs<'a> {
    pub work: &'a Path,
    pub netns: Option<&'a str>,
    /// Access key id and secret access key.
    pub key: (&'a str, &'a str),
}

impl ClientAs<'_> {
    /// `program` of the clients' virtualenv, set up to run as this client.
    pub fn command(&self, program: &str) -> Command {
        let path = aws_clients().join(program);
        let mut cmd = match self.netns {
            Some(ns) => crate::netns::command(ns, &path),
            None => Command::new(&path),
        };
        client_env_as(&mut cmd, self.work, self.key);
        cmd
    }

    /// `aws <args> --endpoint-url <endpoint> --output json`: stdout, or the error output as
    /// `Err` when it exits non-zero.
    pub fn aws(&self, endpoint: &str, args: &[&str]) -> Result<String, String> {
        let out = self
            .command("aws")
            .args(args)
            .args(["--endpoint-url", endpoint, "--output", "json"])
            .output()
            .expect("run aws");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// A Python program (`-c`) with the clients' interpreter: its stdout, panicking with both
    /// streams when it fails.
    pub fn python(&self, program: &str, args: &[&str]) -> String {
        let mut cmd = self.command("python");
        cmd.arg("-c").arg(program).args(args);
        output(cmd, "python -c")
    }
}

fn output(mut cmd: Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
