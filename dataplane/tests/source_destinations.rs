//! Sources feed the same pipeline as Direct PUT: a Kafka topic through a Lambda-compatible
//! transformation into S3 (moto), and a Kinesis stream (kinesalite) into PostgreSQL, every
//! record arriving transformed or as a row.

use std::time::{Duration, Instant};

use harness::kafka::{Kafka, ProducedRecord};
use harness::kinesalite::Kinesalite;
use harness::kinesis::{create_stream, kinesis_client, put_records};
use harness::moto::Moto;
use harness::postgres::Postgres;
use harness::sinks::{s3_configuration, write_s3_secret};
use harness::transformation::{Mode, Service};
use harness::{Hydrant, objects, stream_manifest};

fn with_source(manifest: String, source: &str) -> String {
    manifest.replace("spec:\n", &format!("spec:\n  source:\n{source}"))
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_through_a_transformation_into_s3() {
    let kafka = Kafka::start().await;
    kafka.create_topic("events", 3).await;
    let values: Vec<String> = (0..2000)
        .map(|n| format!("{{\"event\":\"e{n:05}\"}}"))
        .collect();
    let records: Vec<ProducedRecord> = values
        .iter()
        .map(|v| ProducedRecord::value(v.as_str()))
        .collect();
    kafka.produce("events", &records).await;
    let moto = Moto::start().await;
    moto.create_bucket("lake").await;
    let lambda = Service::start(Mode::Normal, 0).await;
    let manifest = with_source(
        stream_manifest(
            "events",
            "64Mi",
            &format!(
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
            ),
        ),
        &format!(
            "    kafka:\n      bootstrapServers: {}\n      topic: events\n",
            kafka.bootstrap()
        ),
    );
    let work = tempfile::tempdir().expect("work");
    let hydrant = start(work.path(), &manifest).await;
    let expected: Vec<String> = values.iter().map(|v| v.to_uppercase()).collect();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinesis_into_postgresql() {
    let kinesis = Kinesalite::start().await;
    let client = kinesis_client(&kinesis.endpoint());
    create_stream(&client, "orders", 2).await;
    let rows: Vec<(String, Vec<u8>)> = (0..1500)
        .map(|n| {
            (
                format!("pk{n}"),
                format!("{{\"id\":{n},\"item\":\"i{n}\"}}").into_bytes(),
            )
        })
        .collect();
    put_records(&client, "orders", &rows).await;
    let pg = Postgres::start().await;
    pg.client("postgres")
        .await
        .batch_execute("CREATE DATABASE shop")
        .await
        .expect("create database");
    pg.client("shop")
        .await
        .batch_execute("CREATE TABLE orders (id bigint, item text)")
        .await
        .expect("ddl");
    let moto = Moto::start().await;
    moto.create_bucket("pg-errors").await;
    let manifest = with_source(
        stream_manifest(
            "orders",
            "64Mi",
            &format!(
                "    postgresql:
      connectionSecret: pg
      table: orders
      columns: [id, item]
      format: JSON
      bufferingHints: {{sizeInMBs: 1, intervalInSeconds: 1}}
      processingConfiguration:
        enabled: true
        processors: [{{type: AppendDelimiterToRecord}}]
{}",
                s3_configuration(&moto, "pg-errors", "")
            ),
        ),
        &format!(
            "    kinesisStream:
      streamArn: arn:aws:kinesis:us-east-1:000000000000:stream/orders
      endpoint: {}
      startingPosition: TRIM_HORIZON
",
            kinesis.endpoint()
        ),
    );
    let work = tempfile::tempdir().expect("work");
    pg.write_secret(work.path(), "pg", "shop");
    let hydrant = start(work.path(), &manifest).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let distinct: i64 = pg
            .client("shop")
            .await
            .query_one("SELECT count(DISTINCT id) FROM orders", &[])
            .await
            .expect("count")
            .get(0);
        if distinct == rows.len() as i64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{distinct} of {} rows\n{}",
            rows.len(),
            hydrant.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
