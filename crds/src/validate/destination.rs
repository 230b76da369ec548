//! `spec.destination`: what every kind shares (its processors), then one function per kind,
//! each checking its own fields, hints and retry window, and its backup bucket.

use super::object::{check_object_hints, validate_delivery};
use super::processing::validate_processing;
use super::{check_hints, check_range, check_retry, check_url};
use crate::{
    CompressionFormat, Destination, HttpEndpointDestination, LocalDestination,
    OpenSearchDestination, PostgresqlDestination, PrefixTemplate, ProcessorType,
    RedshiftDestination, S3Destination, SourceBackupMode, SplunkDestination,
};

pub(super) fn validate_destination(d: &Destination, fail: &mut impl FnMut(&str, String)) {
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
    match d {
        Destination::S3(s3) => validate_s3(&base, s3, fail),
        Destination::Local(local) => validate_local(&base, local, fail),
        Destination::OpenSearch(os) => validate_opensearch(&base, os, fail),
        Destination::Splunk(sp) => validate_splunk(&base, sp, fail),
        Destination::HttpEndpoint(h) => validate_http_endpoint(&base, h, fail),
        Destination::Redshift(r) => validate_redshift(&base, r, fail),
        Destination::Postgresql(pg) => validate_postgresql(&base, pg, fail),
    }
}

/// An S3 destination, or the `s3Configuration` (failed records, backups) of the others.
fn validate_s3(base: &str, s3: &S3Destination, fail: &mut impl FnMut(&str, String)) {
    if !valid_bucket(&s3.location.bucket) {
        fail(
            &format!("{base}.bucket"),
            format!(
                "`{}` is not a valid bucket name: 3-63 characters of [a-z0-9.-], starting and ending with a letter or digit",
                s3.location.bucket
            ),
        );
    }
    if let Some(endpoint) = &s3.location.endpoint {
        check_url(&format!("{base}.endpoint"), endpoint, fail);
    }
    validate_delivery(base, &s3.delivery, fail);
    match (&s3.s3_backup_mode, &s3.s3_backup_configuration) {
        (SourceBackupMode::Enabled, None) => fail(
            &format!("{base}.s3BackupConfiguration"),
            "required when s3BackupMode is Enabled".into(),
        ),
        (SourceBackupMode::Enabled, Some(backup)) => {
            let at = format!("{base}.s3BackupConfiguration");
            if !valid_bucket(&backup.location.bucket) {
                fail(
                    &format!("{at}.bucket"),
                    format!("`{}` is not a valid bucket name", backup.location.bucket),
                );
            }
            if let Some(Err(e)) = backup.prefix.as_deref().map(PrefixTemplate::parse) {
                fail(&format!("{at}.prefix"), e.to_string());
            }
            check_object_hints(&at, backup.buffering_hints, fail);
        }
        (SourceBackupMode::Disabled, Some(_)) => fail(
            &format!("{base}.s3BackupMode"),
            "s3BackupConfiguration is set but s3BackupMode is Disabled".into(),
        ),
        (SourceBackupMode::Disabled, None) => {}
    }
}

fn validate_local(base: &str, local: &LocalDestination, fail: &mut impl FnMut(&str, String)) {
    if local.directory.is_empty() {
        fail(&format!("{base}.directory"), "must not be empty".into());
    }
    validate_delivery(base, &local.delivery, fail);
}

fn validate_opensearch(
    base: &str,
    os: &OpenSearchDestination,
    fail: &mut impl FnMut(&str, String),
) {
    check_url(&format!("{base}.endpoint"), &os.endpoint, fail);
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
    check_hints(base, os.buffering_hints, 100, 900, fail);
    check_retry(base, &os.retry_options, fail);
    validate_s3(
        &format!("{base}.s3Configuration"),
        &os.s3_configuration,
        fail,
    );
}

fn validate_splunk(base: &str, sp: &SplunkDestination, fail: &mut impl FnMut(&str, String)) {
    check_url(&format!("{base}.hecEndpoint"), &sp.hec_endpoint, fail);
    check_range(
        &format!("{base}.hecAcknowledgmentTimeoutInSeconds"),
        sp.hec_acknowledgment_timeout_in_seconds,
        180,
        600,
        fail,
    );
    check_hints(base, sp.buffering_hints, 5, 60, fail);
    check_retry(base, &sp.retry_options, fail);
    validate_s3(
        &format!("{base}.s3Configuration"),
        &sp.s3_configuration,
        fail,
    );
}

fn validate_http_endpoint(
    base: &str,
    h: &HttpEndpointDestination,
    fail: &mut impl FnMut(&str, String),
) {
    let url = &h.endpoint_configuration.url;
    check_url(&format!("{base}.endpointConfiguration.url"), url, fail);
    if url.len() > 1000 {
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
                "attributeName must be 1-256 characters and attributeValue at most 1024".into(),
            );
        }
    }
    check_hints(base, h.buffering_hints, 64, 900, fail);
    check_retry(base, &h.retry_options, fail);
    validate_s3(
        &format!("{base}.s3Configuration"),
        &h.s3_configuration,
        fail,
    );
}

/// Redshift loads with COPY from the intermediate bucket, which constrains that bucket's prefix
/// and compression; its batches are cut by the intermediate bucket's hints.
fn validate_redshift(base: &str, r: &RedshiftDestination, fail: &mut impl FnMut(&str, String)) {
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
    check_retry(base, &r.retry_options, fail);
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

fn validate_postgresql(
    base: &str,
    pg: &PostgresqlDestination,
    fail: &mut impl FnMut(&str, String),
) {
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
        // PostgreSQL truncates identifiers beyond 63 bytes (NAMEDATALEN - 1).
        if c.is_empty() || c.len() > 63 {
            fail(
                &format!("{base}.columns[{i}]"),
                "a column name is 1-63 characters".into(),
            );
        }
    }
    check_hints(base, pg.buffering_hints, 128, 900, fail);
    check_retry(base, &pg.retry_options, fail);
    validate_s3(
        &format!("{base}.s3Configuration"),
        &pg.s3_configuration,
        fail,
    );
}

/// S3's bucket naming rules: 3-63 characters of [a-z0-9.-], starting and ending with a letter or
/// digit.
fn valid_bucket(name: &str) -> bool {
    let bytes = name.as_bytes();
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-'))
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
}

#[cfg(test)]
mod tests {
    use crate::Destination;
    use crate::validate::tests::stream;
    use crate::validate::validate_spec;

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
}
