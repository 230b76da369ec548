//! Kinesis Data Streams for the tests of the Kinesis source, on any Kinesis-compatible server
//! (moto, which also serves S3, or [`crate::kinesalite`]), written and resharded with
//! aws-sdk-kinesis, read back whole, and KPL-aggregated records ([`kpl_aggregate`]). Throttled
//! reads: [`crate::kinesis_throttle`].
//!
//! How a closed (split or merged) shard looks, the thing a reader must detect:
//!
//! - ListShards: the parent has `SequenceNumberRange.EndingSequenceNumber`; each child has
//!   `ParentShardId` (a merge's also `AdjacentParentShardId`).
//! - GetRecords, kinesalite (as Kinesis): once the closed shard is read to its end, the reply
//!   has no NextShardIterator.
//! - GetRecords, plain moto 5.2.1: exactly like an open shard. NextShardIterator is always
//!   there; at the end, empty replies with MillisBehindLatest 0. New records keep landing in
//!   closed parents (and a split's parent is rewritten in place), so moto cannot show a parent
//!   that is finished: the resharding tests use kinesalite.

use std::time::{Duration, Instant};

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::config::retry::RetryConfig;
use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, Record, ShardIteratorType, StreamStatus};
use md5::Digest;

/// A client of the Kinesis API at `endpoint` (a [`Moto`](crate::moto::Moto)'s, or a
/// [`KinesisThrottler`](crate::kinesis_throttle::KinesisThrottler)'s): us-east-1, static test
/// credentials, the SDK's default (standard) retries.
pub fn kinesis_client(endpoint: &str) -> Client {
    Client::from_conf(config(endpoint).build())
}

/// [`kinesis_client`] that never retries: every throttle or error reaches the caller.
pub fn kinesis_client_without_retries(endpoint: &str) -> Client {
    Client::from_conf(
        config(endpoint)
            .retry_config(RetryConfig::disabled())
            .build(),
    )
}

fn config(endpoint: &str) -> aws_sdk_kinesis::config::Builder {
    aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
}

/// Creates a provisioned stream of `shards` shards and waits until it is ACTIVE.
pub async fn create_stream(client: &Client, name: &str, shards: i32) {
    client
        .create_stream()
        .stream_name(name)
        .shard_count(shards)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateStream {name}: {e:?}"));
    wait_active(client, name).await;
}

/// Waits until the stream's status is ACTIVE (moto's always is; Kinesis's is UPDATING for a
/// while after a split or a merge).
pub async fn wait_active(client: &Client, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let summary = client
            .describe_stream_summary()
            .stream_name(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeStreamSummary {name}: {e:?}"));
        let status = summary
            .stream_description_summary()
            .map(|s| s.stream_status().clone());
        if status == Some(StreamStatus::Active) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "stream {name} not ACTIVE: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Where a record was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Put {
    pub shard_id: String,
    pub sequence_number: String,
}

/// PutRecords limits: 500 entries and 5 MiB (data and partition keys) per call.
const PUT_MAX_ENTRIES: usize = 500;
const PUT_MAX_BYTES: usize = 5 * 1024 * 1024;

/// Writes `(partition key, data)` records in PutRecords calls of at most 500 entries and 5 MiB,
/// sending failed entries again (up to 20 times, backing off); returns, in input order, where
/// each was written. Records of one call land in order within a shard.
pub async fn put_records<K: AsRef<str>, D: AsRef<[u8]>>(
    client: &Client,
    stream: &str,
    records: &[(K, D)],
) -> Vec<Put> {
    let mut out: Vec<Option<Put>> = vec![None; records.len()];
    let mut start = 0;
    while start < records.len() {
        let (mut end, mut bytes) = (start, 0);
        while end < records.len() && end - start < PUT_MAX_ENTRIES {
            let size = records[end].0.as_ref().len() + records[end].1.as_ref().len();
            if end > start && bytes + size > PUT_MAX_BYTES {
                break;
            }
            bytes += size;
            end += 1;
        }
        let mut pending: Vec<usize> = (start..end).collect();
        for attempt in 0.. {
            assert!(
                attempt < 20,
                "PutRecords to {stream}: {} entries still failing",
                pending.len()
            );
            let entries = pending
                .iter()
                .map(|&i| {
                    PutRecordsRequestEntry::builder()
                        .partition_key(records[i].0.as_ref())
                        .data(Blob::new(records[i].1.as_ref()))
                        .build()
                        .expect("a PutRecords entry")
                })
                .collect();
            let reply = client
                .put_records()
                .stream_name(stream)
                .set_records(Some(entries))
                .send()
                .await
                .unwrap_or_else(|e| panic!("PutRecords to {stream}: {e:?}"));
            assert_eq!(reply.records().len(), pending.len(), "PutRecords replies");
            let mut failed = Vec::new();
            for (&i, entry) in pending.iter().zip(reply.records()) {
                match (
                    entry.shard_id(),
                    entry.sequence_number(),
                    entry.error_code(),
                ) {
                    (Some(shard), Some(seq), None) => {
                        out[i] = Some(Put {
                            shard_id: shard.to_owned(),
                            sequence_number: seq.to_owned(),
                        })
                    }
                    _ => failed.push(i),
                }
            }
            if failed.is_empty() {
                break;
            }
            pending = failed;
            tokio::time::sleep(Duration::from_millis(50 << attempt.min(5))).await;
        }
        start = end;
    }
    out.into_iter()
        .map(|p| p.expect("every record put"))
        .collect()
}

/// A shard as ListShards describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardInfo {
    pub shard_id: String,
    pub parent_shard_id: Option<String>,
    pub adjacent_parent_shard_id: Option<String>,
    pub starting_hash_key: u128,
    pub ending_hash_key: u128,
    pub starting_sequence_number: String,
    /// Set once the shard is closed (split or merged).
    pub ending_sequence_number: Option<String>,
}

impl ShardInfo {
    pub fn is_open(&self) -> bool {
        self.ending_sequence_number.is_none()
    }

    /// The parents' ids: none, one (a split's child) or two (a merge's).
    pub fn parents(&self) -> Vec<&str> {
        [&self.parent_shard_id, &self.adjacent_parent_shard_id]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect()
    }
}

/// Every shard of the stream, closed ones included, as ListShards pages them (NextToken alone
/// after the first page, as Kinesis requires).
pub async fn list_shards(client: &Client, stream: &str) -> Vec<ShardInfo> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let request = match &token {
            Some(t) => client.list_shards().next_token(t),
            None => client.list_shards().stream_name(stream),
        };
        let page = request
            .max_results(1000)
            .send()
            .await
            .unwrap_or_else(|e| panic!("ListShards {stream}: {e:?}"));
        for s in page.shards() {
            let hash = s.hash_key_range().expect("HashKeyRange");
            let seq = s.sequence_number_range().expect("SequenceNumberRange");
            out.push(ShardInfo {
                shard_id: s.shard_id().to_owned(),
                parent_shard_id: s.parent_shard_id().map(str::to_owned),
                adjacent_parent_shard_id: s.adjacent_parent_shard_id().map(str::to_owned),
                starting_hash_key: hash.starting_hash_key().parse().expect("hash key"),
                ending_hash_key: hash.ending_hash_key().parse().expect("hash key"),
                starting_sequence_number: seq.starting_sequence_number().to_owned(),
                ending_sequence_number: seq.ending_sequence_number().map(str::to_owned),
            });
        }
        match page.next_token() {
            Some(t) if !page.shards().is_empty() => token = Some(t.to_owned()),
            _ => return out,
        }
    }
}

fn shard<'a>(shards: &'a [ShardInfo], id: &str) -> &'a ShardInfo {
    shards
        .iter()
        .find(|s| s.shard_id == id)
        .unwrap_or_else(|| panic!("no shard {id}"))
}

/// Splits `shard_id` at the middle of its hash key range, waits until the stream is ACTIVE
/// again, and returns the two children's ids, lower range first.
pub async fn split_shard(client: &Client, stream: &str, shard_id: &str) -> (String, String) {
    let parent = shard(&list_shards(client, stream).await, shard_id).clone();
    let (low, high) = (parent.starting_hash_key, parent.ending_hash_key);
    let middle = low + (high - low).div_ceil(2);
    client
        .split_shard()
        .stream_name(stream)
        .shard_to_split(shard_id)
        .new_starting_hash_key(middle.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("SplitShard {shard_id} of {stream}: {e:?}"));
    wait_active(client, stream).await;
    let mut children: Vec<ShardInfo> = list_shards(client, stream)
        .await
        .into_iter()
        .filter(|s| s.parent_shard_id.as_deref() == Some(shard_id))
        .collect();
    assert_eq!(children.len(), 2, "SplitShard {shard_id}: {children:?}");
    children.sort_by_key(|s| s.starting_hash_key);
    let [a, b] = <[ShardInfo; 2]>::try_from(children).expect("two children");
    (a.shard_id, b.shard_id)
}

/// Merges `shard` with `adjacent` (ranges next to each other), waits until the stream is
/// ACTIVE again, and returns the child's id. Plain moto needs `adjacent`'s range above
/// `shard`'s (the other order gives the child a wrong range); Kinesis and
/// kinesalite take either.
pub async fn merge_shards(client: &Client, stream: &str, shard: &str, adjacent: &str) -> String {
    client
        .merge_shards()
        .stream_name(stream)
        .shard_to_merge(shard)
        .adjacent_shard_to_merge(adjacent)
        .send()
        .await
        .unwrap_or_else(|e| panic!("MergeShards {shard} + {adjacent} of {stream}: {e:?}"));
    wait_active(client, stream).await;
    let children: Vec<ShardInfo> = list_shards(client, stream)
        .await
        .into_iter()
        .filter(|s| s.parents() == [shard, adjacent])
        .collect();
    assert_eq!(children.len(), 1, "MergeShards {shard} + {adjacent}");
    children[0].shard_id.clone()
}

/// What GetRecords gave for one shard, from TRIM_HORIZON on.
#[derive(Clone, Debug)]
pub struct ShardRead {
    pub records: Vec<Record>,
    /// `Some` when a GetRecords reply had no NextShardIterator (the end of a closed shard): the
    /// ChildShards it listed. `None` when the reads stopped at the tip of a shard still taking
    /// records (an empty reply, MillisBehindLatest 0); plain moto ends even a closed shard so.
    pub children: Option<Vec<String>>,
    /// How many GetRecords calls it took.
    pub calls: usize,
}

/// Reads one shard from TRIM_HORIZON to its end or its tip, `limit` records a call at most.
pub async fn read_shard(client: &Client, stream: &str, shard_id: &str, limit: i32) -> ShardRead {
    let mut iterator = client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard_id)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetShardIterator {shard_id} of {stream}: {e:?}"))
        .shard_iterator()
        .expect("a shard iterator")
        .to_owned();
    let mut read = ShardRead {
        records: Vec::new(),
        children: None,
        calls: 0,
    };
    loop {
        assert!(read.calls < 100_000, "{shard_id} of {stream} never ends");
        let reply = client
            .get_records()
            .shard_iterator(&iterator)
            .limit(limit)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetRecords {shard_id} of {stream}: {e:?}"));
        read.calls += 1;
        let empty = reply.records().is_empty();
        read.records.extend_from_slice(reply.records());
        match reply.next_shard_iterator() {
            None => {
                read.children = Some(
                    reply
                        .child_shards()
                        .iter()
                        .map(|c| c.shard_id().to_owned())
                        .collect(),
                );
                return read;
            }
            Some(_) if empty && reply.millis_behind_latest().unwrap_or(0) == 0 => return read,
            Some(next) => iterator = next.to_owned(),
        }
    }
}

/// Every record's data in the stream: each shard (closed ones too, in ListShards order, parents
/// before their children) from TRIM_HORIZON to its end or its tip.
pub async fn read_all(client: &Client, stream: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for s in list_shards(client, stream).await {
        let read = read_shard(client, stream, &s.shard_id, 10_000).await;
        out.extend(read.records.into_iter().map(|r| r.data.into_inner()));
    }
    out
}

/// The magic bytes that open a KPL-aggregated record.
pub const KPL_MAGIC: [u8; 4] = [0xF3, 0x89, 0x9A, 0xC2];

/// One Kinesis record holding `(partition key, data)` records as the Kinesis Producer Library
/// aggregates them: the magic bytes, the protobuf
///
/// ```text
/// message AggregatedRecord {
///   repeated string partition_key_table = 1;
///   repeated string explicit_hash_key_table = 2;   // none written
///   repeated Record records = 3;
/// }
/// message Record {
///   required uint64 partition_key_index = 1;
///   optional uint64 explicit_hash_key_index = 2;   // none written
///   required bytes data = 3;
///   repeated Tag tags = 4;                          // none written
/// }
/// ```
///
/// and the 16-byte MD5 of the protobuf bytes. Each distinct partition key is in the table once;
/// put the result with any partition key (the KPL uses the first record's).
pub fn kpl_aggregate<K: AsRef<str>, D: AsRef<[u8]>>(records: &[(K, D)]) -> Vec<u8> {
    let mut keys: Vec<&str> = Vec::new();
    let mut message = Vec::new();
    let mut entries = Vec::new();
    for (key, data) in records {
        let index = match keys.iter().position(|k| *k == key.as_ref()) {
            Some(i) => i,
            None => {
                keys.push(key.as_ref());
                keys.len() - 1
            }
        };
        let mut record = Vec::new();
        varint(1 << 3, &mut record);
        varint(index as u64, &mut record);
        length_delimited(3, data.as_ref(), &mut record);
        entries.push(record);
    }
    for key in &keys {
        length_delimited(1, key.as_bytes(), &mut message);
    }
    for record in &entries {
        length_delimited(3, record, &mut message);
    }
    let mut out = KPL_MAGIC.to_vec();
    out.extend_from_slice(&message);
    out.extend_from_slice(&md5::Md5::digest(&message));
    out
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A field of wire type 2 (length-delimited): key, length, bytes.
fn length_delimited(field: u64, bytes: &[u8], out: &mut Vec<u8>) {
    varint(field << 3 | 2, out);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads the layout back by the same rules: `(partition key, data)` per record.
    fn decode(aggregated: &[u8]) -> Vec<(String, Vec<u8>)> {
        let body = aggregated.strip_prefix(&KPL_MAGIC[..]).expect("magic");
        let (message, digest) = body.split_at(body.len() - 16);
        assert_eq!(md5::Md5::digest(message).as_slice(), digest, "MD5 trailer");
        let (mut keys, mut records) = (Vec::new(), Vec::new());
        let mut m = message;
        while !m.is_empty() {
            let (field, value) = read_field(&mut m);
            match field {
                1 => keys.push(String::from_utf8(value.to_vec()).expect("key")),
                3 => {
                    let (mut r, mut index, mut data) = (value, None, None);
                    while !r.is_empty() {
                        let key = read_varint(&mut r);
                        match key {
                            0x08 => index = Some(read_varint(&mut r) as usize),
                            0x1a => {
                                let n = read_varint(&mut r) as usize;
                                data = Some(r[..n].to_vec());
                                r = &r[n..];
                            }
                            other => panic!("unexpected record field key {other:#x}"),
                        }
                    }
                    records.push((index.expect("partition_key_index"), data.expect("data")));
                }
                other => panic!("unexpected field {other}"),
            }
        }
        records
            .into_iter()
            .map(|(i, data)| (keys[i].clone(), data))
            .collect()
    }

    fn read_varint(b: &mut &[u8]) -> u64 {
        let (mut v, mut shift) = (0u64, 0);
        loop {
            let (&byte, rest) = b.split_first().expect("varint");
            *b = rest;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return v;
            }
            shift += 7;
        }
    }

    fn read_field<'a>(b: &mut &'a [u8]) -> (u64, &'a [u8]) {
        let key = read_varint(b);
        assert_eq!(key & 7, 2, "length-delimited");
        let n = read_varint(b) as usize;
        let (value, rest) = b.split_at(n);
        *b = rest;
        (key >> 3, value)
    }

    fn sample() -> Vec<(String, Vec<u8>)> {
        let mut records = vec![
            ("alpha".to_owned(), b"one".to_vec()),
            ("beta".to_owned(), Vec::new()),
            ("alpha".to_owned(), vec![0xF3, 0x89, 0x9A, 0xC2, 0, 255]),
        ];
        // A record past 127 and 16383 bytes: two- and three-byte length varints.
        records.push(("gamma".to_owned(), vec![7; 300]));
        records.push((
            "delta".to_owned(),
            (0..20_000u32).map(|i| i as u8).collect(),
        ));
        records
    }

    #[test]
    fn kpl_aggregate_decodes_by_the_same_rules() {
        let records = sample();
        let aggregated = kpl_aggregate(&records);
        assert_eq!(aggregated[..4], KPL_MAGIC);
        assert_eq!(decode(&aggregated), records);
        // Each distinct key once, in first-seen order.
        let body = &aggregated[4..aggregated.len() - 16];
        assert_eq!(&body[..7], b"\x0a\x05alpha");
        assert_eq!(&body[7..13], b"\x0a\x04beta");
        assert_eq!(decode(&kpl_aggregate::<&str, &[u8]>(&[])), vec![]);
    }

    #[test]
    fn varints_are_little_endian_base_128() {
        let mut out = Vec::new();
        for v in [0, 1, 127, 128, 300, 16_384, u64::MAX] {
            varint(v, &mut out);
        }
        assert_eq!(
            out,
            [
                &[0x00][..],
                &[0x01],
                &[0x7f],
                &[0x80, 0x01],
                &[0xac, 0x02],
                &[0x80, 0x80, 0x01],
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ]
            .concat()
        );
    }

    /// The data plane's de-aggregator (`dataplane::process::deaggregate::kpl`) reads what this
    /// writes.
    #[test]
    fn hydrant_deaggregates_it() {
        let records = sample();
        let aggregated = kpl_aggregate(&records);
        let parts = dataplane::process::deaggregate::kpl(&aggregated).expect("a valid KPL record");
        let data: Vec<&[u8]> = records.iter().map(|(_, d)| d.as_slice()).collect();
        assert_eq!(parts, data);
    }
}
