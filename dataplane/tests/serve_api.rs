//! `hydrant serve`: the whole Firehose API on one endpoint, driven by unmodified clients —
//! boto3, the AWS CLI and aws-sdk-firehose — through the stream lifecycle, restarts and kill -9.

use harness as common;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::{
    BufferingHints, DeliveryStreamStatus, ExtendedS3DestinationConfiguration, Record,
};
use common::serve::{Serve, aws_cli, run_python};

fn record(data: String) -> Record {
    Record::builder()
        .data(Blob::new(data.into_bytes()))
        .build()
        .expect("record")
}

/// Every JSON line `{"n": ...}` under `dir`, counted by value.
fn delivered(dir: &Path) -> HashMap<u64, u32> {
    let mut out = HashMap::new();
    for entry in walkdir(dir) {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        for line in text.lines().filter(|l| !l.is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).expect("delivered json line");
            *out.entry(v["n"].as_u64().expect("n")).or_default() += 1;
        }
    }
    out
}

fn walkdir(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else {
            out.push(p);
        }
    }
    out
}

async fn wait_status(client: &aws_sdk_firehose::Client, name: &str, want: DeliveryStreamStatus) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // A manifest placed by hand appears at the next look at the directory.
        let status = match client
            .describe_delivery_stream()
            .delivery_stream_name(name)
            .send()
            .await
        {
            Ok(d) => Some(
                d.delivery_stream_description()
                    .expect("description")
                    .delivery_stream_status()
                    .clone(),
            ),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                None
            }
            Err(e) => panic!("describe: {e:?}"),
        };
        if status.as_ref() == Some(&want) {
            return;
        }
        assert!(Instant::now() < deadline, "{name} stayed {status:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn s3_config(interval: i32) -> ExtendedS3DestinationConfiguration {
    ExtendedS3DestinationConfiguration::builder()
        .role_arn("arn:aws:iam::000000000000:role/firehose")
        .bucket_arn("arn:aws:s3:::events")
        .buffering_hints(
            BufferingHints::builder()
                .size_in_mbs(1)
                .interval_in_seconds(interval)
                .build(),
        )
        .build()
        .expect("config")
}

#[tokio::test]
async fn boto3_runs_a_whole_integration_test_unchanged() {
    let tmp = tempfile::tempdir().expect("tmp");
    let serve = Serve::start(tmp.path(), &[]).await;
    let script = common::workspace_root().join("tests/aws-clients/lifecycle.py");
    let buckets = serve.data_dir.join("buckets");
    let out = run_python(
        tmp.path(),
        &script,
        &[&serve.url(), buckets.to_str().expect("utf-8 path")],
    );
    let summary: serde_json::Value =
        serde_json::from_str(out.trim().lines().last().unwrap_or("")).expect("summary");
    eprintln!("boto3 lifecycle: {summary}");
    assert!(summary["sent"].as_u64() > Some(1000), "{summary}");
    assert!(summary["delivered"].as_u64() >= summary["sent"].as_u64());
}

#[tokio::test]
async fn the_aws_cli_manages_and_feeds_a_stream() {
    let tmp = tempfile::tempdir().expect("tmp");
    let serve = Serve::start(tmp.path(), &[]).await;
    let url = serve.url();
    let cli = |args: &[&str]| aws_cli(tmp.path(), &url, args);
    let created = cli(&[
        "firehose",
        "create-delivery-stream",
        "--delivery-stream-name",
        "cli-stream",
        "--extended-s3-destination-configuration",
        r#"{"RoleARN":"arn:aws:iam::000000000000:role/f","BucketARN":"arn:aws:s3:::cli-bucket","BufferingHints":{"SizeInMBs":1,"IntervalInSeconds":1}}"#,
    ])
    .expect("create");
    assert!(created.contains("deliverystream/cli-stream"), "{created}");
    let err = cli(&[
        "firehose",
        "create-delivery-stream",
        "--delivery-stream-name",
        "cli-stream",
        "--extended-s3-destination-configuration",
        r#"{"RoleARN":"arn:aws:iam::000000000000:role/f","BucketARN":"arn:aws:s3:::cli-bucket"}"#,
    ])
    .expect_err("duplicate");
    assert!(err.contains("ResourceInUseException"), "{err}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = cli(&[
            "firehose",
            "describe-delivery-stream",
            "--delivery-stream-name",
            "cli-stream",
        ])
        .expect("describe");
        if d.contains("\"ACTIVE\"") {
            break;
        }
        assert!(Instant::now() < deadline, "not ACTIVE: {d}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for n in 0..20 {
        let put = cli(&[
            "firehose",
            "put-record",
            "--delivery-stream-name",
            "cli-stream",
            "--record",
            &format!(r#"{{"Data":"{{\"n\":{n}}}\n"}}"#),
        ])
        .expect("put-record");
        assert!(put.contains("RecordId"), "{put}");
    }
    let listed = cli(&["firehose", "list-delivery-streams"]).expect("list");
    assert!(listed.contains("cli-stream"), "{listed}");
    cli(&[
        "firehose",
        "tag-delivery-stream",
        "--delivery-stream-name",
        "cli-stream",
        "--tags",
        "Key=owner,Value=cli",
    ])
    .expect("tag");
    let tags = cli(&[
        "firehose",
        "list-tags-for-delivery-stream",
        "--delivery-stream-name",
        "cli-stream",
    ])
    .expect("tags");
    assert!(tags.contains("\"owner\""), "{tags}");
    let missing = cli(&[
        "firehose",
        "describe-delivery-stream",
        "--delivery-stream-name",
        "nope",
    ])
    .expect_err("missing");
    assert!(missing.contains("ResourceNotFoundException"), "{missing}");
    cli(&[
        "firehose",
        "delete-delivery-stream",
        "--delivery-stream-name",
        "cli-stream",
    ])
    .expect("delete");
    let deadline = Instant::now() + Duration::from_secs(60);
    while cli(&[
        "firehose",
        "describe-delivery-stream",
        "--delivery-stream-name",
        "cli-stream",
    ])
    .is_ok()
    {
        assert!(Instant::now() < deadline, "not deleted:\n{}", serve.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let got = delivered(&serve.data_dir.join("buckets/cli-bucket"));
    assert_eq!(got.len(), 20, "delivered {got:?}");
}

#[tokio::test]
async fn streams_and_their_undelivered_records_survive_kill_9() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut serve = Serve::start(tmp.path(), &[]).await;
    let client = serve.firehose();
    client
        .create_delivery_stream()
        .delivery_stream_name("durable")
        .extended_s3_destination_configuration(s3_config(900))
        .send()
        .await
        .expect("create");
    wait_status(&client, "durable", DeliveryStreamStatus::Active).await;
    let mut n = 0u64;
    let mut put = async |client: &aws_sdk_firehose::Client, count: u64| {
        for _ in 0..count / 100 {
            let records: Vec<Record> = (0..100)
                .map(|i| record(format!("{{\"n\":{}}}\n", n + i)))
                .collect();
            let r = client
                .put_record_batch()
                .delivery_stream_name("durable")
                .set_records(Some(records))
                .send()
                .await
                .expect("put");
            assert_eq!(r.failed_put_count(), 0);
            n += 100;
        }
    };
    put(&client, 500).await;
    // The records sit in the log (a 900 s interval): kill -9 before anything is delivered.
    serve.kill9();
    serve.restart().await;
    let client = serve.firehose();
    wait_status(&client, "durable", DeliveryStreamStatus::Active).await;
    let d = client
        .describe_delivery_stream()
        .delivery_stream_name("durable")
        .send()
        .await
        .expect("describe");
    assert_eq!(
        d.delivery_stream_description().expect("d").version_id(),
        "1"
    );
    put(&client, 500).await;
    // SIGTERM delivers everything buffered before exiting.
    let status = serve.terminate(Duration::from_secs(60)).await;
    assert!(status.success(), "exit {status}:\n{}", serve.log());
    let got = delivered(&serve.data_dir.join("buckets/events"));
    let missing: Vec<u64> = (0..n).filter(|i| !got.contains_key(i)).collect();
    let duplicates: u32 = got.values().map(|c| c - 1).sum();
    eprintln!(
        "acknowledged {n}, delivered {}, duplicates {duplicates}",
        got.len()
    );
    assert!(
        missing.is_empty(),
        "lost {} records, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}

#[tokio::test]
async fn manifests_in_the_streams_directory_are_streams_too() {
    let tmp = tempfile::tempdir().expect("tmp");
    let serve = Serve::start(tmp.path(), &[]).await;
    let client = serve.firehose();
    let out = tmp.path().join("out");
    let manifest = |prefix: &str| {
        format!(
            "apiVersion: hydrant.dev/v1alpha1\nkind: DeliveryStream\nmetadata:\n  name: by-hand\nspec:\n  destination:\n    local:\n      directory: {}\n      prefix: {prefix}\n      bufferingHints: {{sizeInMBs: 1, intervalInSeconds: 1}}\n",
            out.display()
        )
    };
    let file = serve.data_dir.join("streams/by-hand.yaml");
    std::fs::write(&file, manifest("one/")).expect("write manifest");
    wait_status(&client, "by-hand", DeliveryStreamStatus::Active).await;
    client
        .put_record()
        .delivery_stream_name("by-hand")
        .record(record("{\"n\":1}\n".into()))
        .send()
        .await
        .expect("put");
    // An edit is an update: a new version, the new prefix.
    std::fs::write(&file, manifest("two/")).expect("edit manifest");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = client
            .describe_delivery_stream()
            .delivery_stream_name("by-hand")
            .send()
            .await
            .expect("describe");
        let d = d.delivery_stream_description().expect("d");
        if d.version_id() == "2" && d.delivery_stream_status() == &DeliveryStreamStatus::Active {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "edit not picked up:\n{}",
            serve.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    client
        .put_record()
        .delivery_stream_name("by-hand")
        .record(record("{\"n\":2}\n".into()))
        .send()
        .await
        .expect("put after edit");
    // Removing the file deletes the stream, after it delivered what it held.
    std::fs::remove_file(&file).expect("remove manifest");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listed = client.list_delivery_streams().send().await.expect("list");
        if listed.delivery_stream_names().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "not deleted:\n{}", serve.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(delivered(&out.join("one")).len(), 1, "{}", serve.log());
    assert_eq!(delivered(&out.join("two")).len(), 1, "{}", serve.log());
}

#[tokio::test]
async fn the_stream_limit_is_enforced() {
    let tmp = tempfile::tempdir().expect("tmp");
    let serve = Serve::start(tmp.path(), &["--max-streams", "2"]).await;
    let client = serve.firehose();
    for name in ["one", "two"] {
        client
            .create_delivery_stream()
            .delivery_stream_name(name)
            .extended_s3_destination_configuration(s3_config(60))
            .send()
            .await
            .expect("create");
    }
    let err = client
        .create_delivery_stream()
        .delivery_stream_name("three")
        .extended_s3_destination_configuration(s3_config(60))
        .send()
        .await
        .expect_err("over the limit");
    let err = err.into_service_error();
    assert!(err.is_limit_exceeded_exception(), "{err:?}");
    // One exposition for every stream: each family announced once, each stream labelled.
    wait_status(&client, "two", DeliveryStreamStatus::Active).await;
    let metrics = serve.metrics().await;
    let mut helps: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("# HELP "))
        .collect();
    let all = helps.len();
    helps.sort();
    helps.dedup();
    assert_eq!(all, helps.len(), "a metric family announced twice");
    for name in ["one", "two"] {
        assert!(
            metrics.contains(&format!("stream=\"{name}\"")),
            "no metrics of {name}:\n{metrics}"
        );
    }
}

#[tokio::test]
async fn bucket_arns_resolve_to_the_configured_s3_store() {
    let moto = common::moto::Moto::start().await;
    moto.create_bucket("lake").await;
    let tmp = tempfile::tempdir().expect("tmp");
    let endpoint = moto.endpoint();
    let mut serve = Serve::start_with_env(
        tmp.path(),
        &["--s3-endpoint", &endpoint],
        &[
            ("AWS_ACCESS_KEY_ID", "moto"),
            ("AWS_SECRET_ACCESS_KEY", "moto"),
        ],
    )
    .await;
    let client = serve.firehose();
    let config = ExtendedS3DestinationConfiguration::builder()
        .role_arn("arn:aws:iam::000000000000:role/firehose")
        .bucket_arn("arn:aws:s3:::lake")
        .prefix("events/")
        .compression_format(aws_sdk_firehose::types::CompressionFormat::Gzip)
        .build()
        .expect("config");
    client
        .create_delivery_stream()
        .delivery_stream_name("to-lake")
        .extended_s3_destination_configuration(config)
        .send()
        .await
        .expect("create");
    wait_status(&client, "to-lake", DeliveryStreamStatus::Active).await;
    for batch in 0..3 {
        let records: Vec<Record> = (0..100)
            .map(|i| record(format!("{{\"n\":{}}}\n", batch * 100 + i)))
            .collect();
        client
            .put_record_batch()
            .delivery_stream_name("to-lake")
            .set_records(Some(records))
            .send()
            .await
            .expect("put");
    }
    // Buffered for 300 s by default: SIGTERM delivers it.
    let status = serve.terminate(Duration::from_secs(60)).await;
    assert!(status.success(), "{}", serve.log());
    let objects: Vec<(String, Vec<u8>)> = moto
        .objects("lake")
        .await
        .into_iter()
        .map(|(k, v, _)| (k, v))
        .collect();
    assert!(
        !objects.is_empty(),
        "nothing in the bucket:\n{}",
        serve.log()
    );
    for (key, _) in &objects {
        assert!(key.starts_with("events/") && key.ends_with(".gz"), "{key}");
        assert!(key.contains("/to-lake-1-"), "Firehose's object name: {key}");
    }
    let counts = common::objects::record_counts(&objects);
    assert_eq!(counts.len(), 300, "{counts:?}");
}

#[tokio::test]
async fn encryption_at_rest_switches_on_and_off() {
    use aws_sdk_firehose::types::{DeliveryStreamEncryptionConfigurationInput, KeyType};
    let tmp = tempfile::tempdir().expect("tmp");
    let serve = Serve::start(tmp.path(), &[]).await;
    let client = serve.firehose();
    client
        .create_delivery_stream()
        .delivery_stream_name("sealed")
        .extended_s3_destination_configuration(s3_config(900))
        .send()
        .await
        .expect("create");
    wait_status(&client, "sealed", DeliveryStreamStatus::Active).await;
    let encrypted = async |client: &aws_sdk_firehose::Client| {
        client
            .put_record()
            .delivery_stream_name("sealed")
            .record(record("{\"n\":0}\n".into()))
            .send()
            .await
            .expect("put")
            .encrypted()
    };
    let status = async |client: &aws_sdk_firehose::Client| {
        let d = client
            .describe_delivery_stream()
            .delivery_stream_name("sealed")
            .send()
            .await
            .expect("describe");
        let d = d.delivery_stream_description().expect("d").clone();
        d.delivery_stream_encryption_configuration()
            .and_then(|e| e.status())
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default()
    };
    assert_eq!(encrypted(&client).await, Some(false));
    assert_eq!(status(&client).await, "DISABLED");

    // A customer key that is not there: refused, nothing changes.
    let missing = client
        .start_delivery_stream_encryption()
        .delivery_stream_name("sealed")
        .delivery_stream_encryption_configuration_input(
            DeliveryStreamEncryptionConfigurationInput::builder()
                .key_type(KeyType::CustomerManagedCmk)
                .key_arn("arn:aws:kms:us-east-1:000000000000:key/absent")
                .build()
                .expect("input"),
        )
        .send()
        .await
        .expect_err("missing key");
    assert!(
        missing
            .as_service_error()
            .is_some_and(|e| e.is_invalid_kms_resource_exception()),
        "{missing:?}"
    );

    client
        .start_delivery_stream_encryption()
        .delivery_stream_name("sealed")
        .delivery_stream_encryption_configuration_input(
            DeliveryStreamEncryptionConfigurationInput::builder()
                .key_type(KeyType::AwsOwnedCmk)
                .build()
                .expect("input"),
        )
        .send()
        .await
        .expect("start encryption");
    let deadline = Instant::now() + Duration::from_secs(30);
    while status(&client).await != "ENABLED" {
        assert!(Instant::now() < deadline, "not ENABLED:\n{}", serve.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(encrypted(&client).await, Some(true));

    // A customer key from a Secret file, named by the key ARN's id.
    let key_dir = serve.data_dir.join("secrets/kms-team-key");
    std::fs::create_dir_all(&key_dir).expect("key dir");
    std::fs::write(key_dir.join("key"), "ab".repeat(32)).expect("key");
    client
        .start_delivery_stream_encryption()
        .delivery_stream_name("sealed")
        .delivery_stream_encryption_configuration_input(
            DeliveryStreamEncryptionConfigurationInput::builder()
                .key_type(KeyType::CustomerManagedCmk)
                .key_arn("arn:aws:kms:us-east-1:000000000000:key/team-key")
                .build()
                .expect("input"),
        )
        .send()
        .await
        .expect("switch to the customer key");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = client
            .describe_delivery_stream()
            .delivery_stream_name("sealed")
            .send()
            .await
            .expect("describe");
        let e = d
            .delivery_stream_description()
            .and_then(|d| d.delivery_stream_encryption_configuration())
            .cloned()
            .expect("encryption");
        if e.status().map(|s| s.as_str()) == Some("ENABLED")
            && e.key_type() == Some(&KeyType::CustomerManagedCmk)
        {
            assert_eq!(
                e.key_arn(),
                Some("arn:aws:kms:us-east-1:000000000000:key/team-key")
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "customer key not applied:\n{}",
            serve.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(encrypted(&client).await, Some(true));

    client
        .stop_delivery_stream_encryption()
        .delivery_stream_name("sealed")
        .send()
        .await
        .expect("stop encryption");
    let deadline = Instant::now() + Duration::from_secs(30);
    while status(&client).await != "DISABLED" {
        assert!(Instant::now() < deadline, "not DISABLED:\n{}", serve.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(encrypted(&client).await, Some(false));
    // Every record put under each key is still delivered.
    let mut serve = serve;
    let status = serve.terminate(Duration::from_secs(60)).await;
    assert!(status.success(), "{}", serve.log());
    assert_eq!(
        delivered(&serve.data_dir.join("buckets/events"))
            .values()
            .sum::<u32>(),
        4
    );
}
