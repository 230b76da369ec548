//! Hydrant's test harness, one library for the integration tests and benchmarks of the data
//! plane and the operator: it starts the real `hydrant` and `hydrant-operator` binaries and real
//! servers on 127.0.0.1, and reads back what was delivered.
//!
//! - the data plane: [`Hydrant`] (a running `hydrant run`), manifests and metrics at the root;
//! - source servers: a Kafka broker ([`kafka`]);
//! - destination servers: [`moto`] (S3), [`opensearch`], [`postgres`], [`splunk`] (HEC), a TLS
//!   receiver in [`tls`], a cuttable TCP [`proxy`], a Lambda-compatible [`transformation`]
//!   service, an HTTP endpoint receiver ([`http_receiver`]) and a TLS front for plain servers
//!   ([`tls_front`]); [`sinks`] and [`objects`] put records and read back what arrived,
//!   [`processing`] builds the processing tests' streams;
//! - source servers: Kinesis streams on [`moto`] ([`kinesis`]: write, reshard, read back,
//!   KPL-aggregate) and a proxy that throttles their reads ([`kinesis_throttle`]);
//! - Kubernetes: [`controlplane`] (etcd + kube-apiserver) and [`operator_env`] (the chart, the
//!   operator process, tokens); [`node`], a real single-node cluster in a network namespace,
//!   with the images built here, and what users do on it ([`cluster`]: helm, kubectl, an
//!   ACTIVE stream); [`netns`] starts servers inside that namespace, where its pods reach them.
//!
//! Being a library rather than files each test includes, it is compiled once, and it cannot use
//! what cargo gives only to a test target: see [`bin_path`] and [`workspace_root`].

pub mod cluster;
pub mod controlplane;
pub mod http_receiver;
mod hydrant;
pub mod kafka;
pub mod kinesalite;
pub mod kinesis;
pub mod kinesis_throttle;
pub mod moto;
pub mod netns;
pub mod node;
pub mod objects;
pub mod opensearch;
pub mod operator_env;
pub mod postgres;
mod process;
pub mod processing;
pub mod proxy;
pub mod resources;
pub mod serve;
pub mod sinks;
pub mod splunk;
pub mod tls;
pub mod tls_front;
pub mod transformation;

use std::net::TcpListener;
use std::path::{Path, PathBuf};

pub use hydrant::{
    Hydrant, SIGNED_KEY_ID, SIGNED_SECRET, firehose_client, firehose_client_trusting,
    firehose_client_without_retries, local_manifest, metric_value, stream_manifest,
};

/// A free loopback port.
pub fn free_port() -> u16 {
    // Below the kernel's ephemeral range (32768-60999 by default): a port the OS hands out
    // for `bind(0)` is also one it may pick as the source port of any outgoing connection
    // before the server binds it, which made servers fail to start with "Address already in
    // use". One random start per process, then consecutive candidates, each checked: a
    // process never hands out a port twice (before 12,000 calls), and processes start apart.
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    static SEED: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000;
    let seed = *SEED.get_or_init(|| {
        std::process::id().wrapping_mul(2_654_435_761)
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
    });
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let port = (LOW + seed.wrapping_add(n) % SPAN) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The executable of the workspace binary `name` (`hydrant`, `hydrant-operator`).
///
/// `env!("CARGO_BIN_EXE_<name>")` does not work here: cargo defines it only when compiling an
/// integration test or benchmark of the package that owns the binary, never for a library. So
/// the path is found at run time, in this order:
///
/// 1. `CARGO_BIN_EXE_<name>` in the environment: cargo sets it when it runs the owning package's
///    tests and benchmarks, with the path the macro would have given;
/// 2. beside the running test: cargo puts test and benchmark executables in
///    `<target>/<profile>/deps/` and binaries in `<target>/<profile>/`. This finds a binary of
///    another package (the operator's tests run `hydrant`) built by the same cargo command in the
///    same profile, and works when a test executable is run by hand.
///
/// Panics when neither names an existing file.
pub fn bin_path(name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(format!("CARGO_BIN_EXE_{name}")) {
        return PathBuf::from(path);
    }
    let beside_test = std::env::current_exe()
        .expect("test exe")
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        beside_test.exists(),
        "{} not built (cargo test --workspace builds it)",
        beside_test.display()
    );
    beside_test
}

/// The workspace root, for the scripts and files the helpers use (`tests/opensearch/build.sh`,
/// `charts/hydrant`, ...).
///
/// `env!("CARGO_MANIFEST_DIR")` is this crate's directory, `tests/harness`, whichever test calls
/// in: the root is two levels up.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tests/harness lies two levels below the workspace root")
        .to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_root_holds_the_build_scripts() {
        let root = workspace_root();
        for file in [
            "Cargo.toml",
            "tests/opensearch/build.sh",
            "tests/kafka/build.sh",
            "tests/splunk-hec/build.sh",
            "tests/k8s-tools/build.sh",
            "charts/hydrant/Chart.yaml",
        ] {
            assert!(root.join(file).is_file(), "{} missing", file);
        }
    }
}
