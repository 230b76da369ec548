//! Connection and request abuse on the ingest port: idle connections, slowloris, a trickled
//! body, a flood of small requests, pipelined HTTP/1.1 and HTTP/2 streams beyond the limit.
//! During each, a well-behaved producer keeps getting its puts acknowledged (and delivered),
//! and the process's resident memory stays under a stated bound. The tests run one at a time
//! (they share two cores and measure memory). Results: docs/security.md.

use harness as common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::objects::local_objects;
use common::resources::{memory, raise_open_files_limit};
use common::sinks::try_put_batch;
use common::{Hydrant, local_manifest};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

#[path = "abuse/wire.rs"]
mod wire;

use wire::{frame, read_responses};

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// Short timeouts so each case finishes in seconds (the defaults are 10 s, 60 s and 60 s).
const HEADER_TIMEOUT: u64 = 3;
const IDLE_TIMEOUT: u64 = 5;
const BODY_TIMEOUT: u64 = 4;
/// How much later than its timeout a slow connection may be closed (a loaded debug build).
const MARGIN: Duration = Duration::from_secs(3);

/// A stream on the local destination with the test's limits, and a well-behaved producer.
struct Fixture {
    _tmp: tempfile::TempDir,
    out: std::path::PathBuf,
    hydrant: Hydrant,
    producer: Producer,
    baseline_kib: u64,
}

impl Fixture {
    async fn start(extra_env: &[(&str, &str)]) -> Self {
        let tmp = tempfile::tempdir().expect("tmp");
        let (header, idle, body) = (
            HEADER_TIMEOUT.to_string(),
            IDLE_TIMEOUT.to_string(),
            BODY_TIMEOUT.to_string(),
        );
        let mut env = vec![
            ("HYDRANT_INGEST_HEADER_TIMEOUT_SECONDS", header.as_str()),
            ("HYDRANT_INGEST_IDLE_TIMEOUT_SECONDS", idle.as_str()),
            ("HYDRANT_INGEST_BODY_TIMEOUT_SECONDS", body.as_str()),
        ];
        env.extend_from_slice(extra_env);
        let hydrant = Hydrant::start(tmp.path(), &local_manifest("abuse", "", ""), &env).await;
        let baseline_kib = memory(hydrant.pid()).expect("running").rss_kib;
        let producer = Producer::start(hydrant.ingest_url());
        Self {
            out: tmp.path().join("out"),
            _tmp: tmp,
            hydrant,
            producer,
            baseline_kib,
        }
    }

    /// Stops the producer; asserts it was never refused, got at least `min_acks` batches
    /// through, that everything acknowledged (`more` too) was delivered, and that peak memory
    /// grew by less than `bound_mib` over the idle process's. Returns the peak growth in MiB.
    async fn finish(self, min_acks: usize, more: &BTreeSet<String>, bound_mib: u64) -> u64 {
        self.producer.reach(min_acks).await;
        let (acked, failures) = self.producer.stop().await;
        assert!(
            failures.is_empty(),
            "the good producer was refused: {failures:?}"
        );
        assert!(
            acked.len() / 10 >= min_acks,
            "the good producer got {} batches through, expected {min_acks}",
            acked.len() / 10
        );
        let peak = memory(self.hydrant.pid()).expect("running").peak_kib;
        let growth_mib = peak.saturating_sub(self.baseline_kib) / 1024;
        eprintln!(
            "baseline RSS {} MiB, peak {} MiB (+{growth_mib} MiB)",
            self.baseline_kib / 1024,
            peak / 1024
        );
        assert!(
            growth_mib < bound_mib,
            "peak RSS grew by {growth_mib} MiB, bound {bound_mib} MiB"
        );
        self.hydrant.wait_drained(Duration::from_secs(120)).await;
        let delivered: BTreeSet<String> = local_objects(&self.out)
            .into_iter()
            .flat_map(|(_, bytes)| {
                String::from_utf8_lossy(&bytes)
                    .lines()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        let lost: Vec<_> = acked
            .union(more)
            .filter(|r| !delivered.contains(*r))
            .take(5)
            .collect();
        assert!(
            lost.is_empty(),
            "acknowledged records not delivered: {lost:?}"
        );
        growth_mib
    }
}

/// Puts a batch of 10 fresh records every 100 ms on its own connection pool.
struct Producer {
    stop: Arc<AtomicBool>,
    /// Batches acknowledged so far.
    batches: Arc<AtomicUsize>,
    task: JoinHandle<(BTreeSet<String>, Vec<String>)>,
}

impl Producer {
    fn start(url: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let batches = Arc::new(AtomicUsize::new(0));
        let (flag, counted) = (stop.clone(), batches.clone());
        let task = tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .expect("client");
            let (mut acked, mut failures) = (BTreeSet::new(), Vec::new());
            let mut n = 0u64;
            let batches = counted;
            while !flag.load(Ordering::Acquire) {
                let batch: Vec<String> = (0..10).map(|i| format!("good-{:07}", n + i)).collect();
                n += 10;
                match try_put_batch(&client, &url, "abuse", &batch).await {
                    Ok(r) if r.status() == 200 => {
                        let v: Value = r.json().await.expect("json");
                        if v["FailedPutCount"] == 0 {
                            acked.extend(batch);
                            batches.fetch_add(1, Ordering::AcqRel);
                        } else {
                            failures.push(v.to_string());
                        }
                    }
                    Ok(r) => failures.push(format!("{}: {:?}", r.status(), r.text().await)),
                    Err(e) => failures.push(e.to_string()),
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (acked, failures)
        });
        Self {
            stop,
            batches,
            task,
        }
    }

    /// Waits (at most 30 s) until `n` batches were acknowledged in all.
    async fn reach(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.batches.load(Ordering::Acquire) < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn stop(self) -> (BTreeSet<String>, Vec<String>) {
        self.stop.store(true, Ordering::Release);
        self.task.await.expect("producer")
    }
}

/// Waits until the server closes `conn` (EOF or reset), at most `within`; how long it took.
async fn closed_within(conn: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((started + within).into(), conn.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

fn put_record_body(data: &str) -> String {
    json!({"DeliveryStreamName": "abuse", "Record": {"Data": STANDARD.encode(data)}}).to_string()
}

fn put_record_head(len: usize) -> String {
    format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: Firehose_20150804.PutRecord\r\n\
         Content-Type: application/x-amz-json-1.1\r\nContent-Length: {len}\r\n\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_idle_connections() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let limit = raise_open_files_limit(65_536);
    assert!(
        limit > 12_000,
        "open-files hard limit {limit} is too low for this test"
    );
    let f = Fixture::start(&[]).await;
    let addr = format!("127.0.0.1:{}", f.hydrant.ingest_port);
    let mut idle = Vec::with_capacity(5000);
    let opened = Instant::now();
    for _ in 0..5000 {
        idle.push(TcpStream::connect(&addr).await.expect("connect"));
    }
    let rss = memory(f.hydrant.pid()).expect("running").rss_kib;
    eprintln!(
        "5000 idle connections open in {:?}; RSS {} MiB",
        opened.elapsed(),
        rss / 1024
    );
    // None sends a request: each is closed at the header timeout.
    let within = Duration::from_secs(HEADER_TIMEOUT) + MARGIN + opened.elapsed();
    let mut slowest = Duration::ZERO;
    for conn in &mut idle {
        let took = closed_within(conn, within).await;
        slowest = slowest.max(took.expect("an idle connection is closed at the header timeout"));
    }
    eprintln!("all closed; the last after {slowest:?}");
    let growth = f.finish(10, &BTreeSet::new(), 200).await;
    eprintln!("idle connections: peak RSS +{growth} MiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_are_closed_at_once() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let f = Fixture::start(&[("HYDRANT_INGEST_MAX_CONNECTIONS", "200")]).await;
    let addr = format!("127.0.0.1:{}", f.hydrant.ingest_port);
    // The producer holds one connection (or, between puts, none); 250 more exceed the limit.
    let mut conns = Vec::new();
    for _ in 0..250 {
        conns.push(TcpStream::connect(&addr).await.expect("connect"));
    }
    let checks = conns
        .iter_mut()
        .map(|conn| closed_within(conn, Duration::from_millis(500)));
    let closed_at_once = futures::future::join_all(checks)
        .await
        .iter()
        .filter(|closed| closed.is_some())
        .count();
    eprintln!("{closed_at_once} of 250 connections closed at once (limit 200)");
    assert!(
        (50..=60).contains(&closed_at_once),
        "{closed_at_once} closed at once, expected the 50 beyond the limit"
    );
    // The rest are closed at the header timeout; then the producer gets through again.
    drop(conns);
    tokio::time::sleep(Duration::from_secs(HEADER_TIMEOUT) + MARGIN).await;
    f.producer_must_recover().await;
}

impl Fixture {
    /// For cases where the producer may be refused while the abuse lasts (the connection
    /// limit): restarts it and checks it gets through afterwards.
    async fn producer_must_recover(mut self) {
        let old = std::mem::replace(
            &mut self.producer,
            Producer::start(self.hydrant.ingest_url()),
        );
        let (acked_before, _) = old.stop().await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        self.finish(5, &acked_before, 100).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_connections_are_closed_at_the_header_timeout() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let f = Fixture::start(&[]).await;
    let addr = format!("127.0.0.1:{}", f.hydrant.ingest_port);
    let head = put_record_head(100);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let mut conn = TcpStream::connect(&addr).await.expect("connect");
        let head = head.clone().into_bytes();
        tasks.push(tokio::spawn(async move {
            let started = Instant::now();
            let deadline = Duration::from_secs(HEADER_TIMEOUT) + MARGIN;
            // One byte a second, until the server hangs up.
            for byte in head {
                if conn.write_all(&[byte]).await.is_err() {
                    break;
                }
                if closed_within(&mut conn, Duration::from_secs(1))
                    .await
                    .is_some()
                {
                    break;
                }
                if started.elapsed() > deadline + Duration::from_secs(5) {
                    break;
                }
            }
            started.elapsed()
        }));
    }
    let mut longest = Duration::ZERO;
    for task in tasks {
        let took = task.await.expect("slowloris");
        longest = longest.max(took);
        assert!(
            took <= Duration::from_secs(HEADER_TIMEOUT) + MARGIN,
            "a slowloris connection lived {took:?}"
        );
    }
    eprintln!("slowloris: 20 connections, the longest lived {longest:?}");
    f.finish(10, &BTreeSet::new(), 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_is_cut_off_and_nothing_of_it_is_stored() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let f = Fixture::start(&[]).await;
    let addr = format!("127.0.0.1:{}", f.hydrant.ingest_port);
    let mut tasks = Vec::new();
    for i in 0..5 {
        let body = put_record_body(&format!("trickled-{i}"));
        let mut conn = TcpStream::connect(&addr).await.expect("connect");
        tasks.push(tokio::spawn(async move {
            let started = Instant::now();
            conn.write_all(put_record_head(body.len()).as_bytes())
                .await
                .expect("head");
            let mut answer = Vec::new();
            // All of the body but its last byte, one byte a second: the request never completes.
            for &byte in &body.as_bytes()[..body.len() - 1] {
                if conn.write_all(&[byte]).await.is_err() {
                    break;
                }
                let mut buf = [0u8; 4096];
                match tokio::time::timeout(Duration::from_secs(1), conn.read(&mut buf)).await {
                    Ok(Ok(0) | Err(_)) => break,
                    Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
                    Err(_) => {}
                }
                if started.elapsed() > Duration::from_secs(BODY_TIMEOUT) + MARGIN * 3 {
                    break;
                }
            }
            (
                started.elapsed(),
                String::from_utf8_lossy(&answer).into_owned(),
            )
        }));
    }
    let mut longest = Duration::ZERO;
    for task in tasks {
        let (took, answer) = task.await.expect("trickle");
        longest = longest.max(took);
        assert!(
            answer.starts_with("HTTP/1.1 408") && answer.contains("RequestTimeoutException"),
            "a trickled body is answered 408: {answer:?}"
        );
        assert!(
            took <= Duration::from_secs(BODY_TIMEOUT) + MARGIN,
            "a trickled body was cut off after {took:?}"
        );
    }
    eprintln!("trickled bodies: 5 answered 408, the last after {longest:?}");
    let out = f.out.clone();
    f.finish(10, &BTreeSet::new(), 50).await;
    let stored = local_objects(&out)
        .iter()
        .any(|(_, bytes)| String::from_utf8_lossy(bytes).contains("trickled"));
    assert!(!stored, "nothing of a trickled body is stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_small_requests_from_many_connections() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let f = Fixture::start(&[]).await;
    let url = f.hydrant.ingest_url();
    // 64 connections, each putting as fast as it is answered: at most 40,000 requests or 4 s.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..64 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .expect("client");
            let mut acked = Vec::new();
            for i in 0..625 {
                if started.elapsed() > Duration::from_secs(4) {
                    break;
                }
                let data = format!("flood-{worker:02}-{i:04}");
                let r = client
                    .post(&url)
                    .header("X-Amz-Target", "Firehose_20150804.PutRecord")
                    .header("Content-Type", "application/x-amz-json-1.1")
                    .body(put_record_body(&data))
                    .send()
                    .await
                    .expect("flood put");
                assert_eq!(r.status(), 200, "{:?}", r.text().await);
                acked.push(data);
            }
            acked
        }));
    }
    let mut flooded = BTreeSet::new();
    for task in tasks {
        flooded.extend(task.await.expect("flood"));
    }
    let elapsed = started.elapsed();
    eprintln!(
        "flood: {} requests in {elapsed:?} ({:.0}/s)",
        flooded.len(),
        flooded.len() as f64 / elapsed.as_secs_f64()
    );
    f.finish(10, &flooded, 150).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_all_answered_in_order() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let f = Fixture::start(&[]).await;
    let mut conn = TcpStream::connect(format!("127.0.0.1:{}", f.hydrant.ingest_port))
        .await
        .expect("connect");
    let mut requests = Vec::new();
    let mut sent = BTreeSet::new();
    for i in 0..200 {
        let data = format!("pipelined-{i:03}");
        let body = put_record_body(&data);
        requests.extend_from_slice(put_record_head(body.len()).as_bytes());
        requests.extend_from_slice(body.as_bytes());
        sent.insert(data);
    }
    // All 200 in one write, then the answers.
    conn.write_all(&requests).await.expect("pipeline");
    let answers = read_responses(&mut conn, 200).await;
    let ids: Vec<String> = answers
        .iter()
        .map(|body| {
            let v: Value = serde_json::from_str(body).expect("json answer");
            v["RecordId"].as_str().expect("a record id").to_owned()
        })
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(
        ids, sorted,
        "answered in the order sent (record ids ascend)"
    );
    f.finish(10, &sent, 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_streams_beyond_the_limit_are_refused() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let f = Fixture::start(&[("HYDRANT_INGEST_H2_MAX_STREAMS", "50")]).await;
    let mut conn = TcpStream::connect(format!("127.0.0.1:{}", f.hydrant.ingest_port))
        .await
        .expect("connect");
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    out.extend(frame(0x4, 0, 0, &[]));
    // 150 requests whose bodies never come (POST /, no END_STREAM): each holds its stream.
    // HPACK: :method POST (static 3), :scheme http (6), :path / (4), :authority literal.
    let mut block = vec![0x83, 0x86, 0x84, 0x01, 9];
    block.extend_from_slice(b"127.0.0.1");
    for i in 0..150u32 {
        out.extend(frame(0x1, 0x4, 2 * i + 1, &block));
    }
    conn.write_all(&out).await.expect("h2 requests");
    let (mut advertised, mut refused) = (None, 0);
    let mut buf = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline.into(), async {
        let mut chunk = [0u8; 16 << 10];
        conn.read(&mut chunk)
            .await
            .inspect(|&n| buf.extend_from_slice(&chunk[..n]))
    })
    .await
    {
        if n == 0 {
            break;
        }
        while buf.len() >= 9 {
            let len = u32::from_be_bytes([0, buf[0], buf[1], buf[2]]) as usize;
            if buf.len() < 9 + len {
                break;
            }
            let (kind, flags, payload) = (buf[3], buf[4], buf[9..9 + len].to_vec());
            buf.drain(..9 + len);
            if kind == 0x4 && flags & 1 == 0 {
                for setting in payload.chunks(6) {
                    if setting[..2] == [0, 3] {
                        advertised = Some(u32::from_be_bytes([
                            setting[2], setting[3], setting[4], setting[5],
                        ]));
                    }
                }
                conn.write_all(&frame(0x4, 1, 0, &[]))
                    .await
                    .expect("settings ack");
            }
            // RST_STREAM with REFUSED_STREAM (7).
            if kind == 0x3 && payload == [0, 0, 0, 7] {
                refused += 1;
            }
        }
    }
    eprintln!("HTTP/2: max concurrent streams {advertised:?}; {refused} of 150 streams refused");
    assert_eq!(
        advertised,
        Some(50),
        "the server advertises its stream limit"
    );
    assert!(
        refused >= 100,
        "streams beyond the limit are refused ({refused})"
    );
    drop(conn);
    f.finish(10, &BTreeSet::new(), 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_beyond_the_body_memory_wait_for_it() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let budget = (16u64 << 20).to_string();
    let f = Fixture::start(&[("HYDRANT_INGEST_BODY_MEMORY_BYTES", budget.as_str())]).await;
    let addr = format!("127.0.0.1:{}", f.hydrant.ingest_port);
    // 24 connections each send 4 MiB of an 8 MiB body at once and stall: 96 MiB offered,
    // 16 MiB (plus 64 KiB each) held; the rest waits in the sockets until the body timeout.
    let chunk = vec![b'a'; 4 << 20];
    let mut tasks = Vec::new();
    for _ in 0..24 {
        let mut conn = TcpStream::connect(&addr).await.expect("connect");
        let chunk = chunk.clone();
        tasks.push(tokio::spawn(async move {
            conn.write_all(put_record_head(8 << 20).as_bytes())
                .await
                .expect("head");
            let _ = tokio::time::timeout(Duration::from_secs(2), conn.write_all(&chunk)).await;
            closed_within(&mut conn, Duration::from_secs(BODY_TIMEOUT) + MARGIN * 2).await
        }));
    }
    for task in tasks {
        assert!(
            task.await.expect("large body").is_some(),
            "a stalled large body is cut off"
        );
    }
    let growth = f.finish(10, &BTreeSet::new(), 100).await;
    eprintln!("large stalled bodies: peak RSS +{growth} MiB (96 MiB offered, 16 MiB budget)");
}
