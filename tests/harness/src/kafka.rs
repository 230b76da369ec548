//! A real Apache Kafka 4.4 broker (tests/kafka: Maven Central jars, KRaft mode) on 127.0.0.1:
//! one combined broker and controller in a temporary directory, with
//!
//! - a `PLAINTEXT` listener without authentication ([`Kafka::bootstrap`]), also the
//!   inter-broker listener;
//! - a `SASL_PLAINTEXT` listener ([`Kafka::sasl_bootstrap`]) taking `SCRAM-SHA-512` and `PLAIN`,
//!   both for the user [`USER`] with [`PASSWORD`] (SCRAM's credential is written at format time,
//!   PLAIN's is in the listener's JAAS config);
//! - a `CONTROLLER` listener for the KRaft quorum of one.
//!
//! `HYDRANT_TEST_KAFKA` names the directory `tests/kafka/build.sh` printed; without it, the
//! script builds (or finds) it. The broker logs to `server.log` in its directory
//! ([`Kafka::log_path`]); start, readiness and helper failures panic with that path.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;

use crate::free_port;

mod clients;

pub use clients::{produce_on, produce_with, producer};

/// The SASL user, for both SCRAM-SHA-512 and PLAIN.
pub const USER: &str = "hydrant";
/// [`USER`]'s password.
pub const PASSWORD: &str = "hydrant-secret";

/// How long a broker may take to start (or restart) and answer on both listeners.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// The timeout of one metadata, offsets or admin request of the helpers.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How a client authenticates: which listener and mechanism [`Kafka::client_config`] sets up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// The `PLAINTEXT` listener, no authentication.
    Plaintext,
    /// `SASL_PLAINTEXT` with `SCRAM-SHA-512`.
    Scram { username: String, password: String },
    /// `SASL_PLAINTEXT` with `PLAIN`.
    Plain { username: String, password: String },
}

impl Auth {
    /// SCRAM-SHA-512 as [`USER`].
    pub fn scram() -> Self {
        Auth::Scram {
            username: USER.to_owned(),
            password: PASSWORD.to_owned(),
        }
    }

    /// PLAIN as [`USER`].
    pub fn plain() -> Self {
        Auth::Plain {
            username: USER.to_owned(),
            password: PASSWORD.to_owned(),
        }
    }
}

/// One record to produce. `partition: None` leaves it to the partitioner (by key, or sticky
/// without one); `timestamp_ms: None` lets the client stamp it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducedRecord {
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub partition: Option<i32>,
    pub timestamp_ms: Option<i64>,
}

impl ProducedRecord {
    /// A record with only a value.
    pub fn value(value: impl Into<Vec<u8>>) -> Self {
        Self {
            value: value.into(),
            ..Self::default()
        }
    }
}

/// One record read back by [`Kafka::consume_all`]; `value: None` is a null value (tombstone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumedRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub timestamp_ms: Option<i64>,
}

pub struct Kafka {
    child: Option<Child>,
    pid: u32,
    run_sh: PathBuf,
    port: u16,
    sasl_port: u16,
    dir: tempfile::TempDir,
}

/// The directory `tests/kafka/build.sh` prints: `HYDRANT_TEST_KAFKA`, or the script's output.
fn kafka_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HYDRANT_TEST_KAFKA") {
        return PathBuf::from(dir);
    }
    let script = crate::workspace_root().join("tests/kafka/build.sh");
    let out = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("run {} (or set HYDRANT_TEST_KAFKA): {e}", script.display()));
    assert!(
        out.status.success(),
        "{} failed (needs java 17 and mvn); or set HYDRANT_TEST_KAFKA to a directory it printed",
        script.display()
    );
    let stdout = String::from_utf8(out.stdout).expect("build.sh output is UTF-8");
    PathBuf::from(
        stdout
            .lines()
            .last()
            .expect("tests/kafka/build.sh prints the directory last")
            .trim(),
    )
}

/// A cluster id for `StorageTool format`: 16 bytes, URL-safe base64 without padding. Its first
/// character must not be `-`, or the tool's argument parser reads the id as an option and the
/// format fails with its usage text and exit 1 (checked): 1 start in 64 did, the clock's low
/// bits being first.
fn cluster_id(port: u16) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut bytes = [0u8; 16];
    bytes[..12].copy_from_slice(&nanos.to_le_bytes()[..12]);
    bytes[12..14].copy_from_slice(&port.to_le_bytes());
    bytes[14..16].copy_from_slice(&(std::process::id() as u16).to_le_bytes());
    // The first character encodes the top six bits of byte 0: below 32 it is one of A-Z, a-f.
    bytes[0] &= 0x7f;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn server_properties(data: &Path, port: u16, sasl_port: u16, controller_port: u16) -> String {
    let jaas_plain = format!(
        "org.apache.kafka.common.security.plain.PlainLoginModule required \
         username=\"{USER}\" password=\"{PASSWORD}\" user_{USER}=\"{PASSWORD}\";"
    );
    [
        "process.roles=broker,controller".to_owned(),
        "node.id=1".to_owned(),
        format!("controller.quorum.voters=1@127.0.0.1:{controller_port}"),
        format!(
            "listeners=PLAINTEXT://127.0.0.1:{port},SASL_PLAINTEXT://127.0.0.1:{sasl_port},\
             CONTROLLER://127.0.0.1:{controller_port}"
        ),
        format!(
            "advertised.listeners=PLAINTEXT://127.0.0.1:{port},\
             SASL_PLAINTEXT://127.0.0.1:{sasl_port}"
        ),
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,\
         CONTROLLER:PLAINTEXT"
            .to_owned(),
        "inter.broker.listener.name=PLAINTEXT".to_owned(),
        "controller.listener.names=CONTROLLER".to_owned(),
        "sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN".to_owned(),
        "listener.name.sasl_plaintext.sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN".to_owned(),
        "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=\
         org.apache.kafka.common.security.scram.ScramLoginModule required;"
            .to_owned(),
        format!("listener.name.sasl_plaintext.plain.sasl.jaas.config={jaas_plain}"),
        format!("log.dirs={}", data.display()),
        "offsets.topic.replication.factor=1".to_owned(),
        "offsets.topic.num.partitions=4".to_owned(),
        "transaction.state.log.replication.factor=1".to_owned(),
        "transaction.state.log.min.isr=1".to_owned(),
        "share.coordinator.state.topic.replication.factor=1".to_owned(),
        "share.coordinator.state.topic.min.isr=1".to_owned(),
        "group.initial.rebalance.delay.ms=0".to_owned(),
        // After a SIGKILL the restarted controller refuses the broker's new registration until
        // the old session expires: 4 s rather than 9.
        "broker.session.timeout.ms=4000".to_owned(),
        "broker.heartbeat.interval.ms=1000".to_owned(),
        "num.partitions=1".to_owned(),
        "auto.create.topics.enable=false".to_owned(),
        // Records keep whatever timestamps a test gives them: no retention deletes old ones.
        "log.retention.ms=-1".to_owned(),
        String::new(),
    ]
    .join("\n")
}

impl Kafka {
    /// Formats and starts a broker on free loopback ports; returns once it answers metadata
    /// requests on the PLAINTEXT listener and, authenticated with SCRAM, on the SASL one.
    pub async fn start() -> Self {
        let run_sh = kafka_dir().join("run.sh");
        assert!(
            run_sh.is_file(),
            "{} missing: HYDRANT_TEST_KAFKA must name a directory tests/kafka/build.sh printed",
            run_sh.display()
        );
        let dir = tempfile::tempdir().expect("temporary directory for the broker");
        let mut ports = vec![free_port()];
        while ports.len() < 3 {
            let port = free_port();
            if !ports.contains(&port) {
                ports.push(port);
            }
        }
        let (port, sasl_port, controller_port) = (ports[0], ports[1], ports[2]);
        let config = dir.path().join("server.properties");
        std::fs::write(
            &config,
            server_properties(&dir.path().join("data"), port, sasl_port, controller_port),
        )
        .expect("write server.properties");

        let format_out = dir.path().join("format.out");
        let mut format = Command::new(&run_sh);
        format
            .arg("format")
            .arg(&config)
            .arg(cluster_id(port))
            .arg("--add-scram")
            .arg(format!("SCRAM-SHA-512=[name={USER},password={PASSWORD}]"));
        let status = tokio::task::spawn_blocking(move || {
            let out = std::fs::File::create(&format_out).expect("format.out");
            let err = out.try_clone().expect("format.out");
            format.stdout(out).stderr(err).status()
        })
        .await
        .expect("format task")
        .expect("run run.sh format");
        assert!(
            status.success(),
            "formatting the Kafka storage failed ({status}): see {}",
            dir.path().join("format.out").display()
        );

        let mut kafka = Self {
            child: None,
            pid: 0,
            run_sh,
            port,
            sasl_port,
            dir,
        };
        kafka.spawn();
        kafka.wait_ready().await;
        kafka
    }

    fn spawn(&mut self) {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.out"))
            .expect("server.out");
        let err = out.try_clone().expect("server.out");
        let child = Command::new(&self.run_sh)
            .arg("server")
            .arg(self.dir.path().join("server.properties"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.run_sh.display()));
        self.pid = child.id();
        self.child = Some(child);
    }

    async fn wait_ready(&mut self) {
        let started = Instant::now();
        for auth in [Auth::Plaintext, Auth::scram()] {
            let config = self.client_config(&auth);
            loop {
                if let Some(child) = self.child.as_mut()
                    && let Ok(Some(status)) = child.try_wait()
                {
                    panic!(
                        "the Kafka broker exited before it was ready ({status}): see {} and {}",
                        self.log_path().display(),
                        self.dir.path().join("server.out").display()
                    );
                }
                let attempt = config.clone();
                let answered = tokio::task::spawn_blocking(move || {
                    let admin: AdminClient<DefaultClientContext> = attempt.create()?;
                    let metadata = admin.inner().fetch_metadata(None, Duration::from_secs(1))?;
                    Ok::<_, KafkaError>(!metadata.brokers().is_empty())
                })
                .await
                .expect("readiness task");
                if matches!(answered, Ok(true)) {
                    break;
                }
                assert!(
                    started.elapsed() < READY_TIMEOUT,
                    "the Kafka broker did not answer on {auth:?} within {READY_TIMEOUT:?} \
                     (last: {answered:?}): see {}",
                    self.log_path().display()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// The PLAINTEXT listener, `127.0.0.1:PORT`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The SASL_PLAINTEXT listener (SCRAM-SHA-512 and PLAIN), `127.0.0.1:PORT`.
    pub fn sasl_bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.sasl_port)
    }

    /// The broker's log4j log.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// The pid of the broker's JVM (the last one started).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// `bootstrap.servers` and the security settings of `auth`, for any rdkafka client.
    pub fn client_config(&self, auth: &Auth) -> ClientConfig {
        let mut config = ClientConfig::new();
        let sasl = |config: &mut ClientConfig, mechanism: &str, user: &str, password: &str| {
            config
                .set("bootstrap.servers", self.sasl_bootstrap())
                .set("security.protocol", "SASL_PLAINTEXT")
                .set("sasl.mechanism", mechanism)
                .set("sasl.username", user)
                .set("sasl.password", password);
        };
        match auth {
            Auth::Plaintext => {
                config.set("bootstrap.servers", self.bootstrap());
            }
            Auth::Scram { username, password } => {
                sasl(&mut config, "SCRAM-SHA-512", username, password)
            }
            Auth::Plain { username, password } => sasl(&mut config, "PLAIN", username, password),
        }
        config
    }

    /// SIGTERM, waits for the exit (SIGKILL after 60 s), then starts the broker again on the
    /// same ports and data and waits until it is ready. After [`Kafka::kill`] it only starts.
    pub async fn restart(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), libc::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(60);
            while !matches!(child.try_wait(), Ok(Some(_))) {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        self.spawn();
        self.wait_ready().await;
    }

    /// SIGKILL, and waits for the exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Kafka {
    fn drop(&mut self) {
        self.kill();
    }
}

fn signal(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) on a child this process started and has not yet reaped.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}
