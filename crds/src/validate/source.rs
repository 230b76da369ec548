//! `spec.source`: a Kinesis stream's identity, starting position and endpoint; a Kafka source's
//! brokers, topic, consumer group and starting time. (That a claim adds nothing to either is
//! `spec.buffer.storage`'s rule, in `stream_fields`.)

use chrono::DateTime;

use super::check_url;
use crate::{KafkaSource, KinesisStreamSource, Source, StartingPosition};

pub(super) fn validate_source(source: &Source, fail: &mut impl FnMut(&str, String)) {
    match source {
        Source::DirectPut(_) => {}
        Source::KinesisStream(k) => validate_kinesis("spec.source.kinesisStream", k, fail),
        Source::Kafka(k) => validate_kafka("spec.source.kafka", k, fail),
    }
}

fn validate_kinesis(base: &str, k: &KinesisStreamSource, fail: &mut impl FnMut(&str, String)) {
    match (&k.stream_arn, &k.stream_name) {
        (Some(_), Some(_)) => fail(
            base,
            "set streamArn or streamName, not both (the ARN names the stream)".into(),
        ),
        (None, None) => fail(base, "set streamArn or streamName".into()),
        _ => {}
    }
    if let Some(arn) = &k.stream_arn
        && let Err(problem) = check_stream_arn(arn)
    {
        fail(
            &format!("{base}.streamArn"),
            format!(
                "`{arn}` is not a Kinesis stream ARN, arn:<partition>:kinesis:<region>:<12-digit account>:stream/<name>: {problem}"
            ),
        );
    }
    if let Some(name) = &k.stream_name
        && !valid_stream_name(name)
    {
        fail(
            &format!("{base}.streamName"),
            format!("`{name}` is not a valid stream name: {STREAM_NAME_RULE}"),
        );
    }
    if let Some(endpoint) = &k.endpoint {
        check_url(&format!("{base}.endpoint"), endpoint, fail);
    }
    let at = format!("{base}.timestamp");
    match (k.starting_position, &k.timestamp) {
        (StartingPosition::AtTimestamp, None) => {
            fail(&at, "required when startingPosition is AT_TIMESTAMP".into())
        }
        (StartingPosition::AtTimestamp, Some(ts)) => check_timestamp(&at, ts, fail),
        (StartingPosition::Latest, Some(_)) => fail(
            &at,
            "only read with startingPosition AT_TIMESTAMP, and startingPosition is LATEST".into(),
        ),
        (StartingPosition::TrimHorizon, Some(_)) => fail(
            &at,
            "only read with startingPosition AT_TIMESTAMP, and startingPosition is TRIM_HORIZON"
                .into(),
        ),
        (_, None) => {}
    }
}

const STREAM_NAME_RULE: &str = "1-128 characters of [a-zA-Z0-9_.-]";

/// Kinesis' `StreamName`: 1-128 characters of `[a-zA-Z0-9_.-]`.
fn valid_stream_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// `arn:<partition>:kinesis:<region>:<12-digit account>:stream/<name>`, or what is wrong with it.
fn check_stream_arn(arn: &str) -> Result<(), String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return Err("it has fewer than six `:`-separated parts".into());
    };
    if prefix != "arn" {
        return Err("it must start with `arn:`".into());
    }
    let lower = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if !lower(partition) {
        return Err(format!(
            "the partition `{partition}` is not one like aws or aws-cn"
        ));
    }
    if service != "kinesis" {
        return Err(format!("the service is `{service}`, not kinesis"));
    }
    if region.is_empty()
        || !region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(format!("the region `{region}` is not one like us-east-1"));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("the account `{account}` is not 12 digits"));
    }
    let Some(name) = resource.strip_prefix("stream/") else {
        return Err(format!("the resource `{resource}` is not stream/<name>"));
    };
    if !valid_stream_name(name) {
        return Err(format!(
            "the stream name `{name}` is not {STREAM_NAME_RULE}"
        ));
    }
    Ok(())
}

fn validate_kafka(base: &str, k: &KafkaSource, fail: &mut impl FnMut(&str, String)) {
    let at = format!("{base}.bootstrapServers");
    if k.bootstrap_servers.trim().is_empty() {
        fail(&at, "must list at least one broker as host:port".into());
    } else {
        for entry in k.bootstrap_servers.split(',').map(str::trim) {
            if let Err(problem) = check_broker(entry) {
                fail(&at, problem);
            }
        }
    }
    if !valid_topic(&k.topic) {
        fail(
            &format!("{base}.topic"),
            format!(
                "`{}` is not a valid topic name: 1-249 characters of [a-zA-Z0-9._-], not `.` or `..`",
                k.topic
            ),
        );
    }
    if let Some(group) = &k.consumer_group
        && group.trim().is_empty()
    {
        fail(
            &format!("{base}.consumerGroup"),
            "must not be empty; leave it out for the default hydrant.<namespace>.<name>".into(),
        );
    }
    if let Some(ts) = &k.read_from_timestamp {
        check_timestamp(&format!("{base}.readFromTimestamp"), ts, fail);
    }
}

/// One entry of `bootstrapServers`: `host:port`, the host a name, an IPv4 address or a
/// bracketed IPv6 address, the port 1-65535, no scheme.
fn check_broker(entry: &str) -> Result<(), String> {
    if entry.is_empty() {
        return Err("an empty entry between commas: list brokers as host:port,host:port".into());
    }
    if let Some((scheme, _)) = entry.split_once("://") {
        return Err(format!(
            "`{entry}`: a broker is host:port, without a scheme (`{scheme}://`); TLS is set by `tls`"
        ));
    }
    let not_host_port = || format!("`{entry}` is not host:port (a port of 1-65535)");
    let Some((host, port)) = entry.rsplit_once(':') else {
        return Err(format!("`{entry}` has no port: a broker is host:port"));
    };
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => {
            !v6.is_empty()
                && v6
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '.'))
        }
        None => {
            !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        }
    };
    let port_ok = !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
    if host_ok && port_ok {
        Ok(())
    } else {
        Err(not_host_port())
    }
}

/// Kafka's topic names: 1-249 characters of `[a-zA-Z0-9._-]`, other than `.` and `..`.
fn valid_topic(topic: &str) -> bool {
    (1..=249).contains(&topic.len())
        && topic != "."
        && topic != ".."
        && topic
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// An RFC 3339 date and time with its offset, such as `2026-01-31T08:00:00Z`.
fn check_timestamp(path: &str, value: &str, fail: &mut impl FnMut(&str, String)) {
    if DateTime::parse_from_rfc3339(value).is_err() {
        fail(
            path,
            format!(
                "`{value}` is not an RFC 3339 date and time with an offset, such as 2026-01-31T08:00:00Z or 2026-01-31T09:00:00+01:00"
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::manifest::parse_manifest;
    use crate::validate_spec;

    /// The problems, as `path: message`, of a stream whose `spec.source` is `source` (flow
    /// YAML) and whose `spec.buffer` is `buffer`.
    fn problems_with(source: &str, buffer: &str) -> Vec<String> {
        let yaml = format!(
            "apiVersion: hydrant.dev/v1alpha1\nkind: DeliveryStream\nmetadata:\n  name: s\nspec:\n  source: {source}\n  buffer: {buffer}\n  destination:\n    s3: {{bucket: raw}}\n"
        );
        let stream = parse_manifest(&yaml).expect("manifest");
        validate_spec(&stream)
            .into_iter()
            .map(|e| e.to_string())
            .collect()
    }

    fn problems(source: &str) -> Vec<String> {
        problems_with(source, "{}")
    }

    /// Only the paths.
    fn paths(source: &str) -> Vec<String> {
        problems(source)
            .into_iter()
            .map(|p| p.split_once(": ").map(|(a, _)| a.to_owned()).unwrap_or(p))
            .collect()
    }

    fn kinesis(fields: &str) -> String {
        format!("{{kinesisStream: {{{fields}}}}}")
    }

    fn kafka(fields: &str) -> String {
        format!("{{kafka: {{topic: clicks, {fields}}}}}")
    }

    const ARN: &str = "arn:aws:kinesis:eu-west-1:123456789012:stream/clicks";

    #[test]
    fn direct_put_needs_nothing() {
        assert!(problems("{directPut: {}}").is_empty());
    }

    #[test]
    fn a_kinesis_stream_is_named_by_exactly_one_of_arn_and_name() {
        assert!(problems(&kinesis(&format!("streamArn: \"{ARN}\""))).is_empty());
        assert!(problems(&kinesis("streamName: clicks")).is_empty());
        assert_eq!(
            problems(&kinesis(&format!(
                "streamArn: \"{ARN}\", streamName: clicks"
            ))),
            [
                "spec.source.kinesisStream: set streamArn or streamName, not both (the ARN names the stream)"
            ]
        );
        assert_eq!(
            problems(&kinesis("region: eu-west-1")),
            ["spec.source.kinesisStream: set streamArn or streamName"]
        );
    }

    #[test]
    fn a_stream_arn_has_every_part() {
        let arn_problem = |arn: &str| paths(&kinesis(&format!("streamArn: \"{arn}\"")));
        let at = ["spec.source.kinesisStream.streamArn"];
        assert!(
            arn_problem("arn:aws-cn:kinesis:cn-north-1:123456789012:stream/a.b_c-d").is_empty()
        );
        assert!(
            arn_problem(&format!(
                "arn:aws:kinesis:us-east-1:123456789012:stream/{}",
                "a".repeat(128)
            ))
            .is_empty()
        );
        for bad in [
            "clicks",
            "arn:aws:kinesis:eu-west-1:123456789012",
            "arm:aws:kinesis:eu-west-1:123456789012:stream/clicks",
            "arn::kinesis:eu-west-1:123456789012:stream/clicks",
            "arn:aws:firehose:eu-west-1:123456789012:stream/clicks",
            "arn:aws:kinesis::123456789012:stream/clicks",
            "arn:aws:kinesis:eu-west-1:12345678901:stream/clicks",
            "arn:aws:kinesis:eu-west-1:1234567890123:stream/clicks",
            "arn:aws:kinesis:eu-west-1:12345678901x:stream/clicks",
            "arn:aws:kinesis:eu-west-1:123456789012:deliverystream/clicks",
            "arn:aws:kinesis:eu-west-1:123456789012:stream/",
            "arn:aws:kinesis:eu-west-1:123456789012:stream/cl/icks",
            "arn:aws:kinesis:eu-west-1:123456789012:stream/cl:icks",
        ] {
            assert_eq!(arn_problem(bad), at, "{bad}");
        }
        assert_eq!(
            arn_problem(&format!(
                "arn:aws:kinesis:us-east-1:123456789012:stream/{}",
                "a".repeat(129)
            )),
            at
        );
        assert_eq!(
            problems(&kinesis(
                "streamArn: \"arn:aws:kinesis:eu-west-1:42:stream/clicks\""
            )),
            [
                "spec.source.kinesisStream.streamArn: `arn:aws:kinesis:eu-west-1:42:stream/clicks` is not a Kinesis stream ARN, arn:<partition>:kinesis:<region>:<12-digit account>:stream/<name>: the account `42` is not 12 digits"
            ]
        );
    }

    #[test]
    fn a_stream_name_is_1_to_128_of_the_allowed_characters() {
        let at = ["spec.source.kinesisStream.streamName"];
        assert!(paths(&kinesis(&format!("streamName: {}", "a".repeat(128)))).is_empty());
        assert!(paths(&kinesis("streamName: A-z_0.9")).is_empty());
        assert_eq!(
            paths(&kinesis(&format!("streamName: {}", "a".repeat(129)))),
            at
        );
        assert_eq!(paths(&kinesis("streamName: \"clicks/raw\"")), at);
        assert_eq!(paths(&kinesis("streamName: \"\"")), at);
    }

    #[test]
    fn a_timestamp_goes_with_at_timestamp_only() {
        let at = |fields: &str| problems(&kinesis(&format!("streamName: s, {fields}")));
        assert!(
            at("startingPosition: AT_TIMESTAMP, timestamp: \"2026-01-31T08:00:00Z\"").is_empty()
        );
        assert!(at("startingPosition: TRIM_HORIZON").is_empty());
        assert!(at("startingPosition: LATEST").is_empty());
        assert_eq!(
            at("startingPosition: AT_TIMESTAMP"),
            ["spec.source.kinesisStream.timestamp: required when startingPosition is AT_TIMESTAMP"]
        );
        assert_eq!(
            at("timestamp: \"2026-01-31T08:00:00Z\""),
            [
                "spec.source.kinesisStream.timestamp: only read with startingPosition AT_TIMESTAMP, and startingPosition is LATEST"
            ]
        );
        assert_eq!(
            at("startingPosition: TRIM_HORIZON, timestamp: \"2026-01-31T08:00:00Z\""),
            [
                "spec.source.kinesisStream.timestamp: only read with startingPosition AT_TIMESTAMP, and startingPosition is TRIM_HORIZON"
            ]
        );
    }

    #[test]
    fn timestamps_are_rfc_3339_with_an_offset() {
        let kinesis_at = |ts: &str| {
            paths(&kinesis(&format!(
                "streamName: s, startingPosition: AT_TIMESTAMP, timestamp: \"{ts}\""
            )))
        };
        let kafka_at = |ts: &str| {
            paths(&kafka(&format!(
                "bootstrapServers: \"b:9092\", readFromTimestamp: \"{ts}\""
            )))
        };
        for good in [
            "2026-01-31T08:00:00Z",
            "2026-01-31T08:00:00.123456Z",
            "2026-01-31t08:00:00z",
            "2026-01-31T09:00:00+01:00",
            "2024-02-29T23:59:59-08:00",
        ] {
            assert!(kinesis_at(good).is_empty(), "{good}");
            assert!(kafka_at(good).is_empty(), "{good}");
        }
        for bad in [
            "2026-01-31",
            "2026-01-31T08:00:00",
            "2026-01-31T08:00Z",
            "2026-13-01T08:00:00Z",
            "2025-02-29T08:00:00Z",
            "2026-01-31T24:00:01Z",
            "1769846400",
            "yesterday",
        ] {
            assert_eq!(
                kinesis_at(bad),
                ["spec.source.kinesisStream.timestamp"],
                "{bad}"
            );
            assert_eq!(
                kafka_at(bad),
                ["spec.source.kafka.readFromTimestamp"],
                "{bad}"
            );
        }
        assert_eq!(
            problems(&kafka(
                "bootstrapServers: \"b:9092\", readFromTimestamp: \"2026-01-31\""
            )),
            [
                "spec.source.kafka.readFromTimestamp: `2026-01-31` is not an RFC 3339 date and time with an offset, such as 2026-01-31T08:00:00Z or 2026-01-31T09:00:00+01:00"
            ]
        );
    }

    #[test]
    fn a_kinesis_endpoint_is_an_http_url() {
        assert!(
            paths(&kinesis(
                "streamName: s, endpoint: \"http://localhost:4566\""
            ))
            .is_empty()
        );
        assert!(
            paths(&kinesis(
                "streamName: s, endpoint: \"https://kinesis.example\""
            ))
            .is_empty()
        );
        assert_eq!(
            paths(&kinesis("streamName: s, endpoint: \"localhost:4566\"")),
            ["spec.source.kinesisStream.endpoint"]
        );
    }

    #[test]
    fn bootstrap_servers_are_host_port_pairs() {
        let servers = |list: &str| problems(&kafka(&format!("bootstrapServers: \"{list}\"")));
        for good in [
            "b-1.msk.example:9092",
            "b-1:9096,b-2:9096,b-3:9096",
            "b-1:9096, b-2:9096",
            "10.0.0.7:1",
            "[::1]:65535",
            "[fe80::1]:9092,kafka_0.kafka.svc:9092",
        ] {
            assert!(servers(good).is_empty(), "{good}: {:?}", servers(good));
        }
        let at = "spec.source.kafka.bootstrapServers";
        for bad in [
            "b-1",
            "b-1:",
            ":9092",
            "b-1:0",
            "b-1:65536",
            "b-1:99999999999",
            "b-1:-1",
            "b-1:90a",
            "::1:9092",
            "[]:9092",
            "b 1:9092",
            " , ",
        ] {
            let found = servers(bad);
            assert!(
                !found.is_empty() && found.iter().all(|p| p.starts_with(at)),
                "{bad}: {found:?}"
            );
        }
        assert_eq!(
            servers("b-1:9092,,b-2:9092"),
            [format!(
                "{at}: an empty entry between commas: list brokers as host:port,host:port"
            )]
        );
        assert_eq!(
            servers("SASL_SSL://b-1:9096,b-2:0"),
            [
                format!(
                    "{at}: `SASL_SSL://b-1:9096`: a broker is host:port, without a scheme (`SASL_SSL://`); TLS is set by `tls`"
                ),
                format!("{at}: `b-2:0` is not host:port (a port of 1-65535)"),
            ]
        );
        assert_eq!(
            servers("b-1"),
            [format!("{at}: `b-1` has no port: a broker is host:port")]
        );
    }

    #[test]
    fn a_topic_follows_kafkas_rules() {
        let topic = |t: &str| {
            paths(&format!(
                "{{kafka: {{bootstrapServers: \"b:9092\", topic: \"{t}\"}}}}"
            ))
        };
        assert!(topic("clicks.raw_v1-a").is_empty());
        assert!(topic(&"t".repeat(249)).is_empty());
        let at = ["spec.source.kafka.topic"];
        assert_eq!(topic(&"t".repeat(250)), at);
        assert_eq!(topic("."), at);
        assert_eq!(topic(".."), at);
        assert_eq!(topic("clicks/raw"), at);
        assert_eq!(topic(""), at);
    }

    #[test]
    fn a_consumer_group_is_not_empty() {
        let group = |g: &str| {
            paths(&kafka(&format!(
                "bootstrapServers: \"b:9092\", consumerGroup: \"{g}\""
            )))
        };
        assert!(group("analytics").is_empty());
        assert!(group("x").is_empty());
        assert_eq!(group(""), ["spec.source.kafka.consumerGroup"]);
        assert_eq!(group("  "), ["spec.source.kafka.consumerGroup"]);
    }

    #[test]
    fn a_complete_kafka_source_is_valid() {
        assert!(
            problems(&kafka(
                "bootstrapServers: \"b-1:9096,b-2:9096\", consumerGroup: g, readFromTimestamp: \"2026-01-31T08:00:00Z\", tls: {caSecret: msk-ca}, sasl: {mechanism: SCRAM-SHA-512, credentialsSecret: msk-user}"
            ))
            .is_empty()
        );
    }

    #[test]
    fn a_claim_adds_nothing_to_a_source_that_is_the_durable_buffer() {
        let claim = "{storage: {persistentVolumeClaim: {}}}";
        assert_eq!(
            problems_with(&kinesis("streamName: s"), claim),
            [
                "spec.buffer.storage: persistentVolumeClaim adds nothing to a kinesisStream source: the source is the durable buffer (a position is committed only after its records are delivered, and a restarted or replacement pod re-reads from there); use emptyDir, the default"
            ]
        );
        assert_eq!(
            problems_with(&kafka("bootstrapServers: \"b:9092\""), claim),
            [
                "spec.buffer.storage: persistentVolumeClaim adds nothing to a kafka source: the source is the durable buffer (a position is committed only after its records are delivered, and a restarted or replacement pod re-reads from there); use emptyDir, the default"
            ]
        );
        assert!(problems_with(&kinesis("streamName: s"), "{storage: {emptyDir: {}}}").is_empty());
        assert!(problems_with("{directPut: {}}", claim).is_empty());
    }

    #[test]
    fn source_problems_come_after_the_name_and_before_the_buffer() {
        let yaml = "apiVersion: hydrant.dev/v1alpha1\nkind: DeliveryStream\nmetadata:\n  name: \"bad name\"\nspec:\n  source: {kinesisStream: {}}\n  buffer: {maxBytes: 1Mi}\n  destination:\n    s3: {bucket: raw}\n";
        let paths: Vec<String> = validate_spec(&parse_manifest(yaml).expect("manifest"))
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(
            paths,
            [
                "metadata.name",
                "spec.source.kinesisStream",
                "spec.buffer.maxBytes"
            ]
        );
    }
}
