//! A full disk: the log's volume (a small tmpfs) fills up while a producer writes; the local
//! destination's directory fills up while records are delivered; the log directory is not
//! writable at start. Needs root (it mounts tmpfs and read-only bind mounts).

use harness as common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::objects::local_objects;
use common::sinks::{put_batch, put_records};
use common::{Hydrant, bin_path, free_port, local_manifest};
use serde_json::Value;

/// A tmpfs (or bind) mount, unmounted on drop.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(dir: &Path, size: &str) -> Self {
        std::fs::create_dir_all(dir).expect("mount point");
        mount(
            &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"],
            dir,
        );
        Self(dir.to_path_buf())
    }

    /// `source` again at `dir`, read-only.
    fn read_only(source: &Path, dir: &Path) -> Self {
        std::fs::create_dir_all(dir).expect("mount point");
        mount(&["--bind", &source.to_string_lossy()], dir);
        let mounted = Self(dir.to_path_buf());
        mount(&["-o", "remount,ro,bind"], dir);
        mounted
    }
}

fn mount(args: &[&str], dir: &Path) {
    let status = Command::new("mount")
        .args(args)
        .arg(dir)
        .status()
        .expect("run mount");
    assert!(status.success(), "mount {args:?} {} failed", dir.display());
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes `path` until the volume it is on has no space left; returns the bytes written.
/// Called again, it takes whatever the volume freed meanwhile.
fn fill(path: &Path) -> u64 {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("filler");
    let block = vec![0u8; 64 << 10];
    let mut written = 0;
    // Then byte by byte-ish, so not even a small frame fits.
    for size in [block.len(), 4096, 64, 1] {
        while file.write_all(&block[..size]).is_ok() {
            written += size as u64;
        }
    }
    written
}

/// The outcome of one PutRecordBatch of fresh records (never re-sent: a refused record must
/// never be delivered).
enum Put {
    Acked,
    Unavailable,
}

async fn put_fresh(client: &reqwest::Client, url: &str, records: &[String]) -> Put {
    let response = put_batch(client, url, "full", records).await;
    let status = response.status();
    let v: Value = response.json().await.expect("json answer");
    match status.as_u16() {
        200 => {
            assert_eq!(v["FailedPutCount"], 0, "{v}");
            Put::Acked
        }
        503 => {
            assert_eq!(v["__type"], "ServiceUnavailableException", "{v}");
            Put::Unavailable
        }
        other => panic!("unexpected answer {other}: {v}"),
    }
}

/// Every newline-delimited record delivered under `dir`.
fn delivered(dir: &Path) -> Vec<String> {
    local_objects(dir)
        .into_iter()
        .filter(|(key, _)| !key.starts_with("filler"))
        .flat_map(|(_, bytes)| {
            String::from_utf8_lossy(&bytes)
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Puts batches of fresh records until `until` returns true; the acknowledged and refused
/// record counts.
struct Producer {
    client: reqwest::Client,
    url: String,
    next: u64,
    acked: BTreeSet<String>,
    refused: u64,
}

impl Producer {
    async fn put(&mut self) -> Put {
        let batch: Vec<String> = (0..50)
            .map(|i| format!("rec-{:08}-{}", self.next + i, "x".repeat(200)))
            .collect();
        self.next += 50;
        let outcome = put_fresh(&self.client, &self.url, &batch).await;
        match outcome {
            Put::Acked => self.acked.extend(batch),
            Put::Unavailable => self.refused += 50,
        }
        outcome
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_log_volume_refuses_puts_and_resumes_when_space_returns() {
    full_log_volume("").await;
}

/// The same with the log sealed: a chunk cut back must not leave the segment unreadable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_volume_of_an_encrypted_log_refuses_puts_and_resumes() {
    full_log_volume("  encryption: {keyType: AWS_OWNED_CMK}").await;
}

async fn full_log_volume(extra_spec: &str) {
    let tmp = tempfile::tempdir().expect("tmp");
    let wal = tmp.path().join("wal");
    let _volume = Mount::tmpfs(&wal, "64m");
    // The log's bound (256Mi) is above the volume's size: the volume fills first.
    let manifest = local_manifest("full", "", extra_spec);
    let env = [("HYDRANT_WAL_SEGMENT_BYTES", "1048576")];
    let hydrant = Hydrant::start(tmp.path(), &manifest, &env).await;
    let mut producer = Producer {
        client: reqwest::Client::new(),
        url: hydrant.ingest_url(),
        next: 0,
        acked: BTreeSet::new(),
        refused: 0,
    };
    for _ in 0..40 {
        assert!(matches!(producer.put().await, Put::Acked));
    }

    // Fill the volume and keep it full (delivery frees segments, the filler takes the space)
    // for a while: every put in that time is refused with ServiceUnavailableException.
    let filler = wal.join("filler");
    let filled = fill(&filler);
    let full_since = Instant::now();
    let mut refused_in_a_row = 0;
    while full_since.elapsed() < Duration::from_secs(4) {
        fill(&filler);
        match producer.put().await {
            Put::Unavailable => refused_in_a_row += 1,
            Put::Acked => refused_in_a_row = 0,
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        refused_in_a_row >= 10,
        "puts on a full volume are refused ({refused_in_a_row} in a row)\n{}",
        hydrant.log()
    );
    eprintln!(
        "volume filled with {filled} bytes of filler; {} records refused",
        producer.refused
    );

    // Space returns: the stream resumes by itself.
    std::fs::remove_file(&filler).expect("remove filler");
    let resumed = Instant::now();
    loop {
        if let Put::Acked = producer.put().await {
            break;
        }
        assert!(
            resumed.elapsed() < Duration::from_secs(10),
            "puts resume once space returns\n{}",
            hydrant.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for _ in 0..40 {
        assert!(matches!(producer.put().await, Put::Acked));
    }
    hydrant.wait_drained(Duration::from_secs(60)).await;

    // Every acknowledged record is delivered, once; no refused record is.
    let mut seen = delivered(&tmp.path().join("out"));
    let total = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(total, seen.len(), "no record is delivered twice");
    let seen: BTreeSet<String> = seen.into_iter().collect();
    let lost: Vec<_> = producer.acked.difference(&seen).take(5).collect();
    assert!(lost.is_empty(), "acknowledged records lost: {lost:?}");
    let extra: Vec<_> = seen.difference(&producer.acked).take(5).collect();
    assert!(extra.is_empty(), "refused records delivered: {extra:?}");
    assert!(
        hydrant.log().contains("out of space"),
        "the episode is logged"
    );
    // The segments the episode cut back recover cleanly.
    let mut hydrant = hydrant;
    hydrant.kill9();
    hydrant.restart().await;
    assert_eq!(hydrant.status().await["backlogRecords"].as_u64(), Some(0));
    assert!(matches!(producer.put().await, Put::Acked));
    hydrant.wait_drained(Duration::from_secs(30)).await;
    eprintln!(
        "{} acknowledged records delivered, {} refused while full",
        producer.acked.len(),
        producer.refused
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_destination_directory_delays_delivery_without_loss() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("out");
    let _volume = Mount::tmpfs(&out, "8m");
    let filler = out.join("filler");
    fill(&filler);
    let manifest = local_manifest("full", "", "");
    let hydrant = Hydrant::start(tmp.path(), &manifest, &[]).await;
    let records: Vec<Vec<u8>> = (0..5000)
        .map(|i| format!("dest-{i:06}").into_bytes())
        .collect();
    put_records(&hydrant.ingest_url(), "full", &records).await;

    // Nothing fits: delivery fails and retries, the records wait in the log.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let status = hydrant.status().await;
    assert_eq!(
        status["backlogRecords"].as_u64(),
        Some(records.len() as u64),
        "nothing is delivered into a full directory: {status}"
    );

    std::fs::remove_file(&filler).expect("remove filler");
    hydrant.wait_drained(Duration::from_secs(120)).await;
    let mut seen = delivered(&out);
    seen.sort();
    let expected: Vec<String> = records
        .iter()
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .collect();
    assert_eq!(seen, expected, "every record delivered, once");
}

/// `hydrant run` on `manifest` in `work`: its exit code and stderr (it must exit by itself).
fn run_to_exit(work: &Path, manifest: &str) -> (Option<i32>, String) {
    let path = work.join("stream.yaml");
    std::fs::write(&path, manifest).expect("manifest");
    let mut child = Command::new(bin_path("hydrant"))
        .arg("run")
        .arg("-f")
        .arg(&path)
        .arg("--ingest-addr")
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--metrics-addr")
        .arg(format!("127.0.0.1:{}", free_port()))
        .current_dir(work)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hydrant");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("hydrant kept running on an unusable log directory");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_log_directory_that_cannot_be_written_stops_the_start() {
    let tmp = tempfile::tempdir().expect("tmp");
    // A read-only mount (root ignores permission bits, not a read-only mount).
    let source = tmp.path().join("source");
    std::fs::create_dir_all(&source).expect("source");
    let _ro = Mount::read_only(&source, &tmp.path().join("wal"));
    let (code, stderr) = run_to_exit(tmp.path(), &local_manifest("ro", "", ""));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("hydrant: the write-ahead log directory ./wal cannot be written")
            && stderr.contains("Read-only file system"),
        "{stderr}"
    );

    // A file where a directory of the path should be.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(&other).expect("other");
    std::fs::write(other.join("afile"), b"not a directory").expect("file");
    let manifest = local_manifest("ro", "", "").replace("./wal", "./afile/wal");
    let (code, stderr) = run_to_exit(&other, &manifest);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("hydrant: the write-ahead log directory ./afile/wal cannot be written")
            && stderr.contains("Not a directory"),
        "{stderr}"
    );
}
