//! The Firehose API driven by the unmodified aws-sdk-firehose client, anonymous and signed.

use harness as common;

use std::time::{Duration, SystemTime};

use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::{DeliveryStreamStatus, Record};
use common::{Hydrant, SIGNED_KEY_ID, SIGNED_SECRET, local_manifest, objects};

fn record(data: &str) -> Record {
    Record::builder()
        .data(Blob::new(data.as_bytes()))
        .build()
        .expect("record")
}

#[tokio::test]
async fn anonymous_mode_serves_the_data_plane_api() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut hydrant = Hydrant::start(tmp.path(), &local_manifest("clicks", "", ""), &[]).await;
    let client = hydrant.firehose();

    // SDK code that waits for ACTIVE works.
    let described = client
        .describe_delivery_stream()
        .delivery_stream_name("clicks")
        .send()
        .await
        .expect("describe");
    let d = described
        .delivery_stream_description()
        .expect("description");
    assert_eq!(d.delivery_stream_status(), &DeliveryStreamStatus::Active);
    assert_eq!(d.version_id(), "1");
    assert_eq!(
        d.delivery_stream_arn(),
        "arn:aws:firehose:us-east-1:000000000000:deliverystream/clicks"
    );
    let dest = &d.destinations()[0];
    assert_eq!(dest.destination_id(), "destinationId-000000000001");
    let ext = dest
        .extended_s3_destination_description()
        .expect("extended s3");
    let hints = ext.buffering_hints().expect("hints");
    assert_eq!(
        (hints.size_in_mbs(), hints.interval_in_seconds()),
        (Some(1), Some(1))
    );

    let listed = client.list_delivery_streams().send().await.expect("list");
    assert_eq!(listed.delivery_stream_names(), ["clicks"]);
    assert!(!listed.has_more_delivery_streams());

    let put = client
        .put_record()
        .delivery_stream_name("clicks")
        .record(record("single"))
        .send()
        .await
        .expect("put record");
    assert!(!put.record_id().is_empty());

    let batch = client
        .put_record_batch()
        .delivery_stream_name("clicks")
        .set_records(Some(
            (0..3).map(|i| record(&format!("batch-{i}"))).collect(),
        ))
        .send()
        .await
        .expect("put record batch");
    assert_eq!(batch.failed_put_count(), 0);
    assert_eq!(batch.request_responses().len(), 3);
    let ids: Vec<_> = batch
        .request_responses()
        .iter()
        .map(|r| r.record_id().expect("id").to_owned())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] != w[1]),
        "record ids are unique"
    );

    // Unknown stream: ResourceNotFoundException with AWS's message.
    let err = client
        .put_record()
        .delivery_stream_name("nope")
        .record(record("x"))
        .send()
        .await
        .expect_err("unknown stream");
    let service = err.into_service_error();
    assert!(service.is_resource_not_found_exception(), "{service:?}");
    assert_eq!(
        service.meta().message(),
        Some("Firehose nope under account 000000000000 not found.")
    );

    hydrant.wait_drained(Duration::from_secs(20)).await;
    let status = hydrant.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "exit 0 after SIGTERM");
    let delivered = objects::local_objects(&tmp.path().join("out"));
    let counts = objects::record_counts(&delivered);
    for r in ["single", "batch-0", "batch-1", "batch-2"] {
        assert_eq!(counts.get(r), Some(&1), "{r} delivered once: {counts:?}");
    }
    assert_eq!(counts.len(), 4);
}

#[tokio::test]
async fn signed_mode_verifies_signatures() {
    let tmp = tempfile::tempdir().expect("tmp");
    let hydrant = Hydrant::start_signed(tmp.path(), &[]).await;

    let good = hydrant.firehose_with(SIGNED_KEY_ID, SIGNED_SECRET);
    good.put_record()
        .delivery_stream_name("signed")
        .record(record("signed-ok"))
        .send()
        .await
        .expect("correctly signed put");

    let wrong_secret = hydrant.firehose_with(SIGNED_KEY_ID, "not-the-secret");
    let err = wrong_secret
        .put_record()
        .delivery_stream_name("signed")
        .record(record("bad"))
        .send()
        .await
        .expect_err("bad signature");
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("InvalidSignatureException")
    );

    let unknown = hydrant.firehose_with("AKIDUNKNOWN", "whatever");
    let err = unknown
        .list_delivery_streams()
        .send()
        .await
        .expect_err("unknown key");
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("UnrecognizedClientException")
    );

    // A client whose clock is 20 minutes behind: refused as expired. (With retries on, the SDK
    // corrects its clock from the response's Date header and the retry succeeds, as against AWS.)
    let skewed_config =
        good.config()
            .to_builder()
            .time_source(aws_smithy_async::time::StaticTimeSource::new(
                SystemTime::now() - Duration::from_secs(20 * 60),
            ));
    let skewed = aws_sdk_firehose::Client::from_conf(
        skewed_config
            .clone()
            .retry_config(aws_sdk_firehose::config::retry::RetryConfig::disabled())
            .build(),
    );
    let err = skewed
        .put_record()
        .delivery_stream_name("signed")
        .record(record("late"))
        .send()
        .await
        .map(|_| panic!("a skewed clock was accepted:\n{}", hydrant.log()))
        .unwrap_err();
    let err = err.into_service_error();
    assert_eq!(err.meta().code(), Some("InvalidSignatureException"));
    assert!(
        err.meta()
            .message()
            .unwrap_or("")
            .starts_with("Signature expired")
    );
    let self_correcting = aws_sdk_firehose::Client::from_conf(skewed_config.build());
    self_correcting
        .put_record()
        .delivery_stream_name("signed")
        .record(record("corrected"))
        .send()
        .await
        .expect("the SDK corrects its clock skew from our Date header");

    // An unsigned request is refused too.
    let r = reqwest::Client::new()
        .post(hydrant.ingest_url())
        .header("X-Amz-Target", "Firehose_20150804.ListDeliveryStreams")
        .header("Content-Type", "application/x-amz-json-1.1")
        .body("{}")
        .send()
        .await
        .expect("unsigned");
    assert_eq!(r.status(), 403);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["__type"], "MissingAuthenticationTokenException");

    hydrant.wait_drained(Duration::from_secs(20)).await;
    let counts = objects::record_counts(&objects::local_objects(&tmp.path().join("out")));
    assert_eq!(counts.len(), 2, "only correctly signed records: {counts:?}");
    assert!(counts.contains_key("signed-ok"));
    assert!(counts.contains_key("corrected"));
}
