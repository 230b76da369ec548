//! Sources, DeliveryStreamType, and server-side encryption.

use crds::firehose::{FaultKind, encryption_input, from_create};
use crds::{KeyType, Source, StartingPosition};
use serde_json::json;

use crate::support::*;

const STREAM_ARN: &str = "arn:aws:kinesis:eu-west-1:123456789012:stream/clicks";

pub fn kinesis() -> serde_json::Value {
    let mut r = ext_s3(json!({}));
    r["DeliveryStreamType"] = json!("KinesisStreamAsSource");
    r["KinesisStreamSourceConfiguration"] =
        json!({"KinesisStreamARN": STREAM_ARN, "RoleARN": ROLE});
    r
}

pub fn msk(extra: serde_json::Value) -> serde_json::Value {
    let mut r = ext_s3(json!({}));
    r["DeliveryStreamType"] = json!("MSKAsSource");
    let mut m = json!({
        "MSKClusterARN": "arn:aws:kafka:eu-west-1:123456789012:cluster/c/uuid",
        "TopicName": "orders",
        "AuthenticationConfiguration": {"RoleARN": ROLE, "Connectivity": "PUBLIC"},
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        m[k] = v;
    }
    r["MSKSourceConfiguration"] = m;
    r
}

#[test]
fn direct_put_is_the_default_and_its_throughput_hint_is_only_reported() {
    let mut r = ext_s3(json!({}));
    r["DirectPutSourceConfiguration"] = json!({"ThroughputHintInMBs": 20});
    let t = create(&r, &store());
    assert_eq!(t.spec.source, Source::default());
    assert_eq!(
        t.kept["Source"],
        json!({"DirectPutSourceDescription": {"ThroughputHintInMBs": 20}})
    );
    assert!(
        refused(
            &{
                let mut r = r.clone();
                r["DirectPutSourceConfiguration"]["ThroughputHintInMBs"] = json!(101);
                r
            },
            &store()
        )
        .contains("at 'DirectPutSourceConfiguration.ThroughputHintInMBs'")
    );
}

#[test]
fn a_kinesis_stream_source_reads_the_stream_at_the_installation_s_endpoint() {
    let t = create(&kinesis(), &store());
    let Source::KinesisStream(k) = &t.spec.source else {
        panic!()
    };
    assert_eq!(k.stream_arn.as_deref(), Some(STREAM_ARN));
    assert_eq!(k.endpoint.as_deref(), Some("http://kinesis:4567"));
    assert_eq!(k.starting_position, StartingPosition::Latest);
    let d = described(&t, "s", &store());
    assert_eq!(d["DeliveryStreamType"], "KinesisStreamAsSource");
    let s = &d["Source"]["KinesisStreamSourceDescription"];
    assert_eq!(s["KinesisStreamARN"], STREAM_ARN);
    assert_eq!(s["RoleARN"], ROLE);
    assert_eq!(s["DeliveryStartTimestamp"], 1_700_000_000.0);
    let none = create(&kinesis(), &laptop_with_store());
    let Source::KinesisStream(k) = &none.spec.source else {
        panic!()
    };
    assert_eq!(k.endpoint, None);
}

#[test]
fn an_msk_source_reads_the_installation_s_kafka() {
    let t = create(
        &msk(json!({"ReadFromTimestamp": 1_700_000_000.25})),
        &store(),
    );
    let Source::Kafka(k) = &t.spec.source else {
        panic!()
    };
    assert_eq!(k.bootstrap_servers, "kafka:9092");
    assert_eq!(k.topic, "orders");
    assert_eq!(
        k.read_from_timestamp.as_deref(),
        Some("2023-11-14T22:13:20.250Z")
    );
    let msk_kept = &t.kept["Source"]["MSKSourceDescription"];
    assert_eq!(
        msk_kept["MSKClusterARN"],
        "arn:aws:kafka:eu-west-1:123456789012:cluster/c/uuid"
    );
    assert_eq!(
        msk_kept["AuthenticationConfiguration"]["Connectivity"],
        "PUBLIC"
    );
    let d = described(&t, "s", &store());
    assert_eq!(
        d["Source"]["MSKSourceDescription"]["ReadFromTimestamp"],
        1_700_000_000.25
    );
    assert_eq!(
        refused(&msk(json!({})), &laptop_with_store()),
        "MSKSourceConfiguration.MSKClusterARN: MSK cluster ARNs cannot be resolved here: configure the Kafka bootstrap servers Hydrant reads MSK clusters from"
    );
}

#[test]
fn the_stream_type_must_agree_with_the_source() {
    let mut r = kinesis();
    r.as_object_mut().unwrap().remove("DeliveryStreamType");
    assert_eq!(
        refused(&r, &store()),
        "KinesisStreamSourceConfiguration is only valid with DeliveryStreamType KinesisStreamAsSource, not DirectPut"
    );
    let mut r = kinesis();
    r.as_object_mut()
        .unwrap()
        .remove("KinesisStreamSourceConfiguration");
    assert_eq!(
        refused(&r, &store()),
        "DeliveryStreamType KinesisStreamAsSource requires KinesisStreamSourceConfiguration"
    );
    let mut r = msk(json!({}));
    r["DeliveryStreamType"] = json!("KinesisStreamAsSource");
    assert_eq!(
        refused(&r, &store()),
        "MSKSourceConfiguration is only valid with DeliveryStreamType MSKAsSource, not KinesisStreamAsSource"
    );
    let mut r = ext_s3(json!({}));
    r["DeliveryStreamType"] = json!("DatabaseAsSource");
    assert_eq!(
        refused(&r, &store()),
        "DeliveryStreamType DatabaseAsSource is not supported by Hydrant"
    );
    let mut r = kinesis();
    r["KinesisStreamSourceConfiguration"]["KinesisStreamARN"] =
        json!("arn:aws:kinesis:eu-west-1:1:stream/x");
    assert!(
        refused(&r, &store()).contains("at 'KinesisStreamSourceConfiguration.KinesisStreamARN'")
    );
}

const KEY: &str = "arn:aws:kms:eu-west-1:123456789012:key/0f1e2d3c-aaaa-bbbb";

#[test]
fn encryption_customer_keys_name_their_secret() {
    let e = encryption_input(&json!({"DeliveryStreamEncryptionConfigurationInput": {"KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": KEY}}), &store())
        .unwrap()
        .unwrap();
    assert_eq!(e.key_type, KeyType::CustomerManagedCmk);
    assert_eq!(e.key_arn.as_deref(), Some(KEY));
    assert_eq!(e.key_secret.as_deref(), Some("kms-0f1e2d3c-aaaa-bbbb"));
    let owned = encryption_input(&json!({"KeyType": "AWS_OWNED_CMK"}), &store())
        .unwrap()
        .unwrap();
    assert_eq!(
        (owned.key_type, owned.key_secret),
        (KeyType::AwsOwnedCmk, None)
    );
    assert_eq!(
        encryption_input(&json!({"DeliveryStreamName": "s"}), &store()).unwrap(),
        None
    );
    let err = |input| encryption_input(&input, &store()).unwrap_err();
    let f = err(json!({"KeyType": "CUSTOMER_MANAGED_CMK"}));
    assert_eq!(
        (f.kind, f.message.as_str()),
        (
            FaultKind::InvalidArgument,
            "DeliveryStreamEncryptionConfigurationInput: KeyARN is required when KeyType is CUSTOMER_MANAGED_CMK"
        )
    );
    let f = err(json!({"KeyType": "AWS_OWNED_CMK", "KeyARN": KEY}));
    assert_eq!(
        f.message,
        "DeliveryStreamEncryptionConfigurationInput: KeyARN must not be given when KeyType is AWS_OWNED_CMK"
    );
    let f = err(
        json!({"KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": "arn:aws:kms:eu-west-1:123456789012:key/UPPER"}),
    );
    assert_eq!(f.kind, FaultKind::InvalidKmsResource);
    assert_eq!(f.kind.type_name(), "InvalidKMSResourceException");
    assert!(err(json!({"KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": "arn:aws:kms:eu-west-1:123456789012:alias/a"})).message.contains("regular expression pattern"));
}

#[test]
fn encryption_at_create_is_for_direct_put_and_is_described() {
    let mut r = ext_s3(json!({}));
    r["DeliveryStreamEncryptionConfigurationInput"] =
        json!({"KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": KEY});
    let t = create(&r, &store());
    assert_eq!(
        t.spec.encryption.as_ref().unwrap().key_secret.as_deref(),
        Some("kms-0f1e2d3c-aaaa-bbbb")
    );
    let d = described(&t, "s", &store());
    assert_eq!(
        d["DeliveryStreamEncryptionConfiguration"],
        json!({"KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": KEY, "Status": "ENABLED"})
    );
    let mut k = kinesis();
    k["DeliveryStreamEncryptionConfigurationInput"] = json!({"KeyType": "AWS_OWNED_CMK"});
    assert_eq!(
        from_create(&k, &store()).unwrap_err().message,
        "DeliveryStreamEncryptionConfigurationInput: server-side encryption is not supported for KinesisStreamAsSource delivery streams"
    );
}
