//! The PostgreSQL destination against a real PostgreSQL server: rows arrive through COPY; bad
//! records (not JSON, refused values, a CSV line with too many fields) go to the
//! `postgresql-failed` error output in a real S3-compatible server while the rest of their batch
//! loads; a missing table fails every record after the retry duration; a crash of PostgreSQL in
//! the middle of loading loses nothing.

use harness as common;

use std::time::Duration;

use common::Hydrant;
use common::moto::Moto;
use common::postgres::Postgres;
use common::sinks::{self, put_records, s3_configuration, write_s3_secret};

fn manifest(name: &str, moto: &Moto, fields: &str) -> String {
    common::stream_manifest(
        name,
        "64Mi",
        &format!(
            "    postgresql:
      connectionSecret: pg
      bufferingHints: {{sizeInMBs: 1, intervalInSeconds: 1}}
{fields}{}",
            s3_configuration(moto, "pg-errors", "")
        ),
    )
}

async fn start(tmp: &std::path::Path, pg: &Postgres, db: &str, manifest: &str) -> Hydrant {
    write_s3_secret(tmp);
    pg.write_secret(tmp, "pg", db);
    let secrets = tmp.join("secrets");
    Hydrant::start(
        tmp,
        manifest,
        &[("HYDRANT_SECRETS_DIR", secrets.to_str().expect("utf8"))],
    )
    .await
}

async fn setup(pg: &Postgres, db: &str, ddl: &str) {
    pg.client("postgres")
        .await
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .expect("create database");
    pg.client(db).await.batch_execute(ddl).await.expect("ddl");
}

async fn count(pg: &Postgres, db: &str, sql: &str) -> i64 {
    pg.client(db)
        .await
        .query_one(sql, &[])
        .await
        .expect("query")
        .get(0)
}

#[tokio::test]
async fn json_rows_load_and_bad_records_go_to_the_error_output() {
    let moto = Moto::start().await;
    moto.create_bucket("pg-errors").await;
    let pg = Postgres::start().await;
    setup(
        &pg,
        "shop",
        "CREATE TABLE orders (id bigint, customer text, total numeric, meta jsonb)",
    )
    .await;
    let tmp = tempfile::tempdir().expect("tmp");
    let m = manifest(
        "orders",
        &moto,
        "      table: orders\n      columns: [id, customer, total, meta]\n      format: JSON\n      processingConfiguration:\n        enabled: true\n        processors: [{type: AppendDelimiterToRecord}]\n",
    );
    let h = start(tmp.path(), &pg, "shop", &m).await;
    let mut records: Vec<Vec<u8>> = (0..3000)
        .map(|i| {
            format!(
                r#"{{"id":{i},"customer":"c-{}, \"quoted\"","total":{}.5,"meta":{{"n":{i}}}}}"#,
                i % 7,
                i % 100
            )
            .into_bytes()
        })
        .collect();
    // Not JSON, JSON but not an object, and a value bigint refuses.
    records.insert(10, b"{\"id\": 1, broken".to_vec());
    records.insert(1500, b"[1,2,3]".to_vec());
    records.insert(2500, br#"{"id":"not-a-number","customer":"x"}"#.to_vec());
    put_records(&h.ingest_url(), "orders", &records).await;
    h.wait_drained(Duration::from_secs(60)).await;

    assert_eq!(
        count(&pg, "shop", "SELECT count(*) FROM orders").await,
        3000
    );
    assert_eq!(
        count(&pg, "shop", "SELECT count(DISTINCT id) FROM orders").await,
        3000
    );
    assert_eq!(
        count(
            &pg,
            "shop",
            "SELECT count(*) FROM orders WHERE customer = 'c-3, \"quoted\"' AND (meta->>'n')::bigint = id"
        )
        .await,
        (0..3000).filter(|i| i % 7 == 3).count() as i64
    );
    let failed = sinks::error_records(&moto, "pg-errors", "postgresql-failed").await;
    let mut by_code: Vec<(String, String)> = failed
        .iter()
        .map(|(_, v)| {
            let raw = String::from_utf8(sinks::raw_data(v)).expect("utf8");
            (v["errorCode"].as_str().expect("code").to_owned(), raw)
        })
        .collect();
    by_code.sort();
    assert_eq!(
        by_code,
        vec![
            (
                "PostgreSQL.DataLoadFailed".to_owned(),
                "{\"id\":\"not-a-number\",\"customer\":\"x\"}\n".to_owned()
            ),
            (
                "PostgreSQL.InvalidRecord".to_owned(),
                "[1,2,3]\n".to_owned()
            ),
            (
                "PostgreSQL.InvalidRecord".to_owned(),
                "{\"id\": 1, broken\n".to_owned()
            ),
        ],
        "{failed:?}"
    );
    let refused = failed
        .iter()
        .find(|(_, v)| v["errorCode"] == "PostgreSQL.DataLoadFailed")
        .expect("refused row");
    assert!(
        refused.1["errorMessage"]
            .as_str()
            .expect("message")
            .contains("22P02"),
        "{}",
        refused.1
    );
}

#[tokio::test]
async fn csv_column_mismatch_and_missing_table_go_to_the_error_output() {
    let moto = Moto::start().await;
    moto.create_bucket("pg-errors").await;
    let pg = Postgres::start().await;
    setup(
        &pg,
        "metrics",
        "CREATE TABLE samples (host text, value double precision)",
    )
    .await;
    let tmp = tempfile::tempdir().expect("tmp");
    let m = manifest(
        "samples",
        &moto,
        "      table: samples\n      columns: [host, value]\n      format: CSV\n",
    );
    let h = start(tmp.path(), &pg, "metrics", &m).await;
    let mut records: Vec<Vec<u8>> = (0..500)
        .map(|i| format!("\"host,{i}\",{i}.25").into_bytes())
        .collect();
    records.insert(250, b"h,1.0,extra".to_vec());
    put_records(&h.ingest_url(), "samples", &records).await;
    h.wait_drained(Duration::from_secs(60)).await;
    assert_eq!(
        count(&pg, "metrics", "SELECT count(*) FROM samples").await,
        500
    );
    let failed = sinks::error_records(&moto, "pg-errors", "postgresql-failed").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].1["errorCode"], "PostgreSQL.ColumnMismatch");
    assert_eq!(sinks::raw_data(&failed[0].1), b"h,1.0,extra");

    // A table that does not exist: retried for the retry duration, then every record goes to
    // the error output.
    let tmp2 = tempfile::tempdir().expect("tmp");
    moto.delete_all("pg-errors").await;
    let m = manifest(
        "nowhere",
        &moto,
        "      table: missing_table\n      columns: [host, value]\n      format: CSV\n      retryOptions: {durationInSeconds: 2}\n",
    );
    let h2 = start(tmp2.path(), &pg, "metrics", &m).await;
    let lost: Vec<Vec<u8>> = (0..50).map(|i| format!("h{i},{i}").into_bytes()).collect();
    put_records(&h2.ingest_url(), "nowhere", &lost).await;
    h2.wait_drained(Duration::from_secs(60)).await;
    let failed = sinks::error_records(&moto, "pg-errors", "postgresql-failed").await;
    assert_eq!(failed.len(), 50);
    for (_, v) in &failed {
        assert_eq!(v["errorCode"], "PostgreSQL.TableNotFound", "{v}");
        assert!(v["attemptsMade"].as_u64().expect("attempts") >= 2, "{v}");
    }
    drop(h);
}

#[tokio::test]
async fn a_postgres_crash_in_the_middle_of_loading_loses_nothing() {
    let moto = Moto::start().await;
    moto.create_bucket("pg-errors").await;
    let mut pg = Postgres::start().await;
    setup(&pg, "events", "CREATE TABLE ev (num bigint, body text)").await;
    let tmp = tempfile::tempdir().expect("tmp");
    let m = manifest("ev", &moto, "      table: ev\n      columns: [num, body]\n");
    let h = start(tmp.path(), &pg, "events", &m).await;
    let total = 40_000usize;
    let records: Vec<Vec<u8>> = (0..total)
        .map(|i| format!(r#"{{"num":{i},"body":"{}"}}"#, "x".repeat(200)).into_bytes())
        .collect();
    let (first, second) = records.split_at(total / 2);
    put_records(&h.ingest_url(), "ev", first).await;
    // Wait for loading to start, then crash PostgreSQL while batches are in flight.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while count(&pg, "events", "SELECT count(*) FROM ev").await == 0 {
        assert!(std::time::Instant::now() < deadline, "nothing loaded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pg.crash();
    put_records(&h.ingest_url(), "ev", second).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    pg.restart().await;
    h.wait_drained(Duration::from_secs(120)).await;
    assert_eq!(
        count(&pg, "events", "SELECT count(DISTINCT num) FROM ev").await,
        total as i64,
        "every acknowledged record loaded"
    );
    // A commit whose answer was lost is retried: the batch's row in the table of delivered
    // batches makes the retry load nothing.
    assert_eq!(
        count(&pg, "events", "SELECT count(*) FROM ev").await,
        total as i64,
        "each once"
    );
    assert!(
        sinks::error_records(&moto, "pg-errors", "postgresql-failed")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn kill_9_of_the_stream_loads_every_row_exactly_once() {
    let moto = Moto::start().await;
    moto.create_bucket("pg-errors").await;
    let pg = Postgres::start().await;
    setup(
        &pg,
        "crashes",
        "CREATE SCHEMA app; CREATE TABLE app.ev (num bigint, body text)",
    )
    .await;
    let tmp = tempfile::tempdir().expect("tmp");
    // Batches cut as soon as the log is caught up: several per checkpoint interval, so a kill
    // falls between some batch's commit and the checkpoint passing it.
    let m = manifest(
        "ev",
        &moto,
        "      table: app.ev\n      columns: [num, body]\n",
    )
    .replace("intervalInSeconds: 1", "intervalInSeconds: 0");
    let mut h = start(tmp.path(), &pg, "crashes", &m).await;
    let (rounds, per_round) = (5usize, 4_000usize);
    for round in 0..rounds {
        let records: Vec<Vec<u8>> = (round * per_round..(round + 1) * per_round)
            .map(|i| format!(r#"{{"num":{i},"body":"{}"}}"#, "x".repeat(100)).into_bytes())
            .collect();
        put_records(&h.ingest_url(), "ev", &records).await;
        // Kill once loading is under way.
        let loaded = (round * per_round) as i64;
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while count(&pg, "crashes", "SELECT count(*) FROM app.ev").await <= loaded {
            assert!(
                std::time::Instant::now() < deadline,
                "round {round}: nothing loaded"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        h.kill9();
        h.restart().await;
    }
    h.wait_drained(Duration::from_secs(120)).await;
    let total = (rounds * per_round) as i64;
    assert_eq!(
        count(&pg, "crashes", "SELECT count(DISTINCT num) FROM app.ev").await,
        total,
        "every acknowledged record loaded"
    );
    assert_eq!(
        count(&pg, "crashes", "SELECT count(*) FROM app.ev").await,
        total,
        "each once, through {rounds} kills\n{}",
        h.log()
    );
    assert!(
        count(
            &pg,
            "crashes",
            "SELECT count(*) FROM app.hydrant_delivered_batches"
        )
        .await
            > 0,
        "the batches are recorded beside the table"
    );
}

#[tokio::test]
async fn tls_with_sslmode_verify_full_and_a_root_certificate_from_the_secret() {
    let moto = Moto::start().await;
    moto.create_bucket("pg-errors").await;
    let certs = tempfile::tempdir().expect("tmp");
    common::tls::make_certificates(certs.path());
    let pg = Postgres::start_tls(certs.path()).await;
    setup(&pg, "secure", "CREATE TABLE t (a text)").await;
    let ca = std::fs::read_to_string(certs.path().join("ca.crt")).expect("ca");
    let fields = "      table: t\n      columns: [a]\n      format: CSV\n      retryOptions: {durationInSeconds: 2}\n";

    // verify-full against the Secret's root certificate: rows arrive over TLS.
    let tmp = tempfile::tempdir().expect("tmp");
    common::sinks::write_secret(
        tmp.path(),
        "pg",
        &[("sslmode", "verify-full"), ("sslrootcert", &ca)],
    );
    let h = start(
        tmp.path(),
        &pg,
        "secure",
        &manifest("secure", &moto, fields),
    )
    .await;
    let rows: Vec<Vec<u8>> = (0..100).map(|i| format!("r{i}").into_bytes()).collect();
    put_records(&h.ingest_url(), "secure", &rows).await;
    h.wait_drained(Duration::from_secs(60)).await;
    assert_eq!(
        count(&pg, "secure", "SELECT count(*) FROM t").await,
        100,
        "{}",
        h.log()
    );
    assert!(
        sinks::error_records(&moto, "pg-errors", "postgresql-failed")
            .await
            .is_empty()
    );

    // sslmode disable: the server refuses plain connections; the records end in the error
    // output after the retry duration.
    let tmp = tempfile::tempdir().expect("tmp");
    common::sinks::write_secret(tmp.path(), "pg", &[("sslmode", "disable")]);
    let h = start(tmp.path(), &pg, "secure", &manifest("plain", &moto, fields)).await;
    put_records(&h.ingest_url(), "plain", &rows[..5]).await;
    h.wait_drained(Duration::from_secs(60)).await;
    let failed = sinks::error_records(&moto, "pg-errors", "postgresql-failed").await;
    assert_eq!(failed.len(), 5);
    assert!(
        failed[0].1["errorMessage"]
            .as_str()
            .expect("message")
            .contains("pg_hba.conf"),
        "{}",
        failed[0].1
    );
    assert_eq!(count(&pg, "secure", "SELECT count(*) FROM t").await, 100);
}
