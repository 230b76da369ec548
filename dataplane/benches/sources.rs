//! Records per second read from each source and delivered, on this machine.
//!
//! `cargo bench -p dataplane --bench sources` (optionally `BENCH_RECORDS=1000000` for Kafka,
//! `BENCH_KINESIS_RECORDS=50000`, `BENCH_ONLY=kafka-local`). For every case: start the real
//! server (a Kafka 4.4 broker, kinesalite, moto: the ones the tests use), fill the topic or
//! stream with 1 KiB records, start the release `hydrant` binary reading it from the beginning,
//! and time until every record is delivered (the delivery counter reaches the count; the
//! destination is then checked to hold them). Consumer lag is sampled every second. Prints
//! one markdown row per case.

use std::path::Path;
use std::time::{Duration, Instant};

use harness::kafka::{Kafka, ProducedRecord};
use harness::kinesalite::Kinesalite;
use harness::kinesis::{create_stream, kinesis_client, put_records};
use harness::moto::Moto;
use harness::sinks::write_s3_secret;
use harness::{Hydrant, metric_value, objects, stream_manifest};

const RECORD: usize = 1024;

fn record(n: usize) -> Vec<u8> {
    let mut r = format!("{n:012} ").into_bytes();
    r.resize(RECORD, b'x');
    r
}

struct Row {
    case: &'static str,
    records: usize,
    fill_s: f64,
    deliver_s: f64,
    lag: Vec<f64>,
}

impl Row {
    fn print(&self) {
        let mib = (self.records * RECORD) as f64 / (1 << 20) as f64;
        let lag: Vec<String> = self.lag.iter().map(|l| format!("{l:.0}")).collect();
        println!(
            "| {} | {} | {:.1} s | {:.1} s | {:.0} | {:.1} | {} |",
            self.case,
            self.records,
            self.fill_s,
            self.deliver_s,
            self.records as f64 / self.deliver_s,
            mib / self.deliver_s,
            lag.join(" → ")
        );
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn with_source(manifest: String, source: &str) -> String {
    manifest.replace("spec:\n", &format!("spec:\n  source:\n{source}"))
}

const LOCAL: &str = "    local:
      directory: ./out
      bufferingHints: {sizeInMBs: 64, intervalInSeconds: 5}
      processingConfiguration:
        enabled: true
        processors: [{type: AppendDelimiterToRecord}]";

/// Starts the stream and waits until `records` are delivered, sampling `lag_metric` (summed
/// over its series) every second.
async fn deliver(
    work: &Path,
    manifest: &str,
    records: usize,
    lag_metric: &str,
) -> (f64, Vec<f64>, Hydrant) {
    write_s3_secret(work);
    let secrets = work.join("secrets");
    let started = Instant::now();
    let hydrant = Hydrant::start(
        work,
        manifest,
        &[
            ("HYDRANT_SECRETS_DIR", secrets.to_str().expect("utf8")),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ],
    )
    .await;
    let mut lag = Vec::new();
    let mut next_sample = Instant::now();
    loop {
        let metrics = hydrant.metrics().await;
        let delivered = metric_value(
            &metrics,
            "hydrant_delivery_records_total",
            &[("result", "success")],
        )
        .unwrap_or(0.0);
        if Instant::now() >= next_sample {
            let total: f64 = metrics
                .lines()
                .filter(|l| l.starts_with(lag_metric))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum();
            lag.push(total);
            next_sample += Duration::from_secs(1);
        }
        if delivered >= records as f64 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "only {delivered} of {records} delivered\n{}",
            hydrant.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (started.elapsed().as_secs_f64(), lag, hydrant)
}

async fn kafka_case(case: &'static str, records: usize, s3: Option<&Moto>) -> Row {
    let kafka = Kafka::start().await;
    kafka.create_topic("bench", 6).await;
    let fill = Instant::now();
    for chunk in (0..records).collect::<Vec<_>>().chunks(100_000) {
        let batch: Vec<ProducedRecord> = chunk
            .iter()
            .map(|&n| ProducedRecord::value(record(n)))
            .collect();
        kafka.produce("bench", &batch).await;
    }
    let fill_s = fill.elapsed().as_secs_f64();
    let destination = match s3 {
        None => LOCAL.to_owned(),
        Some(moto) => format!(
            "    s3:
      bucket: bench
      endpoint: {}
      region: us-east-1
      forcePathStyle: true
      credentialsSecret: s3-writer
      bufferingHints: {{sizeInMBs: 64, intervalInSeconds: 5}}
      processingConfiguration:
        enabled: true
        processors: [{{type: AppendDelimiterToRecord}}]",
            moto.endpoint()
        ),
    };
    let manifest = with_source(
        stream_manifest("bench", "2Gi", &destination),
        &format!(
            "    kafka:\n      bootstrapServers: {}\n      topic: bench\n",
            kafka.bootstrap()
        ),
    );
    let work = tempfile::tempdir().expect("work");
    let (deliver_s, lag, hydrant) = deliver(
        work.path(),
        &manifest,
        records,
        "hydrant_source_lag_records",
    )
    .await;
    match s3 {
        None => {
            let counts = objects::record_counts(&objects::local_objects(&work.path().join("out")));
            assert!(
                counts.len() >= records,
                "{} of {records} in the directory",
                counts.len()
            );
        }
        Some(moto) => {
            let objects = moto.objects("bench").await;
            let lines: usize = objects
                .iter()
                .map(|(_, b, _)| b.iter().filter(|&&c| c == b'\n').count())
                .sum();
            assert!(lines >= records, "{lines} of {records} in S3");
        }
    }
    drop(hydrant);
    Row {
        case,
        records,
        fill_s,
        deliver_s,
        lag,
    }
}

async fn kinesis_case(records: usize) -> Row {
    let kinesis = Kinesalite::start().await;
    let client = kinesis_client(&kinesis.endpoint());
    create_stream(&client, "bench", 4).await;
    let fill = Instant::now();
    let entries: Vec<(String, Vec<u8>)> = (0..records)
        .map(|n| (format!("pk{n}"), record(n)))
        .collect();
    put_records(&client, "bench", &entries).await;
    let fill_s = fill.elapsed().as_secs_f64();
    let manifest = with_source(
        stream_manifest("bench", "2Gi", LOCAL),
        &format!(
            "    kinesisStream:\n      streamName: bench\n      endpoint: {}\n      startingPosition: TRIM_HORIZON\n",
            kinesis.endpoint()
        ),
    );
    let work = tempfile::tempdir().expect("work");
    let (deliver_s, lag, _hydrant) = deliver(
        work.path(),
        &manifest,
        records,
        "hydrant_source_millis_behind_latest",
    )
    .await;
    Row {
        case: "kinesis (kinesalite) → local directory",
        records,
        fill_s,
        deliver_s,
        lag,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let records = env_usize("BENCH_RECORDS", 1_000_000);
    let kinesis_records = env_usize("BENCH_KINESIS_RECORDS", 50_000);
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let want = |name: &str| only.is_empty() || only == name;
    println!(
        "| case | records (1 KiB) | fill | start to all delivered | records/s | MiB/s | lag each second (Kafka: records; Kinesis: ms behind, summed) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    if want("kafka-local") {
        kafka_case("kafka → local directory", records, None)
            .await
            .print();
    }
    if want("kafka-s3") {
        let moto = Moto::start().await;
        moto.create_bucket("bench").await;
        kafka_case("kafka → S3 (moto)", records / 4, Some(&moto))
            .await
            .print();
    }
    if want("kinesis-local") {
        kinesis_case(kinesis_records).await.print();
    }
}
