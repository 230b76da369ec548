//! Strict reading of manifests: unknown fields, wrong types and enum values are reported with
//! their full paths, all at once; several documents are read one by one.

use std::path::PathBuf;

use crds::manifest::{ManifestError, documents, parse_document, parse_manifest};

/// A manifest whose `spec` is `spec` (indented 2 spaces).
fn manifest(spec: &str) -> String {
    format!(
        "apiVersion: hydrant.dev/v1alpha1\nkind: DeliveryStream\nmetadata:\n  name: s\nspec:\n{spec}"
    )
}

/// The problems of a manifest that must be refused, as `path: message` lines.
fn problems(text: &str) -> Vec<String> {
    match parse_manifest(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(ManifestError::Invalid(problems)) => problems.iter().map(ToString::to_string).collect(),
        Err(e) => panic!("refused for another reason: {e}"),
    }
}

#[test]
fn an_unknown_field_deep_inside_is_reported_with_a_suggestion() {
    let text =
        manifest("  destination:\n    s3:\n      bucket: b\n      bufferingHints: {sizeInMB: 8}\n");
    assert_eq!(
        problems(&text),
        ["spec.destination.s3.bufferingHints.sizeInMB: unknown field, did you mean sizeInMBs?"]
    );
}

#[test]
fn an_unknown_field_without_a_close_match_lists_the_fields() {
    let text = manifest("  destination:\n    local: {}\n  ingest: {flavour: mint}\n");
    let problems = problems(&text);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(
        problems[0],
        "spec.ingest.flavour: unknown field, expected one of auth, port, tls"
    );
}

#[test]
fn every_unknown_field_is_reported() {
    let text = manifest(
        "  replica: 2\n  destination:\n    s3:\n      bucket: b\n      compresionFormat: GZIP\n",
    );
    assert_eq!(
        problems(&text),
        [
            "spec.destination.s3.compresionFormat: unknown field, did you mean compressionFormat?",
            "spec.replica: unknown field, did you mean replicas?",
        ]
    );
}

#[test]
fn unknown_top_level_and_metadata_fields_are_reported() {
    let text = "apiVersion: hydrant.dev/v1alpha1\nkind: DeliveryStream\nmetadata: {name: s, nmae: t}\nspec:\n  destination: {local: {}}\nextra: 1\nstaus: {}\n";
    assert_eq!(
        problems(text),
        [
            "metadata.nmae: unknown field, did you mean name?",
            "extra: unknown field, expected one of apiVersion, kind, metadata, spec, status",
            "staus: unknown field, did you mean status?",
        ]
    );
}

#[test]
fn source_fields_are_checked_like_the_rest() {
    let text = manifest(
        "  source:\n    kinesisStream:\n      streamARN: arn:aws:kinesis:us-east-1:123456789012:stream/s\n      startingPosition: TRIM_HORIZN\n      shardCount: 4\n  destination: {local: {}}\n",
    );
    assert_eq!(
        problems(&text),
        [
            "spec.source.kinesisStream.shardCount: unknown field, expected one of credentialsSecret, endpoint, region, startingPosition, streamArn, streamName, timestamp",
            "spec.source.kinesisStream.startingPosition: unknown variant TRIM_HORIZN, expected one of LATEST, TRIM_HORIZON, AT_TIMESTAMP (did you mean TRIM_HORIZON?)",
            "spec.source.kinesisStream.streamARN: unknown field, did you mean streamArn?",
        ]
    );
    let text = manifest(
        "  source:\n    kafka:\n      bootstrapServer: b:9092\n      topic: t\n      consumerGroupId: g\n      tls: {caSecrets: ca}\n      sasl: {mechanism: SCRAM-SHA-256, credentialSecret: u}\n  destination: {local: {}}\n",
    );
    assert_eq!(
        problems(&text),
        [
            "spec.source.kafka.bootstrapServer: unknown field, did you mean bootstrapServers?",
            "spec.source.kafka.consumerGroupId: unknown field, did you mean consumerGroup?",
            "spec.source.kafka.sasl.credentialSecret: unknown field, did you mean credentialsSecret?",
            "spec.source.kafka.sasl.mechanism: unknown variant SCRAM-SHA-256, expected one of SCRAM-SHA-512, PLAIN (did you mean SCRAM-SHA-512?)",
            "spec.source.kafka.sasl.credentialsSecret: required field is missing",
            "spec.source.kafka.tls.caSecrets: unknown field, did you mean caSecret?",
            "spec.source.kafka.bootstrapServers: required field is missing",
        ]
    );
    let text = manifest("  source: {kinesis: {streamName: s}}\n  destination: {local: {}}\n");
    assert_eq!(
        problems(&text),
        [
            "spec.source.kinesis: unknown field, expected one of directPut, kafka, kinesisStream",
            "spec.source: exactly one of directPut, kinesisStream, kafka must be set, found none",
        ]
    );
}

#[test]
fn list_elements_are_named_by_index() {
    let text = manifest(
        "  destination:\n    local:\n      processingConfiguration:\n        enabled: true\n        processors:\n          - type: AppendDelimiterToRecord\n          - type: Lambda\n            lamda: {url: http://x}\n          - type: Foo\n",
    );
    let base = "spec.destination.local.processingConfiguration.processors";
    assert_eq!(
        problems(&text),
        [
            format!("{base}[1].lamda: unknown field, did you mean lambda?"),
            format!(
                "{base}[2].type: unknown variant Foo, expected one of AppendDelimiterToRecord, Lambda, RecordDeAggregation, Decompression, CloudWatchLogProcessing, MetadataExtraction"
            ),
        ]
    );
}

#[test]
fn an_unknown_enum_value_is_reported_with_its_path() {
    let text = manifest("  destination:\n    s3: {bucket: b, compressionFormat: BROTLI}\n");
    assert_eq!(
        problems(&text),
        [
            "spec.destination.s3.compressionFormat: unknown variant BROTLI, expected one of UNCOMPRESSED, GZIP, ZIP, Snappy, HADOOP_SNAPPY"
        ]
    );
    let text = manifest("  destination:\n    s3: {bucket: b, compressionFormat: gzip}\n");
    assert!(
        problems(&text)[0].ends_with("(did you mean GZIP?)"),
        "{:?}",
        problems(&text)
    );
}

#[test]
fn a_wrong_type_is_reported_with_its_path() {
    let text = manifest(
        "  ingest: {port: abc}\n  destination:\n    s3: {bucket: b, region: 5, forcePathStyle: yes please}\n",
    );
    assert_eq!(
        problems(&text),
        [
            "spec.destination.s3.forcePathStyle: expected a boolean, found string \"yes please\"",
            "spec.destination.s3.region: expected a string, found integer 5",
            "spec.ingest.port: expected an integer, found string \"abc\"",
        ]
    );
}

#[test]
fn missing_and_ambiguous_fields_are_reported() {
    let text = manifest("  destination:\n    s3: {region: eu-west-1}\n    local: {}\n");
    assert_eq!(
        problems(&text),
        [
            "spec.destination.s3.bucket: required field is missing",
            "spec.destination: exactly one of s3, local, openSearch, splunk, httpEndpoint, redshift, postgresql must be set, found s3, local",
        ]
    );
}

#[test]
fn what_the_schema_does_not_check_is_reported_by_serde_with_its_path() {
    let text = manifest("  ingest: {port: 99999999999}\n  destination: {local: {}}\n");
    let problems = problems(&text);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("spec.ingest.port: invalid value: integer `99999999999`"),
        "{problems:?}"
    );
}

#[test]
fn maps_take_any_key() {
    let text = "apiVersion: hydrant.dev/v1alpha1\nkind: DeliveryStream\nmetadata:\n  name: s\n  namespace: analytics\n  uid: \"1234\"\n  generation: 3\n  labels: {app.kubernetes.io/name: x, team: data}\n  annotations: {anything/at-all: z}\nspec:\n  template:\n    spec:\n      nodeSelector: {disktype: ssd, zone: a}\n      resources: {limits: {memory: 2Gi, example.com/gpu: \"1\"}}\n  destination: {local: {}}\nstatus:\n  deliveryStreamStatus: ACTIVE\n  replicas: 1\n";
    let stream = parse_manifest(text).expect("valid");
    assert_eq!(stream.metadata.labels.expect("labels")["team"], "data");
}

#[test]
fn several_documents_are_read_one_by_one() {
    let text = format!(
        "{}---\n{}",
        manifest("  destination: {local: {}}\n"),
        manifest("  destination: {local: {directry: x}}\n"),
    );
    let docs = documents(&text).expect("YAML");
    assert_eq!(docs.len(), 2);
    let mut results = docs.into_iter().map(parse_document);
    assert!(results.next().expect("first").is_ok());
    let second = results.next().expect("second").expect_err("typo");
    assert_eq!(
        second.to_string(),
        "spec.destination.local.directry: unknown field, did you mean directory?"
    );
    // A single stream is expected where one runs.
    assert!(matches!(
        parse_manifest(&text),
        Err(ManifestError::MultipleDocuments(2))
    ));
}

#[test]
fn an_empty_file_or_bad_yaml_is_refused() {
    assert!(matches!(parse_manifest(""), Err(ManifestError::Empty)));
    assert!(matches!(
        parse_manifest("a: [1\n"),
        Err(ManifestError::Yaml(_))
    ));
}

/// Each example's DeliveryStream documents (other kinds, such as a Secret, are skipped) read
/// strictly and pass `validate_spec`.
#[test]
fn every_example_is_strictly_valid() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut streams = 0;
    for entry in std::fs::read_dir(&dir).expect("examples") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        for document in documents(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())) {
            if document["kind"] != "DeliveryStream" {
                continue;
            }
            let stream =
                parse_document(document).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let errors = crds::validate_spec(&stream);
            assert!(errors.is_empty(), "{}: {errors:?}", path.display());
            streams += 1;
        }
    }
    assert!(streams >= 12, "DeliveryStreams found: {streams}");
}
