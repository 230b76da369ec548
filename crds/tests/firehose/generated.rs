//! The round-trip property and model conformance over generated requests: random combinations
//! of the members Hydrant reads and keeps, from a fixed seed (so a failure reproduces).

use crds::firehose::{Environment, from_create, from_description};
use serde_json::{Value, json};

use crate::conformance::assert_fits;
use crate::support::*;

/// xorshift64*: enough randomness for picking members, with no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn coin(&mut self) -> bool {
        self.below(2) == 0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Adds each of `members` to `target` with probability one half.
fn some(rng: &mut Rng, target: &mut Value, members: Vec<(&str, Value)>) {
    for (k, v) in members {
        if rng.coin() {
            target[k] = v;
        }
    }
}

fn role(rng: &mut Rng) -> Value {
    json!(rng.pick(&[ROLE, "arn:aws:iam::123456789012:role/hydrant"]))
}

fn hints(rng: &mut Rng, max_mb: u64, max_s: u64) -> Value {
    let mut h = json!({});
    let members = vec![
        ("SizeInMBs", json!(1 + rng.below(max_mb))),
        ("IntervalInSeconds", json!(rng.below(max_s + 1))),
    ];
    some(rng, &mut h, members);
    h
}

fn s3_bucket(rng: &mut Rng) -> Value {
    let mut b =
        json!({"RoleARN": role(rng), "BucketARN": format!("arn:aws:s3:::bkt-{}", rng.below(3))});
    let members = vec![
        ("Prefix", json!(rng.pick(&["p/", "", "logs/!{timestamp:yyyy}/"]))),
        ("ErrorOutputPrefix", json!("e/!{firehose:error-output-type}/")),
        ("BufferingHints", hints(rng, 128, 900)),
        ("CompressionFormat", json!(rng.pick(&["UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY"]))),
        ("EncryptionConfiguration", json!(rng.pick(&[
            json!({"NoEncryptionConfig": "NoEncryption"}),
            json!({"KMSEncryptionConfig": {"AWSKMSKeyARN": "arn:aws:kms:eu-west-1:123456789012:key/k"}}),
        ]))),
        ("CloudWatchLoggingOptions", json!(rng.pick(&[
            json!({"Enabled": false}),
            json!({"Enabled": true, "LogGroupName": "g", "LogStreamName": "s"}),
        ]))),
    ];
    some(rng, &mut b, members);
    b
}

fn parameter(name: &str, value: &str) -> Value {
    json!({"ParameterName": name, "ParameterValue": value})
}

fn processing(rng: &mut Rng) -> Value {
    let candidates = [
        json!({"Type": "Lambda", "Parameters": [parameter("LambdaArn", rng.pick::<&str>(&["http://t:8080/", "arn:aws:lambda:eu-west-1:123456789012:function:f"]))]}),
        json!({"Type": "Lambda", "Parameters": [parameter("NumberOfRetries", "0"), parameter("LambdaArn", "http://t/"), parameter("RoleArn", ROLE), parameter("BufferSizeInMBs", "2.5")]}),
        json!({"Type": "RecordDeAggregation", "Parameters": [parameter("SubRecordType", rng.pick::<&str>(&["JSON", "KPL"]))]}),
        json!({"Type": "Decompression", "Parameters": [parameter("CompressionFormat", "GZIP")]}),
        json!({"Type": "CloudWatchLogProcessing"}),
        json!({"Type": "AppendDelimiterToRecord", "Parameters": []}),
    ];
    let processors: Vec<Value> = candidates
        .iter()
        .filter(|_| rng.below(3) == 0)
        .cloned()
        .collect();
    json!({"Enabled": rng.coin(), "Processors": processors})
}

fn destination(rng: &mut Rng) -> (&'static str, Value) {
    let retry = || json!({"DurationInSeconds": 0});
    match rng.below(6) {
        0 | 1 => {
            let mut c = s3_bucket(rng);
            let members = vec![
                ("ProcessingConfiguration", processing(rng)),
                ("FileExtension", json!(".out")),
                ("CustomTimeZone", json!("UTC")),
                ("S3BackupMode", json!("Disabled")),
            ];
            some(rng, &mut c, members);
            if rng.below(4) == 0 {
                c["S3BackupMode"] = json!("Enabled");
                c["S3BackupConfiguration"] = s3_bucket(rng);
            }
            ("ExtendedS3DestinationConfiguration", c)
        }
        2 => {
            let mut c = json!({"HECEndpoint": "https://hec:8088", "HECEndpointType": rng.pick(&["Raw", "Event"]), "HECToken": "secret:s-hec-token", "S3Configuration": s3_bucket(rng)});
            let members = vec![
                ("BufferingHints", hints(rng, 5, 60)),
                ("RetryOptions", retry()),
                (
                    "S3BackupMode",
                    json!(rng.pick(&["FailedEventsOnly", "AllEvents"])),
                ),
                ("ProcessingConfiguration", processing(rng)),
                (
                    "HECAcknowledgmentTimeoutInSeconds",
                    json!(180 + rng.below(421)),
                ),
            ];
            some(rng, &mut c, members);
            ("SplunkDestinationConfiguration", c)
        }
        3 => {
            let mut c = json!({"EndpointConfiguration": {"Url": "https://c/in", "AccessKey": "secret:s-access-key"}, "S3Configuration": s3_bucket(rng)});
            let members = vec![
                ("BufferingHints", hints(rng, 64, 900)),
                ("RetryOptions", retry()),
                ("RoleARN", role(rng)),
                (
                    "RequestConfiguration",
                    json!({"ContentEncoding": rng.pick(&["NONE", "GZIP"])}),
                ),
                (
                    "S3BackupMode",
                    json!(rng.pick(&["FailedDataOnly", "AllData"])),
                ),
            ];
            some(rng, &mut c, members);
            ("HttpEndpointDestinationConfiguration", c)
        }
        4 => {
            let member = rng.pick::<&str>(&[
                "ElasticsearchDestinationConfiguration",
                "AmazonopensearchserviceDestinationConfiguration",
            ]);
            let mut c =
                json!({"RoleARN": role(rng), "IndexName": "i", "S3Configuration": s3_bucket(rng)});
            if rng.coin() {
                c["DomainARN"] = json!("arn:aws:es:eu-west-1:123456789012:domain/abc");
            } else {
                c["ClusterEndpoint"] = json!("https://os:9200");
            }
            let members = vec![
                ("BufferingHints", hints(rng, 100, 900)),
                (
                    "IndexRotationPeriod",
                    json!(rng.pick(&["NoRotation", "OneWeek"])),
                ),
                ("TypeName", json!(rng.pick(&["", "t"]))),
                (
                    "DocumentIdOptions",
                    json!({"DefaultDocumentIdFormat": "NO_DOCUMENT_ID"}),
                ),
            ];
            some(rng, &mut c, members);
            (member, c)
        }
        _ => {
            let mut c = json!({"RoleARN": role(rng), "ClusterJDBCURL": "jdbc:postgresql://db:5432/dev",
                "CopyCommand": {"DataTableName": "t"}, "Username": "secret:s-redshift-credentials",
                "S3Configuration": s3_bucket(rng)});
            let members = vec![
                ("RetryOptions", retry()),
                ("ProcessingConfiguration", processing(rng)),
                ("S3BackupMode", json!("Disabled")),
            ];
            some(rng, &mut c, members);
            ("RedshiftDestinationConfiguration", c)
        }
    }
}

#[test]
fn generated_requests_round_trip_and_fit_the_model() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut accepted = 0;
    for i in 0..400 {
        let (member, config) = destination(&mut rng);
        let mut input = request(json!({member: config}));
        if rng.below(4) == 0 {
            input["DirectPutSourceConfiguration"] =
                json!({"ThroughputHintInMBs": 1 + rng.below(100)});
        }
        let env: Environment = match rng.below(3) {
            0 => cluster(),
            1 => store(),
            _ => laptop(),
        };
        let Ok(created) = from_create(&input, &env) else {
            continue;
        };
        accepted += 1;
        let d1 = described(&created, "s", &env);
        assert_fits("DeliveryStreamDescription", &d1, &format!("case {i}"));
        let back =
            from_description(&d1, &env).unwrap_or_else(|e| panic!("case {i}: {e}\n{input:#}"));
        assert_eq!(back.spec, created.spec, "case {i}\n{input:#}");
        assert_eq!(back.kept, created.kept, "case {i}\n{input:#}");
        assert_eq!(described(&back, "s", &env), d1, "case {i}");
    }
    eprintln!("{accepted} of 400 generated requests accepted");
    assert!(
        accepted > 150,
        "only {accepted} of 400 generated requests were accepted"
    );
}
