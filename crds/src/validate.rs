//! Rules the schema cannot express (or that `hydrant run` must check without an API server),
//! reported with the field path a user edits.

use std::fmt;

use crate::{
    CompressionFormat, DeliveryStream, Destination, ObjectDelivery, PrefixTemplate,
    ProcessingConfiguration, ProcessorType, S3Destination, SubRecordType, parse_quantity,
};

/// One problem in a spec, with the path of the offending field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Smallest WAL bound that still holds a maximal batch.
pub const MIN_BUFFER_BYTES: u64 = 16 << 20;

/// Every rule violation in the stream, in field order; empty when the spec can run.
pub fn validate_spec(stream: &DeliveryStream) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut fail = |path: &str, message: String| {
        errors.push(FieldError {
            path: path.to_owned(),
            message,
        })
    };
    match stream.metadata.name.as_deref() {
        None | Some("") => fail("metadata.name", "the stream needs a name".into()),
        Some(name) => {
            if name.len() > 64
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            {
                fail(
                    "metadata.name",
                    format!(
                        "`{name}` is not a valid DeliveryStreamName: 1-64 characters of [a-zA-Z0-9_.-]"
                    ),
                );
            }
        }
    }
    let spec = &stream.spec;
    if !(1..=65535).contains(&spec.ingest.port) {
        fail(
            "spec.ingest.port",
            format!("{} is not a port (1-65535)", spec.ingest.port),
        );
    }
    if let Some(replicas) = spec.replicas
        && !(0..=1000).contains(&replicas)
    {
        fail("spec.replicas", format!("{replicas} is outside 0-1000"));
    }
    match parse_quantity(&spec.buffer.max_bytes.0) {
        Ok(bytes) if bytes < MIN_BUFFER_BYTES => fail(
            "spec.buffer.maxBytes",
            format!("{bytes} bytes is below the minimum of 16Mi"),
        ),
        Ok(_) => {}
        Err(e) => fail("spec.buffer.maxBytes", e.to_string()),
    }
    if spec.buffer.directory.is_empty() {
        fail("spec.buffer.directory", "must not be empty".into());
    }
    validate_destination(&spec.destination, &mut fail);
    errors
}

fn validate_destination(d: &Destination, fail: &mut impl FnMut(&str, String)) {
    let base = format!("spec.destination.{}", d.field());
    validate_processing(&base, d.processing(), fail);
    if d.object_delivery().is_none()
        && d.processing()
            .processor(ProcessorType::MetadataExtraction)
            .is_some()
    {
        fail(
            &format!("{base}.processingConfiguration"),
            "MetadataExtraction feeds dynamic partitioning, which only s3 and local destinations have"
                .into(),
        );
    }
    let hints = |fail: &mut dyn FnMut(&str, String), max_mb: i32, max_s: i32| {
        let h = d.buffering_hints();
        if !(1..=max_mb).contains(&h.size_in_mbs) {
            fail(
                &format!("{base}.bufferingHints.sizeInMBs"),
                format!("{} is outside 1-{max_mb}", h.size_in_mbs),
            );
        }
        if !(0..=max_s).contains(&h.interval_in_seconds) {
            fail(
                &format!("{base}.bufferingHints.intervalInSeconds"),
                format!("{} is outside 0-{max_s}", h.interval_in_seconds),
            );
        }
    };
    let retry = |fail: &mut dyn FnMut(&str, String), r: &crate::RetryOptions| {
        if !(0..=7200).contains(&r.duration_in_seconds) {
            fail(
                &format!("{base}.retryOptions.durationInSeconds"),
                format!("{} is outside 0-7200", r.duration_in_seconds),
            );
        }
    };
    let url = |fail: &mut dyn FnMut(&str, String), field: &str, value: &str| {
        if !(value.starts_with("http://") || value.starts_with("https://")) {
            fail(
                &format!("{base}.{field}"),
                format!("`{value}` must be an http:// or https:// URL"),
            );
        }
    };
    match d {
        Destination::S3(s3) => validate_s3(&base, s3, fail),
        Destination::Local(local) => {
            if local.directory.is_empty() {
                fail(&format!("{base}.directory"), "must not be empty".into());
            }
            validate_delivery(&base, &local.delivery, fail);
        }
        Destination::OpenSearch(os) => {
            url(fail, "endpoint", &os.endpoint);
            if os.index_name.is_empty()
                || os.index_name.len() > 80
                || os.index_name.starts_with(['_', '-', '+'])
                || os.index_name.chars().any(|c| {
                    c.is_ascii_uppercase()
                        || matches!(
                            c,
                            ' ' | ',' | '"' | '*' | '\\' | '<' | '|' | '>' | '/' | '?' | '#' | ':'
                        )
                })
            {
                fail(
                    &format!("{base}.indexName"),
                    format!(
                        "`{}` is not a valid index name: 1-80 lowercase characters, not starting with _, - or +, without spaces or any of , \" * \\ < | > / ? # :",
                        os.index_name
                    ),
                );
            }
            hints(fail, 100, 900);
            retry(fail, &os.retry_options);
            validate_s3(
                &format!("{base}.s3Configuration"),
                &os.s3_configuration,
                fail,
            );
        }
        Destination::Splunk(sp) => {
            url(fail, "hecEndpoint", &sp.hec_endpoint);
            if !(180..=600).contains(&sp.hec_acknowledgment_timeout_in_seconds) {
                fail(
                    &format!("{base}.hecAcknowledgmentTimeoutInSeconds"),
                    format!(
                        "{} is outside 180-600",
                        sp.hec_acknowledgment_timeout_in_seconds
                    ),
                );
            }
            hints(fail, 5, 60);
            retry(fail, &sp.retry_options);
            validate_s3(
                &format!("{base}.s3Configuration"),
                &sp.s3_configuration,
                fail,
            );
        }
        Destination::HttpEndpoint(h) => {
            url(
                fail,
                "endpointConfiguration.url",
                &h.endpoint_configuration.url,
            );
            if h.endpoint_configuration.url.len() > 1000 {
                fail(
                    &format!("{base}.endpointConfiguration.url"),
                    "longer than 1000 characters".into(),
                );
            }
            let attrs = &h.request_configuration.common_attributes;
            if attrs.len() > 50 {
                fail(
                    &format!("{base}.requestConfiguration.commonAttributes"),
                    format!("{} attributes; at most 50", attrs.len()),
                );
            }
            for (i, a) in attrs.iter().enumerate() {
                if a.attribute_name.is_empty()
                    || a.attribute_name.len() > 256
                    || a.attribute_value.len() > 1024
                {
                    fail(
                        &format!("{base}.requestConfiguration.commonAttributes[{i}]"),
                        "attributeName must be 1-256 characters and attributeValue at most 1024"
                            .into(),
                    );
                }
            }
            hints(fail, 64, 900);
            retry(fail, &h.retry_options);
            validate_s3(
                &format!("{base}.s3Configuration"),
                &h.s3_configuration,
                fail,
            );
        }
        Destination::Redshift(r) => {
            if !(r.cluster_jdbc_url.starts_with("jdbc:redshift://")
                || r.cluster_jdbc_url.starts_with("jdbc:postgresql://"))
            {
                fail(
                    &format!("{base}.clusterJdbcUrl"),
                    format!(
                        "`{}` must start with jdbc:redshift:// or jdbc:postgresql://",
                        r.cluster_jdbc_url
                    ),
                );
            }
            if r.copy_command.data_table_name.trim().is_empty() {
                fail(
                    &format!("{base}.copyCommand.dataTableName"),
                    "must not be empty".into(),
                );
            }
            retry(fail, &r.retry_options);
            let s3 = &r.s3_configuration;
            let s3_base = format!("{base}.s3Configuration");
            validate_s3(&s3_base, s3, fail);
            if s3
                .delivery
                .prefix
                .as_deref()
                .and_then(|p| PrefixTemplate::parse(p).ok())
                .is_some_and(|p| p.has_expressions())
            {
                fail(
                    &format!("{s3_base}.prefix"),
                    "Redshift's intermediate prefix may not contain expressions".into(),
                );
            }
            if s3.delivery.error_output_prefix.is_some() {
                fail(
                    &format!("{s3_base}.errorOutputPrefix"),
                    "must be unset for Redshift (skipped objects are listed under errors/)".into(),
                );
            }
            if matches!(
                s3.delivery.compression_format,
                CompressionFormat::Snappy | CompressionFormat::Zip
            ) {
                fail(
                    &format!("{s3_base}.compressionFormat"),
                    "Redshift's COPY cannot read Snappy or ZIP objects".into(),
                );
            }
        }
        Destination::Postgresql(pg) => {
            if pg.table.trim().is_empty() {
                fail(&format!("{base}.table"), "must not be empty".into());
            }
            if pg.columns.is_empty() {
                fail(
                    &format!("{base}.columns"),
                    "name at least one column".into(),
                );
            }
            for (i, c) in pg.columns.iter().enumerate() {
                if c.is_empty() || c.len() > 63 {
                    fail(
                        &format!("{base}.columns[{i}]"),
                        "a column name is 1-63 characters".into(),
                    );
                }
            }
            hints(fail, 128, 900);
            retry(fail, &pg.retry_options);
            validate_s3(
                &format!("{base}.s3Configuration"),
                &pg.s3_configuration,
                fail,
            );
        }
    }
}

/// Each processor carries the parameters of its own type only, once per type.
fn validate_processing(
    base: &str,
    p: &ProcessingConfiguration,
    fail: &mut impl FnMut(&str, String),
) {
    let mut seen = Vec::new();
    for (i, proc) in p.processors.iter().enumerate() {
        let at = format!("{base}.processingConfiguration.processors[{i}]");
        if seen.contains(&proc.r#type) {
            fail(&at, format!("{:?} appears twice", proc.r#type));
        }
        seen.push(proc.r#type);
        let present = [
            ("lambda", proc.lambda.is_some(), ProcessorType::Lambda),
            (
                "recordDeAggregation",
                proc.record_de_aggregation.is_some(),
                ProcessorType::RecordDeAggregation,
            ),
            (
                "decompression",
                proc.decompression.is_some(),
                ProcessorType::Decompression,
            ),
            (
                "cloudWatchLogProcessing",
                proc.cloud_watch_log_processing.is_some(),
                ProcessorType::CloudWatchLogProcessing,
            ),
            (
                "metadataExtraction",
                proc.metadata_extraction.is_some(),
                ProcessorType::MetadataExtraction,
            ),
        ];
        for (field, is_set, kind) in present {
            if is_set && kind != proc.r#type {
                fail(
                    &format!("{at}.{field}"),
                    format!("parameters of {kind:?} on a {:?} processor", proc.r#type),
                );
            }
            if !is_set
                && kind == proc.r#type
                && matches!(
                    kind,
                    ProcessorType::Lambda
                        | ProcessorType::RecordDeAggregation
                        | ProcessorType::MetadataExtraction
                )
            {
                fail(
                    &format!("{at}.{field}"),
                    format!("required for a {kind:?} processor"),
                );
            }
        }
        if let Some(l) = &proc.lambda {
            if !(l.url.starts_with("http://") || l.url.starts_with("https://")) {
                fail(
                    &format!("{at}.lambda.url"),
                    format!("`{}` must be an http:// or https:// URL", l.url),
                );
            }
            if !(0.2..=3.0).contains(&l.buffer_size_in_mbs) {
                fail(
                    &format!("{at}.lambda.bufferSizeInMBs"),
                    format!("{} is outside 0.2-3", l.buffer_size_in_mbs),
                );
            }
            for (field, value, lo, hi) in [
                ("numberOfRetries", l.number_of_retries, 0, 300),
                (
                    "bufferIntervalInSeconds",
                    l.buffer_interval_in_seconds,
                    0,
                    900,
                ),
                ("timeoutInSeconds", l.timeout_in_seconds, 1, 300),
                ("maxConcurrency", l.max_concurrency, 1, 64),
            ] {
                if !(lo..=hi).contains(&value) {
                    fail(
                        &format!("{at}.lambda.{field}"),
                        format!("{value} is outside {lo}-{hi}"),
                    );
                }
            }
        }
        if let Some(d) = &proc.record_de_aggregation {
            match (d.sub_record_type, &d.delimiter) {
                (SubRecordType::Delimited, None) => fail(
                    &format!("{at}.recordDeAggregation.delimiter"),
                    "required for DELIMITED (base64 of the delimiter)".into(),
                ),
                (SubRecordType::Delimited, Some(b64)) => {
                    use base64::Engine;
                    match base64::engine::general_purpose::STANDARD.decode(b64) {
                        Ok(bytes) if !bytes.is_empty() => {}
                        _ => fail(
                            &format!("{at}.recordDeAggregation.delimiter"),
                            format!("`{b64}` is not the base64 of a non-empty delimiter"),
                        ),
                    }
                }
                (_, Some(_)) => fail(
                    &format!("{at}.recordDeAggregation.delimiter"),
                    "only DELIMITED takes a delimiter".into(),
                ),
                (_, None) => {}
            }
        }
        if let Some(m) = &proc.metadata_extraction
            && m.json_parsing_engine != "JQ-1.6"
        {
            fail(
                &format!("{at}.metadataExtraction.jsonParsingEngine"),
                format!("`{}` is not JQ-1.6", m.json_parsing_engine),
            );
        }
    }
    if seen.contains(&ProcessorType::CloudWatchLogProcessing)
        && !seen.contains(&ProcessorType::Decompression)
    {
        fail(
            &format!("{base}.processingConfiguration.processors"),
            "CloudWatchLogProcessing needs a Decompression processor".into(),
        );
    }
}

fn validate_s3(base: &str, s3: &S3Destination, fail: &mut impl FnMut(&str, String)) {
    if !valid_bucket(&s3.bucket) {
        fail(
            &format!("{base}.bucket"),
            format!(
                "`{}` is not a valid bucket name: 3-63 characters of [a-z0-9.-], starting and ending with a letter or digit",
                s3.bucket
            ),
        );
    }
    if let Some(endpoint) = &s3.endpoint
        && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
    {
        fail(
            &format!("{base}.endpoint"),
            format!("`{endpoint}` must be an http:// or https:// URL"),
        );
    }
    validate_delivery(base, &s3.delivery, fail);
    match (&s3.s3_backup_mode, &s3.s3_backup_configuration) {
        (crate::SourceBackupMode::Enabled, None) => fail(
            &format!("{base}.s3BackupConfiguration"),
            "required when s3BackupMode is Enabled".into(),
        ),
        (crate::SourceBackupMode::Enabled, Some(b)) => {
            let b = b.as_s3();
            if !valid_bucket(&b.bucket) {
                fail(
                    &format!("{base}.s3BackupConfiguration.bucket"),
                    format!("`{}` is not a valid bucket name", b.bucket),
                );
            }
            if let Some(Err(e)) = b.delivery.prefix.as_deref().map(PrefixTemplate::parse) {
                fail(
                    &format!("{base}.s3BackupConfiguration.prefix"),
                    e.to_string(),
                );
            }
            if let Some(backup) = &s3.s3_backup_configuration {
                validate_object_hints(
                    &format!("{base}.s3BackupConfiguration"),
                    backup.buffering_hints,
                    fail,
                );
            }
        }
        (crate::SourceBackupMode::Disabled, Some(_)) => fail(
            &format!("{base}.s3BackupMode"),
            "s3BackupConfiguration is set but s3BackupMode is Disabled".into(),
        ),
        (crate::SourceBackupMode::Disabled, None) => {}
    }
}

/// An object store's buffering hints: 1-128 MiB, 0-900 s.
fn validate_object_hints(
    base: &str,
    hints: crate::BufferingHints,
    fail: &mut impl FnMut(&str, String),
) {
    if !(1..=128).contains(&hints.size_in_mbs) {
        fail(
            &format!("{base}.bufferingHints.sizeInMBs"),
            format!("{} is outside 1-128", hints.size_in_mbs),
        );
    }
    if !(0..=900).contains(&hints.interval_in_seconds) {
        fail(
            &format!("{base}.bufferingHints.intervalInSeconds"),
            format!("{} is outside 0-900", hints.interval_in_seconds),
        );
    }
}

fn validate_delivery(base: &str, d: &ObjectDelivery, fail: &mut impl FnMut(&str, String)) {
    validate_object_hints(base, d.buffering_hints, fail);
    let prefix = match d.prefix.as_deref().map(PrefixTemplate::parse).transpose() {
        Ok(p) => p,
        Err(e) => {
            fail(&format!("{base}.prefix"), e.to_string());
            None
        }
    };
    if let Some(p) = &prefix
        && p.has_error_output_type()
    {
        fail(
            &format!("{base}.prefix"),
            "!{firehose:error-output-type} is only allowed in errorOutputPrefix".into(),
        );
    }
    match d
        .error_output_prefix
        .as_deref()
        .map(PrefixTemplate::parse)
        .transpose()
    {
        Ok(Some(e)) => {
            if e.has_expressions() && !e.has_error_output_type() {
                fail(
                    &format!("{base}.errorOutputPrefix"),
                    "a prefix with expressions must contain !{firehose:error-output-type}".into(),
                );
            }
        }
        Ok(None) => {
            if prefix.as_ref().is_some_and(PrefixTemplate::has_expressions) {
                fail(
                    &format!("{base}.errorOutputPrefix"),
                    "required when prefix contains expressions (Firehose's rule)".into(),
                );
            }
        }
        Err(e) => fail(&format!("{base}.errorOutputPrefix"), e.to_string()),
    }
    for (field, value) in [
        ("prefix", &d.prefix),
        ("errorOutputPrefix", &d.error_output_prefix),
    ] {
        if let Some(v) = value
            && v.len() > 1024
        {
            fail(
                &format!("{base}.{field}"),
                "longer than 1024 characters".into(),
            );
        }
    }
    validate_partitioning(base, d, prefix.as_ref(), fail);
    if let Some(c) = d
        .data_format_conversion_configuration
        .as_deref()
        .filter(|c| c.enabled)
    {
        let at = format!("{base}.dataFormatConversionConfiguration");
        if d.compression_format != CompressionFormat::Uncompressed {
            fail(
                &format!("{base}.compressionFormat"),
                "must be UNCOMPRESSED with format conversion (Parquet compresses itself)".into(),
            );
        }
        if d.buffering_hints.size_in_mbs < 64 {
            fail(
                &format!("{base}.bufferingHints.sizeInMBs"),
                format!(
                    "{} is below 64, Firehose's minimum with format conversion",
                    d.buffering_hints.size_in_mbs
                ),
            );
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, col) in c.schema_configuration.columns.iter().enumerate() {
            if let Err(e) = crate::HiveType::parse(&col.r#type) {
                fail(
                    &format!("{at}.schemaConfiguration.columns[{i}].type"),
                    e.to_string(),
                );
            }
            if !names.insert(col.name.to_ascii_lowercase()) {
                fail(
                    &format!("{at}.schemaConfiguration.columns[{i}].name"),
                    format!("`{}` appears twice", col.name),
                );
            }
        }
    }
    if let Some(ext) = &d.file_extension
        && !valid_extension(ext)
    {
        fail(
            &format!("{base}.fileExtension"),
            format!("`{ext}` must be empty or match \\.[0-9a-z!-_.*'()]+ (at most 128 characters)"),
        );
    }
}

/// Dynamic partitioning's rules: keys in the prefix only when enabled, each with its source
/// processor, the error prefix required and free of keys.
fn validate_partitioning(
    base: &str,
    d: &ObjectDelivery,
    prefix: Option<&PrefixTemplate>,
    fail: &mut impl FnMut(&str, String),
) {
    let dp = &d.dynamic_partitioning_configuration;
    let keys: Vec<&str> = prefix
        .map(|p| p.partition_keys().collect())
        .unwrap_or_default();
    let processing = &d.processing_configuration;
    let has = |t| processing.processor(t).is_some();
    if !(1..=5000).contains(&dp.active_partition_limit) {
        fail(
            &format!("{base}.dynamicPartitioningConfiguration.activePartitionLimit"),
            format!("{} is outside 1-5000", dp.active_partition_limit),
        );
    }
    if !(0..=7200).contains(&dp.retry_options.duration_in_seconds) {
        fail(
            &format!("{base}.dynamicPartitioningConfiguration.retryOptions.durationInSeconds"),
            format!("{} is outside 0-7200", dp.retry_options.duration_in_seconds),
        );
    }
    if !dp.enabled {
        if !keys.is_empty() {
            fail(
                &format!("{base}.prefix"),
                "partition keys need dynamicPartitioningConfiguration.enabled".into(),
            );
        }
        if has(ProcessorType::MetadataExtraction) {
            fail(
                &format!("{base}.processingConfiguration"),
                "MetadataExtraction needs dynamicPartitioningConfiguration.enabled".into(),
            );
        }
        return;
    }
    if keys.is_empty() {
        fail(
            &format!("{base}.prefix"),
            "with dynamic partitioning the prefix must use !{partitionKeyFromQuery:...} or !{partitionKeyFromLambda:...}".into(),
        );
    }
    if keys.iter().any(|k| k.starts_with("partitionKeyFromQuery:"))
        && !has(ProcessorType::MetadataExtraction)
    {
        fail(
            &format!("{base}.prefix"),
            "!{partitionKeyFromQuery:...} needs a MetadataExtraction processor".into(),
        );
    }
    if keys
        .iter()
        .any(|k| k.starts_with("partitionKeyFromLambda:"))
        && !has(ProcessorType::Lambda)
    {
        fail(
            &format!("{base}.prefix"),
            "!{partitionKeyFromLambda:...} needs a Lambda processor".into(),
        );
    }
    match d.error_output_prefix.as_deref().map(PrefixTemplate::parse) {
        None => fail(
            &format!("{base}.errorOutputPrefix"),
            "required with dynamic partitioning".into(),
        ),
        Some(Ok(e)) if e.partition_keys().next().is_some() => fail(
            &format!("{base}.errorOutputPrefix"),
            "may not use partition keys".into(),
        ),
        _ => {}
    }
}

fn valid_bucket(name: &str) -> bool {
    let bytes = name.as_bytes();
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-'))
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
}

fn valid_extension(ext: &str) -> bool {
    ext.is_empty()
        || (ext.len() <= 128
            && ext.starts_with('.')
            && ext.len() > 1
            && ext[1..].chars().all(|c| {
                c.is_ascii_lowercase()
                    || c.is_ascii_digit()
                    || matches!(c, '!' | '-' | '_' | '.' | '*' | '\'' | '(' | ')')
            }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::parse_manifest;

    fn stream(destination: &str) -> DeliveryStream {
        let yaml = format!(
            "apiVersion: hydrant.dev/v1alpha1\nkind: DeliveryStream\nmetadata:\n  name: s\nspec:\n  destination:\n{destination}"
        );
        parse_manifest(&yaml).unwrap()
    }

    #[test]
    fn a_minimal_spec_is_valid() {
        assert!(validate_spec(&stream("    local: {}\n")).is_empty());
    }

    #[test]
    fn errors_name_the_field() {
        let s = stream(
            "    s3:\n      bucket: Bad_Bucket\n      prefix: \"a/!{timestamp:yyyy}/\"\n      bufferingHints: {sizeInMBs: 129, intervalInSeconds: 901}\n      fileExtension: gz\n",
        );
        let paths: Vec<_> = validate_spec(&s).into_iter().map(|e| e.path).collect();
        assert_eq!(
            paths,
            vec![
                "spec.destination.s3.bucket",
                "spec.destination.s3.bufferingHints.sizeInMBs",
                "spec.destination.s3.bufferingHints.intervalInSeconds",
                "spec.destination.s3.errorOutputPrefix",
                "spec.destination.s3.fileExtension",
            ]
        );
    }

    #[test]
    fn the_source_backup_has_its_own_hints() {
        let s = stream(
            "    s3:\n      bucket: main\n      s3BackupMode: Enabled\n      s3BackupConfiguration:\n        bucket: source\n        bufferingHints: {sizeInMBs: 0, intervalInSeconds: 901}\n",
        );
        let paths: Vec<_> = validate_spec(&s).into_iter().map(|e| e.path).collect();
        assert_eq!(
            paths,
            vec![
                "spec.destination.s3.s3BackupConfiguration.bufferingHints.sizeInMBs",
                "spec.destination.s3.s3BackupConfiguration.bufferingHints.intervalInSeconds",
            ]
        );
        let s = stream(
            "    s3:\n      bucket: main\n      s3BackupMode: Enabled\n      s3BackupConfiguration: {bucket: source}\n",
        );
        let Destination::S3(s3) = &s.spec.destination else {
            panic!("s3");
        };
        let hints = s3
            .s3_backup_configuration
            .as_ref()
            .map(|b| b.buffering_hints);
        assert_eq!(hints, Some(crate::BufferingHints::default()));
        assert!(validate_spec(&s).is_empty());
    }

    #[test]
    fn error_prefix_with_expressions_needs_the_type() {
        let s = stream(
            "    local:\n      prefix: \"a/!{timestamp:yyyy}/\"\n      errorOutputPrefix: \"e/!{timestamp:yyyy}/\"\n",
        );
        let errors = validate_spec(&s);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.contains("error-output-type"));
    }

    #[test]
    fn processors_carry_their_own_parameters() {
        let s = stream(
            "    local:\n      processingConfiguration:\n        enabled: true\n        processors:\n        - type: Lambda\n        - type: RecordDeAggregation\n          recordDeAggregation: {subRecordType: DELIMITED, delimiter: \"!!\"}\n        - type: CloudWatchLogProcessing\n          lambda: {url: \"http://x\"}\n        - type: Lambda\n          lambda: {url: ftp://x, bufferSizeInMBs: 4}\n",
        );
        let paths: Vec<_> = validate_spec(&s).into_iter().map(|e| e.path).collect();
        let base = "spec.destination.local.processingConfiguration";
        assert_eq!(
            paths,
            vec![
                format!("{base}.processors[0].lambda"),
                format!("{base}.processors[1].recordDeAggregation.delimiter"),
                format!("{base}.processors[2].lambda"),
                format!("{base}.processors[3]"),
                format!("{base}.processors[3].lambda.url"),
                format!("{base}.processors[3].lambda.bufferSizeInMBs"),
                format!("{base}.processors"),
            ]
        );
    }
}
