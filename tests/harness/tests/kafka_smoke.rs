//! The Kafka broker of the harness works as the Kafka source's tests need it: topics with
//! several partitions, PLAINTEXT and SASL (SCRAM-SHA-512, PLAIN) clients, wrong credentials
//! refused, a restart and a kill keep the data, a consumer group's commits read back.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use harness::kafka::{Auth, ConsumedRecord, Kafka, PASSWORD, ProducedRecord, USER};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::Message;

fn records(prefix: &str, n: i64) -> Vec<ProducedRecord> {
    (0..n)
        .map(|i| ProducedRecord {
            key: Some(format!("{prefix}-key-{i}").into_bytes()),
            value: format!("{prefix}-value-{i}").into_bytes(),
            partition: None,
            timestamp_ms: Some(1_700_000_000_000 + i),
        })
        .collect()
}

/// Each produced record is where its acknowledgement said, with its key, value and timestamp.
fn assert_read_back(produced: &[ProducedRecord], acked: &[(i32, i64)], got: &[ConsumedRecord]) {
    assert_eq!(produced.len(), acked.len());
    let at: HashMap<(i32, i64), &ConsumedRecord> =
        got.iter().map(|r| ((r.partition, r.offset), r)).collect();
    for (record, position) in produced.iter().zip(acked) {
        let consumed = at
            .get(position)
            .unwrap_or_else(|| panic!("nothing read at {position:?}"));
        assert_eq!(consumed.key, record.key);
        assert_eq!(consumed.value.as_deref(), Some(&record.value[..]));
        assert_eq!(consumed.timestamp_ms, record.timestamp_ms);
    }
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_broker_smoke() {
    let started = Instant::now();
    let mut kafka = Kafka::start().await;
    eprintln!(
        "broker ready after {:?} (pid {}, RSS {:?} KiB)",
        started.elapsed(),
        kafka.pid(),
        rss_kib(kafka.pid())
    );

    // PLAINTEXT: 10,000 keyed records over 6 partitions, all read back.
    kafka.create_topic("smoke", 6).await;
    let first = records("plain", 10_000);
    let t = Instant::now();
    let acked_first = kafka.produce("smoke", &first).await;
    eprintln!("produced 10,000 records in {:?}", t.elapsed());
    let ends = kafka.end_offsets("smoke").await;
    assert_eq!(ends.len(), 6);
    assert_eq!(ends.values().sum::<i64>(), 10_000);
    assert!(ends.values().all(|&n| n > 0), "keys spread: {ends:?}");
    let t = Instant::now();
    let got = kafka.consume_all("smoke").await;
    eprintln!("consumed 10,000 records in {:?}", t.elapsed());
    assert_eq!(got.len(), 10_000);
    assert_read_back(&first, &acked_first, &got);

    // An explicit partition, no key.
    let pinned = [ProducedRecord {
        partition: Some(4),
        ..ProducedRecord::value("pinned")
    }];
    let at = kafka.produce("smoke", &pinned).await;
    assert_eq!(at, vec![(4, ends[&4])]);

    // SASL_PLAINTEXT with SCRAM-SHA-512 and with PLAIN.
    kafka.create_topic("sasl", 2).await;
    for auth in [Auth::scram(), Auth::plain()] {
        kafka.check_auth(&auth).await.expect("the hydrant user");
        let before = kafka.end_offsets("sasl").await.values().sum::<i64>();
        let batch = records(&format!("{auth:?}"), 100);
        let acked = kafka.produce_as(&auth, "sasl", &batch).await;
        let got = kafka.consume_all_as(&auth, "sasl").await;
        assert_eq!(got.len() as i64, before + 100);
        assert_read_back(&batch, &acked, &got);
    }
    let wrong = [
        Auth::Scram {
            username: USER.to_owned(),
            password: "wrong".to_owned(),
        },
        Auth::Plain {
            username: USER.to_owned(),
            password: "wrong".to_owned(),
        },
        Auth::Scram {
            username: "nobody".to_owned(),
            password: PASSWORD.to_owned(),
        },
    ];
    for auth in wrong {
        let e = kafka
            .check_auth(&auth)
            .await
            .expect_err("wrong credentials refused");
        assert_eq!(
            e.rdkafka_error_code(),
            Some(RDKafkaErrorCode::Authentication),
            "{auth:?}: {e}"
        );
    }

    // A restart (SIGTERM) keeps the data, the ports and the SCRAM credential.
    let old = kafka.pid();
    let t = Instant::now();
    kafka.restart().await;
    eprintln!("restarted in {:?}", t.elapsed());
    assert_ne!(kafka.pid(), old);
    let more = records("after-restart", 1_000);
    let acked = kafka.produce("smoke", &more).await;
    let got = kafka.consume_all("smoke").await;
    assert_eq!(got.len(), 11_001);
    assert_read_back(&first, &acked_first, &got);
    assert_read_back(&more, &acked, &got);
    kafka
        .check_auth(&Auth::scram())
        .await
        .expect("SCRAM after restart");

    // A consumer group member reads everything and commits; committed_offsets reads it back.
    let mut config = kafka.client_config(&Auth::Plaintext);
    config
        .set("group.id", "smoke-group")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest");
    let ends = kafka.end_offsets("smoke").await;
    let want = ends.clone();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = config.create().expect("consumer");
        consumer.subscribe(&["smoke"]).expect("subscribe");
        let mut next = BTreeMap::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while next != want {
            assert!(Instant::now() < deadline, "group read {next:?} of {want:?}");
            if let Some(m) = consumer.poll(Duration::from_millis(200)) {
                let m = m.expect("message");
                next.insert(m.partition(), m.offset() + 1);
            }
        }
        consumer
            .commit_consumer_state(CommitMode::Sync)
            .expect("commit");
    })
    .await
    .expect("group member");
    assert_eq!(kafka.committed_offsets("smoke-group", "smoke").await, ends);
    assert!(
        kafka
            .committed_offsets("no-such-group", "smoke")
            .await
            .is_empty()
    );
    let rewound = BTreeMap::from([(0, 1), (3, 2)]);
    kafka.commit_offsets("other-group", "smoke", &rewound).await;
    assert_eq!(
        kafka.committed_offsets("other-group", "smoke").await,
        rewound
    );

    // SIGKILL, then a start: recovery keeps every acknowledged record and the commits.
    let old = kafka.pid();
    kafka.kill();
    assert!(!std::path::Path::new(&format!("/proc/{old}")).exists());
    kafka.restart().await;
    assert_eq!(kafka.end_offsets("smoke").await, ends);
    assert_eq!(kafka.committed_offsets("smoke-group", "smoke").await, ends);
    eprintln!(
        "smoke test done after {:?} (broker RSS {:?} KiB)",
        started.elapsed(),
        rss_kib(kafka.pid())
    );
}

/// The producer helper's throughput: 100,000 records of 1 KiB. A measurement, not a check of
/// the harness, so not part of the suite:
/// `cargo test -p harness --test kafka_smoke -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a throughput measurement; run with --ignored"]
async fn kafka_produce_100k_of_1kib() {
    let kafka = Kafka::start().await;
    kafka.create_topic("bulk", 6).await;
    let records: Vec<_> = (0..100_000u32)
        .map(|i| ProducedRecord {
            key: Some(i.to_be_bytes().to_vec()),
            value: vec![b'x'; 1024],
            partition: None,
            timestamp_ms: None,
        })
        .collect();
    let t = Instant::now();
    let acked = kafka.produce("bulk", &records).await;
    let produced = t.elapsed();
    assert_eq!(acked.len(), 100_000);
    assert_eq!(
        kafka.end_offsets("bulk").await.values().sum::<i64>(),
        100_000
    );
    let t = Instant::now();
    assert_eq!(kafka.consume_all("bulk").await.len(), 100_000);
    eprintln!(
        "100,000 records of 1 KiB: produced in {produced:?}, consumed in {:?}; broker RSS {:?} KiB",
        t.elapsed(),
        rss_kib(kafka.pid())
    );
}
