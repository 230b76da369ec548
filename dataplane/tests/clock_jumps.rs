//! The wall clock of a running stream jumping an hour back and an hour forward under load,
//! through the clock seam (`HYDRANT_CLOCK_OFFSET_FILE`; the machine's clock is not touched):
//! delivery never stalls, every record is delivered once, objects are named by the clock the
//! process saw, and SigV4 refuses a request only outside its 15-minute window.

use harness as common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::processing::local_stream;
use common::sinks::put_batch;
use common::{Hydrant, SIGNED_KEY_ID, SIGNED_SECRET, objects};
use serde_json::Value;

const HOUR_MS: i64 = 3_600_000;
/// The offset of each phase of the load, in order: back an hour, forward an hour (two hours
/// in one step), and back to the machine's time.
const PHASES: [i64; 4] = [0, -HOUR_MS, HOUR_MS, 0];
/// After each jump, records are put for this long, then the test waits for all of them.
const AFTER_JUMP: Duration = Duration::from_secs(3);
/// How long the test waits for everything put to be delivered (an object is due 1 s after its
/// oldest record, 2 s when partitioned; a stalled buffer would wait an hour).
const DELIVERED_WITHIN: Duration = Duration::from_secs(20);
/// Then records are put for this long before the next jump, so that buffers hold records when
/// the clock moves; their objects are named by the phase's clock.
const BEFORE_JUMP: Duration = Duration::from_millis(1500);

fn set_offset(file: &Path, ms: i64) {
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, ms.to_string()).expect("offset");
    std::fs::rename(&tmp, file).expect("offset");
}

/// One delivered record: its number, the phase it was put in (None: while the clock settled)
/// and the object's key.
struct Delivered {
    n: u64,
    phase: Option<usize>,
    key: String,
}

fn delivered(out: &Path) -> Vec<Delivered> {
    let mut all = Vec::new();
    for (key, bytes) in objects::local_objects(out) {
        for line in objects::lines(&objects::decode(&key, &bytes)) {
            let v: Value = serde_json::from_str(&line).expect("a record");
            all.push(Delivered {
                n: v["n"].as_u64().expect("n"),
                phase: v["p"].as_u64().map(|p| p as usize),
                key: key.clone(),
            });
        }
    }
    all
}

/// The `t=` hour of an object key (`…t=2026-12-02-03/…`).
fn key_hour(key: &str) -> String {
    let at = key.find("t=").expect("a t= directory") + 2;
    key[at..at + 13].to_owned()
}

fn hour_of(unix_ms: i64) -> String {
    let t = chrono::DateTime::from_timestamp_millis(unix_ms).expect("in range");
    t.format("%Y-%m-%d-%H").to_string()
}

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64
}

/// Puts 20 records every 50 ms for `time`, tagged with `phase`; returns the window (unix ms,
/// the machine's clock) in which they were put.
async fn put_for(
    hydrant: &Hydrant,
    stream: &str,
    n: &mut u64,
    phase: Option<usize>,
    time: Duration,
) -> (i64, i64) {
    let client = reqwest::Client::new();
    let from = unix_ms(SystemTime::now());
    let started = Instant::now();
    while started.elapsed() < time {
        let records: Vec<Vec<u8>> = (0..20)
            .map(|i| {
                *n += 1;
                let k = ["a", "b"][i % 2];
                serde_json::json!({"k": k, "n": *n, "p": phase})
                    .to_string()
                    .into_bytes()
            })
            .collect();
        let r = put_batch(&client, &hydrant.ingest_url(), stream, &records).await;
        assert_eq!(r.status(), 200, "phase {phase:?}");
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["FailedPutCount"], 0, "{v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (from, unix_ms(SystemTime::now()))
}

/// Puts records through the phases: the clock jumps while buffers hold records, records are
/// put for a while, and everything put so far must then be delivered before the clock moves
/// again (which could release a stalled buffer). Returns how many records were put and the
/// window of each phase's records put before the next jump.
async fn load_through_jumps(
    hydrant: &Hydrant,
    stream: &str,
    offset: &Path,
) -> (u64, Vec<(i64, i64)>) {
    let out = hydrant.work.join("out");
    let mut n = 0u64;
    let mut windows = Vec::new();
    for (phase, &ms) in PHASES.iter().enumerate() {
        set_offset(offset, ms);
        put_for(hydrant, stream, &mut n, None, AFTER_JUMP).await;
        wait_for(
            &out,
            n,
            hydrant,
            &format!("phase {phase}, clock offset {ms} ms"),
        )
        .await;
        windows.push(put_for(hydrant, stream, &mut n, Some(phase), BEFORE_JUMP).await);
    }
    (n, windows)
}

/// Every record once, and each record of a phase in an object named by that phase's clock.
fn check_delivery(out: &Path, put: u64, windows: &[(i64, i64)]) -> Vec<Delivered> {
    let all = delivered(out);
    let mut counts: BTreeMap<u64, u32> = BTreeMap::new();
    for d in &all {
        *counts.entry(d.n).or_default() += 1;
    }
    assert_eq!(counts.len() as u64, put, "every record delivered");
    assert!(counts.values().all(|&c| c == 1), "no record twice");
    for d in &all {
        let Some(phase) = d.phase else { continue };
        let (from, to) = windows[phase];
        // The key's time is the arrival of the oldest record in its object: one put in the
        // same window (the buffers were empty when it began).
        let hours: BTreeSet<String> = [from, to]
            .iter()
            .map(|t| hour_of(t + PHASES[phase]))
            .collect();
        assert!(
            hours.contains(&key_hour(&d.key)),
            "record {} of phase {phase} in {}: expected an hour of {hours:?}",
            d.n,
            d.key
        );
    }
    all
}

async fn wait_for(out: &Path, put: u64, hydrant: &Hydrant, when: &str) {
    let deadline = Instant::now() + DELIVERED_WITHIN;
    while (delivered(out).len() as u64) < put {
        assert!(
            Instant::now() < deadline,
            "{when}: {} of {put} records delivered {DELIVERED_WITHIN:?} after they were put\n{}",
            delivered(out).len(),
            hydrant.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Runs a local stream (`prefix`, `extra` destination lines, `processors`) through the jumps
/// and checks its delivery; returns every record delivered.
async fn run_through_jumps(prefix: &str, extra: &str, processors: &str) -> Vec<Delivered> {
    let tmp = tempfile::tempdir().expect("tmp");
    let offset = tmp.path().join("clock-offset");
    set_offset(&offset, 0);
    let manifest = local_stream("jumps", prefix, extra, processors);
    let hydrant = Hydrant::start(
        tmp.path(),
        &manifest,
        &[("HYDRANT_CLOCK_OFFSET_FILE", offset.to_str().expect("utf8"))],
    )
    .await;
    let (put, windows) = load_through_jumps(&hydrant, "jumps", &offset).await;
    let out = tmp.path().join("out");
    wait_for(&out, put, &hydrant, "the end").await;
    check_delivery(&out, put, &windows)
}

#[tokio::test]
async fn batches_flush_on_time_through_jumps_of_the_wall_clock() {
    let all = run_through_jumps(
        "t=!{timestamp:yyyy-MM-dd-HH}/",
        "",
        "        - type: AppendDelimiterToRecord\n",
    )
    .await;
    // Each object holds a run of the log: its records' numbers are consecutive.
    let mut by_object: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for d in &all {
        by_object.entry(&d.key).or_default().push(d.n);
    }
    for (key, ns) in &by_object {
        let mut sorted = ns.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted.last().expect("records") - sorted[0] + 1,
            sorted.len() as u64,
            "{key} holds a run of the log"
        );
    }
}

#[tokio::test]
async fn partition_buffers_flush_on_time_through_jumps_of_the_wall_clock() {
    let all = run_through_jumps(
        "k=!{partitionKeyFromQuery:k}/t=!{timestamp:yyyy-MM-dd-HH}/",
        "      dynamicPartitioningConfiguration: {enabled: true}\n",
        "        - type: MetadataExtraction
          metadataExtraction: {query: \"{k: .k}\", jsonParsingEngine: JQ-1.6}
        - type: AppendDelimiterToRecord
",
    )
    .await;
    // A partition's records are in order across its objects: no object of a partition holds
    // a record older than one in an object that partition flushed before it.
    let mut by_object: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for d in &all {
        let e = by_object.entry(&d.key).or_insert((u64::MAX, 0));
        *e = (e.0.min(d.n), e.1.max(d.n));
    }
    for k in ["k=a/", "k=b/"] {
        let mut ranges: Vec<(u64, u64)> = by_object
            .iter()
            .filter(|(key, _)| key.starts_with(k))
            .map(|(_, r)| *r)
            .collect();
        ranges.sort_unstable();
        assert!(ranges.len() >= PHASES.len(), "{k}: {ranges:?}");
        for pair in ranges.windows(2) {
            assert!(pair[0].1 < pair[1].0, "{k}: overlapping objects {pair:?}");
        }
    }
}

/// A signed put whose client clock is the machine's, while the stream's clock is `offset_ms`
/// off: accepted, or refused with the code and message start given.
async fn signed_put(hydrant: &Hydrant, offset: &Path, offset_ms: i64) -> Result<(), String> {
    set_offset(offset, offset_ms);
    // The seam is re-read every 50 ms.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let good = hydrant.firehose_with(SIGNED_KEY_ID, SIGNED_SECRET);
    let strict = aws_sdk_firehose::Client::from_conf(
        good.config()
            .to_builder()
            .retry_config(aws_sdk_firehose::config::retry::RetryConfig::disabled())
            .build(),
    );
    strict
        .put_record()
        .delivery_stream_name("signed")
        .record(
            aws_sdk_firehose::types::Record::builder()
                .data(aws_sdk_firehose::primitives::Blob::new(
                    format!("{{\"n\":{offset_ms}}}").into_bytes(),
                ))
                .build()
                .expect("record"),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            let e = e.into_service_error();
            format!(
                "{} {}",
                e.meta().code().unwrap_or("?"),
                e.meta().message().unwrap_or("")
            )
        })
}

#[tokio::test]
async fn sigv4_refuses_only_outside_its_window_when_the_clock_jumps() {
    let tmp = tempfile::tempdir().expect("tmp");
    let offset = tmp.path().join("clock-offset");
    set_offset(&offset, 0);
    let hydrant = Hydrant::start_signed(
        tmp.path(),
        &[("HYDRANT_CLOCK_OFFSET_FILE", offset.to_str().expect("utf8"))],
    )
    .await;
    let minute = 60_000;
    for ms in [0, 14 * minute, -14 * minute] {
        signed_put(&hydrant, &offset, ms)
            .await
            .unwrap_or_else(|e| panic!("offset {ms} ms is inside the window: {e}"));
    }
    for (ms, refusal) in [
        // The stream's clock is ahead: the signature looks too old.
        (16 * minute, "InvalidSignatureException Signature expired"),
        (HOUR_MS, "InvalidSignatureException Signature expired"),
        // Behind: the signature is from its future.
        (
            -16 * minute,
            "InvalidSignatureException Signature not yet current",
        ),
        (
            -HOUR_MS,
            "InvalidSignatureException Signature not yet current",
        ),
    ] {
        let e = signed_put(&hydrant, &offset, ms)
            .await
            .expect_err("outside the 15-minute window");
        assert!(e.starts_with(refusal), "offset {ms} ms: {e}");
    }
    // With its retries on, the SDK corrects its clock from the Date header, which carries the
    // stream's clock, and the retry is accepted (as against AWS).
    set_offset(&offset, HOUR_MS);
    tokio::time::sleep(Duration::from_millis(300)).await;
    hydrant
        .firehose_with(SIGNED_KEY_ID, SIGNED_SECRET)
        .put_record()
        .delivery_stream_name("signed")
        .record(
            aws_sdk_firehose::types::Record::builder()
                .data(aws_sdk_firehose::primitives::Blob::new(&b"{\"n\":1}"[..]))
                .build()
                .expect("record"),
        )
        .send()
        .await
        .expect("the SDK corrects its skew from the stream's Date header");
    set_offset(&offset, 0);
    hydrant.wait_drained(Duration::from_secs(20)).await;
    let counts = objects::record_counts(&objects::local_objects(&tmp.path().join("out")));
    assert_eq!(
        counts.values().sum::<u32>(),
        4,
        "the accepted puts only: {counts:?}"
    );
}
