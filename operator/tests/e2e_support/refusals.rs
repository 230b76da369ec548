//! The API server refuses what the CRD's schema and CEL rules forbid, with their messages, and
//! accepts what they allow.

use kube::Api;
use kube::api::{Patch, PatchParams};

use crds::DeliveryStream;
use harness::operator_env as support;

use super::{NS, apply_stream, stream_yaml};

/// Invalid manifests are refused with the intended messages.
pub async fn invalid_manifests_are_refused(admin: &kube::Client, moto: &support::moto::Moto) {
    let refused = apply_stream(
        admin,
        &stream_yaml(
            "both",
            "b-bucket",
            &moto.endpoint(),
            "  replicas: 2\n  autoscaling: {minReplicas: 1, maxReplicas: 3}\n",
        ),
    )
    .await
    .expect_err("replicas and autoscaling");
    assert!(
        refused
            .to_string()
            .contains("set either spec.replicas or spec.autoscaling"),
        "{refused}"
    );
    let refused = apply_stream(
        admin,
        &stream_yaml("big", "b-bucket", &moto.endpoint(), "")
            .replace("sizeInMBs: 1", "sizeInMBs: 500"),
    )
    .await
    .expect_err("size bound");
    assert!(refused.to_string().contains("sizeInMBs"), "{refused}");
    let refused = apply_stream(
        admin,
        &stream_yaml("dotted.name", "b-bucket", &moto.endpoint(), ""),
    )
    .await
    .expect_err("name");
    assert!(refused.to_string().contains("DNS label"), "{refused}");
    // The source's CEL rules.
    let kinesis = |name: &str, fields: &str| {
        stream_yaml(
            name,
            "b-bucket",
            &moto.endpoint(),
            &format!("  source:\n    kinesisStream: {{{fields}}}\n"),
        )
    };
    for (name, fields, message) in [
        (
            "arn-and-name",
            "streamArn: \"arn:aws:kinesis:us-east-1:123456789012:stream/s\", streamName: s",
            "set exactly one of streamArn and streamName",
        ),
        (
            "no-stream",
            "region: us-east-1",
            "set exactly one of streamArn and streamName",
        ),
        (
            "no-timestamp",
            "streamName: s, startingPosition: AT_TIMESTAMP",
            "startingPosition AT_TIMESTAMP needs a timestamp",
        ),
        (
            "stray-timestamp",
            "streamName: s, timestamp: \"2026-01-31T08:00:00Z\"",
            "timestamp is only read with startingPosition AT_TIMESTAMP",
        ),
    ] {
        let refused = apply_stream(admin, &kinesis(name, fields))
            .await
            .expect_err(name);
        assert!(refused.to_string().contains(message), "{name}: {refused}");
    }
    let on_claims = stream_yaml(
        "kafka-on-claims",
        "b-bucket",
        &moto.endpoint(),
        "  source:\n    kafka: {bootstrapServers: \"b:9092\", topic: t}\n",
    )
    .replace(
        "buffer: {maxBytes: 64Mi}",
        "buffer: {maxBytes: 64Mi, storage: {persistentVolumeClaim: {}}}",
    );
    let refused = apply_stream(admin, &on_claims)
        .await
        .expect_err("a source on claims");
    assert!(
        refused
            .to_string()
            .contains("persistentVolumeClaim adds nothing to a kinesisStream or kafka source"),
        "{refused}"
    );
    // What the rules allow, the API server takes (a dry run: no operator runs yet).
    for yaml in [
        kinesis(
            "at-timestamp",
            "streamName: s, startingPosition: AT_TIMESTAMP, timestamp: \"2026-01-31T08:00:00Z\"",
        ),
        on_claims.replace("persistentVolumeClaim: {}", "emptyDir: {}"),
    ] {
        let value: serde_json::Value = serde_saphyr::from_str(&yaml).expect("yaml");
        let api: Api<DeliveryStream> = Api::namespaced(admin.clone(), NS);
        let name = value["metadata"]["name"].as_str().expect("name").to_owned();
        api.patch(
            &name,
            &PatchParams::apply("e2e").dry_run(),
            &Patch::Apply(&value),
        )
        .await
        .unwrap_or_else(|e| panic!("{name} refused: {e}"));
    }
}
