//! Sources feed the same pipeline as Direct PUT: a Kafka topic and a Kinesis stream
//! (kinesalite), each through a Lambda-compatible transformation into S3 (moto) and each into
//! PostgreSQL, every record arriving transformed or as a row.

use std::time::{Duration, Instant};

use harness::kafka::{Kafka, ProducedRecord};
use harness::kinesalite::Kinesalite;
use harness::kinesis::{create_stream, kinesis_client, put_records};
use harness::moto::Moto;
use harness::postgres::Postgres;
use harness::sinks::{s3_configuration, write_s3_secret};
use harness::transformation::{Mode, Service};
use harness::{Hydrant, objects, stream_manifest};

/// One of the two sources, filled with `records` JSON records `{"id":n,"item":"i<n>"}`.
enum Filled {
    Kafka(Kafka),
    Kinesis(Kinesalite),
}

const RECORDS: usize = 1500;

fn json(n: usize) -> String {
    format!("{{\"id\":{n},\"item\":\"i{n:05}\"}}")
}

impl Filled {
    async fn kafka() -> Self {
        let kafka = Kafka::start().await;
        kafka.create_topic("events", 3).await;
        let records: Vec<ProducedRecord> = (0..RECORDS)
            .map(|n| ProducedRecord::value(json(n)))
            .collect();
        kafka.produce("events", &records).await;
        Filled::Kafka(kafka)
    }

    async fn kinesis() -> Self {
        let kinesis = Kinesalite::start().await;
        let client = kinesis_client(&kinesis.endpoint());
        create_stream(&client, "events", 2).await;
        let records: Vec<(String, Vec<u8>)> = (0..RECORDS)
            .map(|n| (format!("pk{n}"), json(n).into_bytes()))
            .collect();
        put_records(&client, "events", &records).await;
        Filled::Kinesis(kinesis)
    }

    /// The `spec.source` block.
    fn source(&self) -> String {
        match self {
            Filled::Kafka(k) => format!(
                "    kafka:\n      bootstrapServers: {}\n      topic: events\n",
                k.bootstrap()
            ),
            Filled::Kinesis(k) => format!(
                "    kinesisStream:
      streamArn: arn:aws:kinesis:us-east-1:000000000000:stream/events
      endpoint: {}
      startingPosition: TRIM_HORIZON
",
                k.endpoint()
            ),
        }
    }

    fn manifest(&self, destination: &str) -> String {
        stream_manifest("events", "64Mi", destination)
            .replace("spec:\n", &format!("spec:\n  source:\n{}", self.source()))
    }
}

async fn start(work: &std::path::Path, manifest: &str) -> Hydrant {
    write_s3_secret(work);
    let secrets = work.join("secrets");
    Hydrant::start(
        work,
        manifest,
        &[
            ("HYDRANT_SECRETS_DIR", secrets.to_str().expect("utf8")),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ],
    )
    .await
}

/// Every record, uppercased by the transformation, in the bucket.
async fn through_a_transformation_into_s3(source: Filled) {
    let moto = Moto::start().await;
    moto.create_bucket("lake").await;
    let lambda = Service::start(Mode::Normal, 0).await;
    let manifest = source.manifest(&format!(
        "    s3:
      bucket: lake
      endpoint: {}
      region: us-east-1
      forcePathStyle: true
      credentialsSecret: s3-writer
      bufferingHints: {{sizeInMBs: 1, intervalInSeconds: 1}}
      processingConfiguration:
        enabled: true
        processors:
{}",
        moto.endpoint(),
        harness::processing::lambda(&lambda.url(), "")
    ));
    let work = tempfile::tempdir().expect("work");
    let hydrant = start(work.path(), &manifest).await;
    let expected: Vec<String> = (0..RECORDS).map(|n| json(n).to_uppercase()).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let objects: Vec<(String, Vec<u8>)> = moto
            .objects("lake")
            .await
            .into_iter()
            .map(|(k, b, _)| (k, b))
            .collect();
        let counts = objects::record_counts(&objects);
        if expected.iter().all(|e| counts.contains_key(e)) {
            assert_eq!(counts.len(), expected.len(), "only transformed records");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} transformed records in S3\n{}",
            expected.iter().filter(|e| counts.contains_key(*e)).count(),
            expected.len(),
            hydrant.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(!lambda.invocations().is_empty());
}

/// Every record a row of the table.
async fn into_postgresql(source: Filled) {
    let pg = Postgres::start().await;
    pg.client("postgres")
        .await
        .batch_execute("CREATE DATABASE shop")
        .await
        .expect("create database");
    pg.client("shop")
        .await
        .batch_execute("CREATE TABLE events (id bigint, item text)")
        .await
        .expect("ddl");
    let moto = Moto::start().await;
    moto.create_bucket("pg-errors").await;
    let manifest = source.manifest(&format!(
        "    postgresql:
      connectionSecret: pg
      table: events
      columns: [id, item]
      format: JSON
      bufferingHints: {{sizeInMBs: 1, intervalInSeconds: 1}}
      processingConfiguration:
        enabled: true
        processors: [{{type: AppendDelimiterToRecord}}]
{}",
        s3_configuration(&moto, "pg-errors", "")
    ));
    let work = tempfile::tempdir().expect("work");
    pg.write_secret(work.path(), "pg", "shop");
    let hydrant = start(work.path(), &manifest).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let distinct: i64 = pg
            .client("shop")
            .await
            .query_one("SELECT count(DISTINCT id) FROM events", &[])
            .await
            .expect("count")
            .get(0);
        if distinct == RECORDS as i64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{distinct} of {RECORDS} rows\n{}",
            hydrant.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_through_a_transformation_into_s3() {
    through_a_transformation_into_s3(Filled::kafka().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinesis_through_a_transformation_into_s3() {
    through_a_transformation_into_s3(Filled::kinesis().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_into_postgresql() {
    into_postgresql(Filled::kafka().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinesis_into_postgresql() {
    into_postgresql(Filled::kinesis().await).await;
}
