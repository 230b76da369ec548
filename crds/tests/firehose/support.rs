//! Environments and requests the tests share.

use crds::firehose::{
    Environment, Fault, S3Target, SecretPolicy, StreamView, Translated, describe, from_create,
};
use serde_json::{Value, json};

pub const ACCOUNT: &str = "123456789012";
pub const ROLE: &str = "arn:aws:iam::123456789012:role/firehose";

/// An installation with an S3-compatible store and every AWS name resolvable.
pub fn store() -> Environment {
    Environment {
        account: ACCOUNT.into(),
        region: "eu-west-1".into(),
        s3: S3Target::Store {
            endpoint: Some("http://minio:9000".into()),
            region: "eu-west-1".into(),
            force_path_style: true,
            credentials_secret: Some("s3-creds".into()),
        },
        lambda_endpoint: Some("http://lambda:9001".into()),
        opensearch_domain_endpoint: Some("https://{domain}.search.local:9200".into()),
        kinesis_endpoint: Some("http://kinesis:4567".into()),
        kafka_bootstrap_servers: Some("kafka:9092".into()),
        secrets: SecretPolicy::Inline,
    }
}

/// `store()` in a cluster: secrets by reference.
pub fn cluster() -> Environment {
    Environment {
        secrets: SecretPolicy::Reference,
        ..store()
    }
}

/// A laptop: no object store, nothing resolvable.
pub fn laptop() -> Environment {
    Environment {
        account: "000000000000".into(),
        region: "us-east-1".into(),
        s3: S3Target::Directory {
            root: "/data".into(),
        },
        lambda_endpoint: None,
        opensearch_domain_endpoint: None,
        kinesis_endpoint: None,
        kafka_bootstrap_servers: None,
        secrets: SecretPolicy::Inline,
    }
}

/// A store but nothing else resolvable.
pub fn laptop_with_store() -> Environment {
    Environment {
        s3: store().s3,
        ..laptop()
    }
}

/// A CreateDeliveryStream request named `s` with `members` added.
pub fn request(members: Value) -> Value {
    let mut r = json!({"DeliveryStreamName": "s"});
    for (k, v) in members.as_object().cloned().unwrap_or_default() {
        r[k] = v;
    }
    r
}

/// A minimal `ExtendedS3DestinationConfiguration` with `extra` members.
pub fn ext_s3(extra: Value) -> Value {
    let mut c = json!({"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::events"});
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        c[k] = v;
    }
    request(json!({"ExtendedS3DestinationConfiguration": c}))
}

/// A minimal S3DestinationConfiguration (for other destinations' S3Configuration).
pub fn bucket(name: &str) -> Value {
    json!({"RoleARN": ROLE, "BucketARN": format!("arn:aws:s3:::{name}")})
}

pub fn create(input: &Value, env: &Environment) -> Translated {
    from_create(input, env).unwrap_or_else(|e| panic!("{e}\n{input:#}"))
}

/// The refusal of `input`, which must be an InvalidArgumentException.
pub fn refused(input: &Value, env: &Environment) -> String {
    match from_create(input, env) {
        Ok(t) => panic!("accepted: {:#?}", t.spec),
        Err(Fault { kind, message }) => {
            assert_eq!(kind.type_name(), "InvalidArgumentException", "{message}");
            message
        }
    }
}

/// The description of `t` as a stream named `name`.
pub fn described(t: &Translated, name: &str, env: &Environment) -> Value {
    let view = StreamView {
        name,
        spec: &t.spec,
        kept: &t.kept,
        version_id: "1",
        status: "ACTIVE",
        failure: None,
        created: 1_700_000_000.0,
        updated: None,
        encryption_status: None,
    };
    describe(&view, env)
}

/// The first destination's description member `key`.
pub fn destination<'a>(d: &'a Value, key: &str) -> &'a Value {
    &d["Destinations"][0][key]
}
