//! The `DeliveryStreamDescription` DescribeDeliveryStream answers for a single-stream pod: the
//! spec translated by `crds::firehose::describe`, with the AWS names resolved from the spec's
//! own settings.

use std::time::SystemTime;

use crds::firehose::{Environment, S3Target, SecretPolicy, StreamView};
use crds::{DeliveryStreamSpec, Destination};
use serde_json::{Value, json};

use super::StreamIdentity;

/// Firehose's id of a stream's single destination.
pub const DESTINATION_ID: &str = crds::firehose::DESTINATION_ID;

pub fn description(
    identity: &StreamIdentity,
    spec: &DeliveryStreamSpec,
    created: SystemTime,
) -> Value {
    let created = created
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    // A manifest carries no AWS-only members: nothing is kept.
    let kept = json!({});
    let view = StreamView {
        name: &identity.name,
        spec,
        kept: &kept,
        version_id: &identity.version_id,
        status: "ACTIVE",
        failure: None,
        created,
        updated: None,
        encryption_status: None,
    };
    crds::firehose::describe(&view, &environment(identity, spec))
}

/// The installation as the spec itself describes it: a local directory's parent stands for the
/// bucket root (its own name for the bucket), otherwise the spec's S3 store.
fn environment(identity: &StreamIdentity, spec: &DeliveryStreamSpec) -> Environment {
    let s3 = match &spec.destination {
        Destination::Local(local) => {
            let directory = local.directory.trim_end_matches('/');
            let root = directory
                .rsplit_once('/')
                .map(|(root, _)| root)
                .unwrap_or(".");
            S3Target::Directory {
                root: root.to_owned(),
            }
        }
        Destination::S3(s3) => store(&s3.location),
        other => match other.s3_configuration() {
            Some(s3) => store(&s3.location),
            None => S3Target::Directory { root: ".".into() },
        },
    };
    Environment {
        account: identity.account.clone(),
        region: identity.region.clone(),
        s3,
        lambda_endpoint: None,
        opensearch_domain_endpoint: None,
        kinesis_endpoint: None,
        kafka_bootstrap_servers: None,
        secrets: SecretPolicy::Inline,
    }
}

fn store(bucket: &crds::S3Bucket) -> S3Target {
    S3Target::Store {
        endpoint: bucket.endpoint.clone(),
        region: bucket.region.clone(),
        force_path_style: bucket.force_path_style,
        credentials_secret: bucket.credentials_secret.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn describe(destination: &str) -> Value {
        let yaml = format!(
            "apiVersion: hydrant.dev/v1alpha1\nkind: DeliveryStream\nmetadata:\n  name: s\nspec:\n  destination:\n{destination}"
        );
        let stream = crds::manifest::parse_manifest(&yaml).expect("manifest");
        let identity = StreamIdentity {
            name: "s".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            version_id: "2".into(),
        };
        description(&identity, &stream.spec, SystemTime::UNIX_EPOCH)
    }

    #[test]
    fn other_destinations_are_described_in_firehose_shapes() {
        let d = describe(
            "    httpEndpoint:\n      endpointConfiguration: {url: \"https://c.example/in\", name: c}\n      s3BackupMode: AllData\n      s3Configuration: {bucket: failed, prefix: p/}\n",
        );
        let h = &d["Destinations"][0]["HttpEndpointDestinationDescription"];
        assert_eq!(h["EndpointConfiguration"]["Url"], "https://c.example/in");
        assert_eq!(h["RetryOptions"]["DurationInSeconds"], 300);
        assert_eq!(h["BufferingHints"]["SizeInMBs"], 5);
        assert_eq!(h["S3BackupMode"], "AllData");
        assert_eq!(
            h["S3DestinationDescription"]["BucketARN"],
            "arn:aws:s3:::failed"
        );
        assert_eq!(d["Destinations"][0]["DestinationId"], DESTINATION_ID);

        let d = describe(
            "    splunk:\n      hecEndpoint: https://hec:8088\n      hecEndpointType: Raw\n      hecTokenSecret: t\n      s3Configuration: {bucket: failed}\n",
        );
        let s = &d["Destinations"][0]["SplunkDestinationDescription"];
        assert_eq!(s["HECEndpointType"], "Raw");
        assert_eq!(s["HECAcknowledgmentTimeoutInSeconds"], 180);
        assert_eq!(s["BufferingHints"]["IntervalInSeconds"], 60);
        assert_eq!(s["S3BackupMode"], "FailedEventsOnly");
    }

    #[test]
    fn a_local_directory_is_described_as_the_bucket_it_stands_for() {
        let d = describe("    local: {directory: /var/out/clicks}\n");
        let ext = &d["Destinations"][0]["ExtendedS3DestinationDescription"];
        assert_eq!(ext["BucketARN"], "arn:aws:s3:::clicks");
        assert_eq!(
            d["DeliveryStreamEncryptionConfiguration"],
            json!({"Status": "DISABLED"})
        );
    }

    #[test]
    fn processors_are_described_as_firehose_parameters() {
        let d = describe(
            "    local:\n      processingConfiguration:\n        enabled: true\n        processors:\n        - type: Lambda\n          lambda: {url: \"http://t:8080/\"}\n",
        );
        let p =
            &d["Destinations"][0]["ExtendedS3DestinationDescription"]["ProcessingConfiguration"];
        assert_eq!(p["Enabled"], true);
        assert_eq!(p["Processors"][0]["Type"], "Lambda");
        assert_eq!(
            p["Processors"][0]["Parameters"][0],
            json!({"ParameterName": "LambdaArn", "ParameterValue": "http://t:8080/"})
        );
        assert_eq!(
            p["Processors"][0]["Parameters"][1],
            json!({"ParameterName": "NumberOfRetries", "ParameterValue": "3"})
        );
    }
}
