//! `processingConfiguration`: each processor carries the parameters of its own type only, once
//! per type, within Firehose's limits.

use super::{check_range, check_url};
use crate::{
    LambdaProcessor, ProcessingConfiguration, Processor, ProcessorType, RecordDeAggregation,
    SubRecordType,
};

/// Each processor carries the parameters of its own type only, once per type.
pub(super) fn validate_processing(
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
        check_parameters(&at, proc, fail);
        if let Some(l) = &proc.lambda {
            validate_lambda(&format!("{at}.lambda"), l, fail);
        }
        if let Some(d) = &proc.record_de_aggregation {
            validate_de_aggregation(&format!("{at}.recordDeAggregation.delimiter"), d, fail);
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

/// Parameters of another type are a mistake; the types that cannot run without theirs need them.
fn check_parameters(at: &str, proc: &Processor, fail: &mut impl FnMut(&str, String)) {
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
}

/// The transformation service's address and Firehose's limits on its invocation.
fn validate_lambda(at: &str, l: &LambdaProcessor, fail: &mut impl FnMut(&str, String)) {
    check_url(&format!("{at}.url"), &l.url, fail);
    if !(0.2..=3.0).contains(&l.buffer_size_in_mbs) {
        fail(
            &format!("{at}.bufferSizeInMBs"),
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
        check_range(&format!("{at}.{field}"), value, lo, hi, fail);
    }
}

/// The delimiter (base64, as in Firehose's API) belongs to DELIMITED sub-records only and must
/// decode to at least one byte. `path` is the delimiter's.
fn validate_de_aggregation(
    path: &str,
    d: &RecordDeAggregation,
    fail: &mut impl FnMut(&str, String),
) {
    match (d.sub_record_type, &d.delimiter) {
        (SubRecordType::Delimited, None) => fail(
            path,
            "required for DELIMITED (base64 of the delimiter)".into(),
        ),
        (SubRecordType::Delimited, Some(b64)) => {
            use base64::Engine;
            match base64::engine::general_purpose::STANDARD.decode(b64) {
                Ok(bytes) if !bytes.is_empty() => {}
                _ => fail(
                    path,
                    format!("`{b64}` is not the base64 of a non-empty delimiter"),
                ),
            }
        }
        (_, Some(_)) => fail(path, "only DELIMITED takes a delimiter".into()),
        (_, None) => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::validate::tests::stream;
    use crate::validate::validate_spec;

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
