//! `firehose-put`: puts records with aws-sdk-firehose, as a producer would, and prints how many
//! were acknowledged. The cluster tests run it inside the cluster's network namespace, where the
//! stream's `status.endpoint` resolves through CoreDNS.
//!
//! Usage: firehose-put ENDPOINT STREAM PREFIX COUNT [TEMPLATE] (keys from AWS_ACCESS_KEY_ID and
//! AWS_SECRET_ACCESS_KEY)
//! Record ids are `PREFIX-<i>` for i in 0..COUNT; each record is TEMPLATE with `{id}` replaced
//! by its id and `{i}` by i (default `{id}` and a newline: JSON or other shapes for
//! destinations that need them). They are sent with PutRecordBatch in batches of 100; each
//! batch is retried until every record is acknowledged or 60 s pass. Prints the acknowledged ids,
//! one per line, so the caller counts exactly what it may expect at the destination.

use std::time::{Duration, Instant};

use aws_sdk_firehose::config::timeout::TimeoutConfig;
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (endpoint, stream, prefix, count, template) = match args.as_slice() {
        [_, e, s, p, c] => (e, s, p, c, "{id}\n"),
        [_, e, s, p, c, t] => (e, s, p, c, t.as_str()),
        _ => {
            eprintln!("usage: firehose-put ENDPOINT STREAM PREFIX COUNT [TEMPLATE]");
            std::process::exit(2);
        }
    };
    let count: usize = count.parse().expect("COUNT is a number");
    // Signed with the producer's keys, as any SDK reads them.
    let key = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_default();
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_default();
    // A request in flight when its pod goes away (a rollout, a scale-down) can wait forever for
    // an answer that will not come: bound each attempt, as a producer should, and retry.
    let base = harness::firehose_client(endpoint, &key, &secret);
    let client = aws_sdk_firehose::Client::from_conf(
        base.config()
            .to_builder()
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_secs(10))
                    .build(),
            )
            .build(),
    );
    let ids: Vec<(String, String)> = (0..count)
        .map(|i| {
            let id = format!("{prefix}-{i}");
            let data = template.replace("{id}", &id).replace("{i}", &i.to_string());
            (id, data)
        })
        .collect();
    for chunk in ids.chunks(100) {
        let mut pending: Vec<&(String, String)> = chunk.iter().collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !pending.is_empty() {
            let records = pending
                .iter()
                .map(|(_, data)| {
                    Record::builder()
                        .data(Blob::new(data.as_bytes()))
                        .build()
                        .expect("record")
                })
                .collect::<Vec<_>>();
            let put = client
                .put_record_batch()
                .delivery_stream_name(stream)
                .set_records(Some(records))
                .send()
                .await;
            match put {
                Ok(out) => {
                    let mut failed = Vec::new();
                    for (record, r) in pending.iter().zip(out.request_responses()) {
                        if r.error_code().is_some() {
                            failed.push(*record);
                        } else {
                            println!("{}", record.0);
                        }
                    }
                    pending = failed;
                }
                Err(e) => eprintln!(
                    "put failed, retrying: {}",
                    aws_sdk_firehose::error::DisplayErrorContext(&e)
                ),
            }
            if !pending.is_empty() {
                assert!(
                    Instant::now() < deadline,
                    "records not acknowledged within 60 s"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}
