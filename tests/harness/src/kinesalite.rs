//! A real Kinesis Data Streams implementation: kinesalite (npm, installed by
//! tests/kinesalite/build.sh) on 127.0.0.1, in memory. Unlike moto's Kinesis it closes shards
//! on a split or merge the way Kinesis does, which the source's resharding tests rely on.
//! `HYDRANT_TEST_KINESALITE` names the installed directory; without it build.sh installs it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Kinesalite {
    child: Child,
    pub port: u16,
    _log: tempfile::TempDir,
}

fn install_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("HYDRANT_TEST_KINESALITE") {
        return PathBuf::from(dir);
    }
    let script = crate::workspace_root().join("tests/kinesalite/build.sh");
    let out = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .expect("run tests/kinesalite/build.sh");
    assert!(out.status.success(), "installing kinesalite failed");
    let stdout = String::from_utf8(out.stdout).expect("utf8");
    PathBuf::from(
        stdout
            .lines()
            .last()
            .expect("build.sh prints the directory")
            .trim(),
    )
}

impl Kinesalite {
    /// Starts kinesalite on a free port and waits until it accepts connections. Streams
    /// become ACTIVE 50 ms after a create, split or merge.
    pub async fn start() -> Self {
        let cli = install_dir().join("node_modules/kinesalite/cli.js");
        let port = crate::free_port();
        let log = tempfile::tempdir().expect("tmp");
        let out = std::fs::File::create(log.path().join("kinesalite.log")).expect("log");
        let child = Command::new("node")
            .arg(&cli)
            .args(["--port", &port.to_string()])
            .args(["--createStreamMs", "50", "--deleteStreamMs", "50"])
            .args(["--updateStreamMs", "50", "--shardLimit", "100"])
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("spawn node (kinesalite)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "kinesalite did not start on port {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            child,
            port,
            _log: log,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Kinesalite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
