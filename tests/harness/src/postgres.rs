//! A real PostgreSQL server (Debian's package) on 127.0.0.1, or inside a network namespace, with
//! a temporary data directory.
//! Binaries: `HYDRANT_TEST_PG_BIN`, else the newest `/usr/lib/postgresql/<v>/bin`. As root, the
//! server runs as the `postgres` user (PostgreSQL refuses root).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio_postgres::NoTls;

pub struct Postgres {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
    bin: PathBuf,
    tls: bool,
    /// The network namespace it runs in (listening on every address there), if not the host's.
    netns: Option<String>,
}

fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("HYDRANT_TEST_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect(
            "PostgreSQL is not installed (apt-get install postgresql, or set HYDRANT_TEST_PG_BIN)",
        )
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("postgres").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("no PostgreSQL server binaries under /usr/lib/postgresql (Debian package postgresql; `bash tests/run.sh` installs it)")
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// A command run as the server's user, inside `netns` if given.
fn command(program: PathBuf, netns: Option<&str>) -> Command {
    let mut c = match (is_root(), netns) {
        (true, Some(ns)) => crate::netns::command(ns, "runuser"),
        (true, None) => Command::new("runuser"),
        (false, Some(ns)) => return crate::netns::command(ns, program),
        (false, None) => return Command::new(program),
    };
    c.arg("-u").arg("postgres").arg("--").arg(program);
    c
}

impl Postgres {
    pub async fn start() -> Self {
        Self::start_with(None, None).await
    }

    /// A server that takes TCP connections only over TLS (`hostssl` in pg_hba.conf), with the
    /// certificate and key of `certs` (`server.crt`, `server.key`).
    pub async fn start_tls(certs: &std::path::Path) -> Self {
        Self::start_with(Some(certs), None).await
    }

    /// A server inside the network namespace `netns` (a test cluster's), listening on every
    /// address there and taking TCP connections only over TLS (`certs` as for
    /// [`Postgres::start_tls`]) with the superuser's `password` (scram-sha-256). The harness
    /// still connects over the Unix socket, which is a file and so reachable from any namespace.
    pub async fn start_tls_in_netns(certs: &std::path::Path, netns: &str, password: &str) -> Self {
        let pg = Self::start_with(Some(certs), Some(netns)).await;
        let quoted = password.replace('\'', "''");
        pg.client("postgres")
            .await
            .batch_execute(&format!("ALTER ROLE postgres PASSWORD '{quoted}'"))
            .await
            .expect("set the password");
        pg
    }

    async fn start_with(certs: Option<&std::path::Path>, netns: Option<&str>) -> Self {
        let bin = bin_dir();
        let dir = tempfile::tempdir().expect("tmp");
        if is_root() {
            let ok = Command::new("chown")
                .arg("postgres:")
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(ok.success(), "chown the data directory to postgres");
        }
        let data = dir.path().join("data");
        let out = command(bin.join("initdb"), None)
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
            .output()
            .expect("initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if let Some(certs) = certs {
            for file in ["server.crt", "server.key"] {
                std::fs::copy(certs.join(file), data.join(file)).expect("copy certificate");
            }
            let tcp = match netns {
                Some(_) => "hostssl all all 0.0.0.0/0 scram-sha-256",
                None => "hostssl all all 127.0.0.1/32 trust",
            };
            std::fs::write(
                data.join("pg_hba.conf"),
                format!("local all all trust\n{tcp}\n"),
            )
            .expect("pg_hba.conf");
            if is_root() {
                let ok = Command::new("chown")
                    .arg("postgres:")
                    .arg(data.join("server.crt"))
                    .arg(data.join("server.key"))
                    .arg(data.join("pg_hba.conf"))
                    .status()
                    .expect("chown");
                assert!(ok.success());
            }
            let ok = Command::new("chmod")
                .arg("600")
                .arg(data.join("server.key"))
                .status()
                .expect("chmod");
            assert!(ok.success());
        }
        let mut pg = Self {
            child: None,
            port: crate::free_port(),
            dir,
            bin,
            tls: certs.is_some(),
            netns: netns.map(str::to_owned),
        };
        pg.spawn();
        pg.wait_ready().await;
        pg
    }

    fn spawn(&mut self) {
        let data = self.dir.path().join("data");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("postgres.log"))
            .expect("log");
        let listen = match self.netns {
            Some(_) => "listen_addresses=*",
            None => "listen_addresses=127.0.0.1",
        };
        let child = command(self.bin.join("postgres"), self.netns.as_deref())
            .arg("-D")
            .arg(&data)
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(self.dir.path())
            .args(["-c", listen, "-c", "max_connections=50"])
            .args(if self.tls {
                &["-c", "ssl=on"][..]
            } else {
                &[][..]
            })
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start postgres");
        self.child = Some(child);
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.try_connect("postgres").await.is_err() {
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn try_connect(&self, db: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        // The Unix socket: the harness connects without TLS whatever the server requires of TCP.
        let (client, conn) = tokio_postgres::Config::new()
            .host_path(self.dir.path())
            .port(self.port)
            .user("postgres")
            .dbname(db)
            .connect(NoTls)
            .await?;
        tokio::spawn(conn);
        Ok(client)
    }

    /// A client as the superuser.
    pub async fn client(&self, db: &str) -> tokio_postgres::Client {
        self.try_connect(db).await.expect("connect")
    }

    /// Stops the server with `signal` sent to the postmaster (its pid from `postmaster.pid`:
    /// as root the spawned child is `runuser`) and waits for it to exit.
    fn stop(&mut self, signal: &str) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid_file = self.dir.path().join("data/postmaster.pid");
        let pid = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.lines().next().map(str::to_owned));
        let target = pid.unwrap_or_else(|| child.id().to_string());
        let _ = Command::new("kill").arg(signal).arg(&target).status();
        let _ = child.wait();
    }

    /// Crash-stops the server (SIGQUIT: immediate shutdown without a checkpoint; the next start
    /// runs crash recovery).
    pub fn crash(&mut self) {
        self.stop("-QUIT");
    }

    pub async fn restart(&mut self) {
        self.spawn();
        self.wait_ready().await;
    }

    /// Secret files for a stream: `<dir>/secrets/<name>/{host,port,dbname,user}`.
    pub fn write_secret(&self, dir: &std::path::Path, name: &str, db: &str) {
        crate::sinks::write_secret(
            dir,
            name,
            &[
                ("host", "127.0.0.1"),
                ("port", &self.port.to_string()),
                ("dbname", db),
                ("user", "postgres"),
            ],
        );
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop("-QUIT");
    }
}
