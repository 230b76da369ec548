//! The Kinesis harness: streams written and read back whole, a KPL-aggregated record intact,
//! resharding as plain moto 5.2.1 does it (the graph right, the data not: why the source's
//! resharding tests use kinesalite), the iterator types on moto and kinesalite, and throttled
//! reads surfacing as ProvisionedThroughputExceededException.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kinesis::operation::get_records::{GetRecordsError, GetRecordsOutput};
use aws_sdk_kinesis::operation::get_shard_iterator::{
    GetShardIteratorError, GetShardIteratorOutput,
};
use aws_sdk_kinesis::primitives::DateTime;
use aws_sdk_kinesis::types::ShardIteratorType;
use harness::kinesalite::Kinesalite;
use harness::kinesis::{
    ShardInfo, create_stream, kinesis_client, kinesis_client_without_retries, kpl_aggregate,
    list_shards, merge_shards, put_records, read_all, read_shard, split_shard,
};
use harness::kinesis_throttle::KinesisThrottler;
use harness::moto::Moto;

fn records(from: usize, to: usize) -> Vec<(String, Vec<u8>)> {
    (from..to)
        .map(|i| (format!("key-{i}"), format!("record-{i}").into_bytes()))
        .collect()
}

fn sorted(data: impl IntoIterator<Item = Vec<u8>>) -> Vec<Vec<u8>> {
    let mut v: Vec<_> = data.into_iter().collect();
    v.sort();
    v
}

fn by_id(shards: &[ShardInfo]) -> BTreeMap<&str, &ShardInfo> {
    shards.iter().map(|s| (s.shard_id.as_str(), s)).collect()
}

#[tokio::test]
async fn two_thousand_records_and_a_kpl_record_come_back_whole() {
    let moto = Moto::start().await;
    let client = kinesis_client(&moto.endpoint());
    create_stream(&client, "smoke", 4).await;
    let shards = list_shards(&client, "smoke").await;
    assert_eq!(shards.len(), 4);
    assert!(shards.iter().all(|s| s.is_open() && s.parents().is_empty()));
    assert_eq!(shards[0].starting_hash_key, 0);
    assert_eq!(shards[3].ending_hash_key, u128::MAX);

    let written = records(0, 2000);
    let puts = put_records(&client, "smoke", &written).await;
    assert_eq!(puts.len(), 2000);
    let used: BTreeSet<&str> = puts.iter().map(|p| p.shard_id.as_str()).collect();
    assert_eq!(used.len(), 4, "2,000 keys spread over every shard");
    assert_eq!(
        sorted(read_all(&client, "smoke").await),
        sorted(written.iter().map(|(_, d)| d.clone()))
    );

    // Each record is in the shard PutRecords named, under its sequence number, with an arrival
    // time.
    let mut read: BTreeMap<(String, String), Vec<u8>> = BTreeMap::new();
    for s in &shards {
        let got = read_shard(&client, "smoke", &s.shard_id, 300).await;
        assert!(
            got.children.is_none(),
            "an open shard's reads end at its tip"
        );
        assert!(got.calls > 1, "Limit 300 takes several calls");
        for r in got.records {
            assert!(r.approximate_arrival_timestamp().is_some());
            read.insert(
                (s.shard_id.clone(), r.sequence_number().to_owned()),
                r.data.into_inner(),
            );
        }
    }
    for (put, (_, data)) in puts.iter().zip(&written) {
        let key = (put.shard_id.clone(), put.sequence_number.clone());
        assert_eq!(read.get(&key), Some(data), "{put:?}");
    }

    // A KPL-aggregated record arrives byte for byte.
    let sub: Vec<(String, Vec<u8>)> = (0..50)
        .map(|i| (format!("sub-{}", i % 7), vec![i as u8; i * 13]))
        .collect();
    let aggregated = kpl_aggregate(&sub);
    create_stream(&client, "kpl", 1).await;
    put_records(&client, "kpl", &[("sub-0", &aggregated)]).await;
    assert_eq!(read_all(&client, "kpl").await, vec![aggregated.clone()]);
    assert_eq!(
        dataplane::process::deaggregate::kpl(&aggregated).expect("valid"),
        sub.iter().map(|(_, d)| d.as_slice()).collect::<Vec<_>>()
    );
}

/// Plain moto 5.2.1: the shard graph is right, the data is not where Kinesis puts it.
#[tokio::test]
async fn plain_moto_reshards_the_graph_but_not_the_data() {
    let moto = Moto::start().await;
    let client = kinesis_client(&moto.endpoint());
    create_stream(&client, "plain", 4).await;
    put_records(&client, "plain", &records(0, 200)).await;
    let before = by_id(&list_shards(&client, "plain").await)
        .into_iter()
        .map(|(id, s)| (id.to_owned(), s.clone()))
        .collect::<BTreeMap<_, _>>();

    let (low, high) = split_shard(&client, "plain", "shardId-000000000000").await;
    assert_eq!(
        (low.as_str(), high.as_str()),
        ("shardId-000000000004", "shardId-000000000005")
    );
    let merged = merge_shards(
        &client,
        "plain",
        "shardId-000000000002",
        "shardId-000000000003",
    )
    .await;
    assert_eq!(merged, "shardId-000000000006");
    let shards = list_shards(&client, "plain").await;
    let s = by_id(&shards);
    assert_eq!(s.len(), 7);
    for closed in [
        "shardId-000000000000",
        "shardId-000000000002",
        "shardId-000000000003",
    ] {
        assert!(!s[closed].is_open(), "{closed} has an EndingSequenceNumber");
    }
    assert_eq!(s[low.as_str()].parents(), ["shardId-000000000000"]);
    assert_eq!(s[high.as_str()].parents(), ["shardId-000000000000"]);
    assert_eq!(
        s[merged.as_str()].parents(),
        ["shardId-000000000002", "shardId-000000000003"]
    );
    assert_eq!(s[low.as_str()].starting_hash_key, 0);
    assert_eq!(
        s[high.as_str()].ending_hash_key,
        before["shardId-000000000000"].ending_hash_key
    );
    // Sequence numbers count 1, 2, 3, ... in each shard.
    assert_eq!(before["shardId-000000000001"].starting_sequence_number, "1");

    // The merge's child holds copies of both parents' records: they are read twice.
    let child = read_shard(&client, "plain", &merged, 10_000).await;
    let mut parents = read_shard(&client, "plain", "shardId-000000000002", 10_000)
        .await
        .records;
    parents.extend(
        read_shard(&client, "plain", "shardId-000000000003", 10_000)
            .await
            .records,
    );
    assert!(!parents.is_empty());
    let data = |r: &[aws_sdk_kinesis::types::Record]| {
        sorted(r.iter().map(|r| r.data.clone().into_inner()))
    };
    assert_eq!(data(&child.records), data(&parents));
    // New records still land in the closed parents (the first shard, in creation order, whose
    // range holds the key); the split's children get none.
    let puts = put_records(&client, "plain", &records(200, 400)).await;
    let landed: BTreeSet<&str> = puts.iter().map(|p| p.shard_id.as_str()).collect();
    assert!(landed.contains("shardId-000000000000"), "{landed:?}");
    assert!(!landed.contains(low.as_str()) && !landed.contains(high.as_str()));
    assert!(!landed.contains(merged.as_str()), "{landed:?}");
    // A closed shard reads like an open one: NextShardIterator every time, never ChildShards.
    let parent = read_shard(&client, "plain", "shardId-000000000000", 10_000).await;
    assert!(parent.children.is_none());
    assert!(!parent.records.is_empty());
}

/// The iterator types, on moto and on kinesalite.
#[tokio::test]
async fn iterator_types() {
    let (moto, kinesalite) = (Moto::start().await, Kinesalite::start().await);
    for endpoint in [moto.endpoint(), kinesalite.endpoint()] {
        let client = kinesis_client(&endpoint);
        create_stream(&client, "it", 1).await;
        let shard = "shardId-000000000000";
        let early = put_records(&client, "it", &records(0, 5)).await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let between = DateTime::from(SystemTime::now());
        tokio::time::sleep(Duration::from_millis(1100)).await;
        put_records(&client, "it", &records(5, 10)).await;
        let read = |kind: ShardIteratorType, seq: Option<String>, at: Option<DateTime>| {
            let client = client.clone();
            async move {
                let it = client
                    .get_shard_iterator()
                    .stream_name("it")
                    .shard_id(shard)
                    .shard_iterator_type(kind.clone())
                    .set_starting_sequence_number(seq)
                    .set_timestamp(at)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{kind:?}: {e:?}"));
                let got = client
                    .get_records()
                    .shard_iterator(it.shard_iterator().expect("iterator"))
                    .send()
                    .await
                    .expect("GetRecords");
                got.records()
                    .iter()
                    .map(|r| String::from_utf8(r.data.clone().into_inner()).expect("text"))
                    .collect::<Vec<_>>()
            }
        };
        let names = |a: usize, b: usize| (a..b).map(|i| format!("record-{i}")).collect::<Vec<_>>();
        assert_eq!(
            read(ShardIteratorType::TrimHorizon, None, None).await,
            names(0, 10)
        );
        assert!(read(ShardIteratorType::Latest, None, None).await.is_empty());
        let seq = Some(early[2].sequence_number.clone());
        assert_eq!(
            read(ShardIteratorType::AtSequenceNumber, seq.clone(), None).await,
            names(2, 10)
        );
        assert_eq!(
            read(ShardIteratorType::AfterSequenceNumber, seq, None).await,
            names(3, 10)
        );
        assert_eq!(
            read(ShardIteratorType::AtTimestamp, None, Some(between)).await,
            names(5, 10)
        );
    }
}

async fn iterator(
    client: &Client,
) -> Result<GetShardIteratorOutput, SdkError<GetShardIteratorError>> {
    client
        .get_shard_iterator()
        .stream_name("hot")
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
}

async fn get(
    client: &Client,
    iterator: &str,
) -> Result<GetRecordsOutput, SdkError<GetRecordsError>> {
    client.get_records().shard_iterator(iterator).send().await
}

#[tokio::test]
async fn throttled_reads_are_provisioned_throughput_exceeded() {
    let moto = Moto::start().await;
    let direct = kinesis_client(&moto.endpoint());
    create_stream(&direct, "hot", 1).await;
    put_records(&direct, "hot", &records(0, 10)).await;
    let throttler = KinesisThrottler::start(&moto.endpoint()).await;
    let client = kinesis_client_without_retries(&throttler.endpoint());
    let it = iterator(&client).await.expect("forwarded");
    let it = it.shard_iterator().expect("an iterator");
    assert_eq!(get(&client, it).await.expect("off").records().len(), 10);

    throttler.throttle_every(2);
    assert!(get(&client, it).await.is_ok(), "the 1st of 2 passes");
    let err = get(&client, it)
        .await
        .expect_err("the 2nd of 2 is throttled")
        .into_service_error();
    assert!(
        matches!(
            err,
            GetRecordsError::ProvisionedThroughputExceededException(_)
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), Some("ProvisionedThroughputExceededException"));
    let message = err.message().expect("a message");
    assert!(
        message.starts_with("Rate exceeded for shard shardId-000000000000 in stream hot"),
        "{message}"
    );
    assert_eq!(throttler.throttled(), 1);
    assert!(
        iterator(&client).await.is_ok(),
        "GetShardIterator is not throttled unless asked"
    );

    throttler.throttle_every(1);
    throttler.throttle_get_shard_iterator(true);
    let err = iterator(&client)
        .await
        .expect_err("throttled")
        .into_service_error();
    assert!(
        matches!(
            err,
            GetShardIteratorError::ProvisionedThroughputExceededException(_)
        ),
        "{err:?}"
    );
    assert_eq!(throttler.throttled(), 2);

    // The SDK's default retries absorb a throttle when a retry gets through...
    let retrying = kinesis_client(&throttler.endpoint());
    throttler.throttle_get_shard_iterator(false);
    throttler.throttle_every(2);
    assert!(get(&retrying, it).await.is_ok());
    assert!(
        get(&retrying, it).await.is_ok(),
        "retried past the throttle"
    );
    assert_eq!(throttler.throttled(), 3);
    // ...and surface it after 3 throttled attempts.
    throttler.throttle_every(1);
    let before = throttler.requests("GetRecords");
    let err = get(&retrying, it).await.expect_err("3 attempts throttled");
    assert!(matches!(
        err.into_service_error(),
        GetRecordsError::ProvisionedThroughputExceededException(_)
    ));
    assert_eq!(throttler.requests("GetRecords") - before, 3);
    assert_eq!(throttler.throttled(), 6);

    throttler.off();
    assert_eq!(
        get(&client, it).await.expect("off again").records().len(),
        10
    );
    assert_eq!(throttler.requests("GetShardIterator"), 3);
    assert_eq!(throttler.requests("ListShards"), 0);
}
