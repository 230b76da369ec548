//! Object delivery (s3, local, and every `s3Configuration`): buffering hints, the prefix and
//! error prefix, format conversion and the file extension.

use super::check_hints;
use super::partitioning::validate_partitioning;
use crate::{BufferingHints, CompressionFormat, HiveType, ObjectDelivery, PrefixTemplate};

/// An object store's buffering hints: 1-128 MiB, 0-900 s.
pub(super) fn check_object_hints(
    base: &str,
    hints: BufferingHints,
    fail: &mut impl FnMut(&str, String),
) {
    check_hints(base, hints, 128, 900, fail);
}

pub(super) fn validate_delivery(
    base: &str,
    d: &ObjectDelivery,
    fail: &mut impl FnMut(&str, String),
) {
    check_object_hints(base, d.buffering_hints, fail);
    let prefix = validate_prefixes(base, d, fail);
    validate_partitioning(base, d, prefix.as_ref(), fail);
    validate_conversion(base, d, fail);
    validate_level(base, d, fail);
    if let Some(ext) = &d.file_extension
        && !valid_extension(ext)
    {
        fail(
            &format!("{base}.fileExtension"),
            format!("`{ext}` must be empty or match \\.[0-9a-z!-_.*'()]+ (at most 128 characters)"),
        );
    }
}

/// Firehose's prefix rules: the error-output type only in the error prefix, which expressions in
/// either prefix make necessary; 1024 characters at most. Returns the prefix, parsed, for the
/// partitioning rules.
fn validate_prefixes(
    base: &str,
    d: &ObjectDelivery,
    fail: &mut impl FnMut(&str, String),
) -> Option<PrefixTemplate> {
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
    prefix
}

/// A compression level: 1-9, and only for the deflate formats.
fn validate_level(base: &str, d: &ObjectDelivery, fail: &mut impl FnMut(&str, String)) {
    let Some(level) = d.compression_level else {
        return;
    };
    let at = format!("{base}.compressionLevel");
    if !(1..=9).contains(&level) {
        fail(&at, format!("{level} is outside 1-9"));
    }
    if !matches!(
        d.compression_format,
        CompressionFormat::Gzip | CompressionFormat::Zip
    ) {
        fail(
            &at,
            format!(
                "applies only to GZIP and ZIP, not {}",
                d.compression_format.as_firehose()
            ),
        );
    }
}

/// Parquet conversion, when enabled: uncompressed objects (Parquet compresses itself), Firehose's
/// 64 MiB minimum batch, and a schema of known Hive types with unique (case-insensitive) names.
fn validate_conversion(base: &str, d: &ObjectDelivery, fail: &mut impl FnMut(&str, String)) {
    let Some(c) = d
        .data_format_conversion_configuration
        .as_deref()
        .filter(|c| c.enabled)
    else {
        return;
    };
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
        if let Err(e) = HiveType::parse(&col.r#type) {
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

/// Firehose's file extension rule: empty, or a dot and up to 127 of [0-9a-z!-_.*'()].
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
    use crate::validate::tests::stream;
    use crate::validate::validate_spec;

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
    fn compression_level_is_1_to_9_and_only_for_deflate_formats() {
        let at = |format: &str, level: u32| {
            let s = stream(&format!(
                "    local:\n      compressionFormat: {format}\n      compressionLevel: {level}\n"
            ));
            validate_spec(&s)
                .into_iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
        };
        for level in [1, 6, 9] {
            assert!(at("GZIP", level).is_empty(), "GZIP {level}");
            assert!(at("ZIP", level).is_empty(), "ZIP {level}");
        }
        for level in [0, 10] {
            let errors = at("GZIP", level);
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(errors[0].contains("outside 1-9"), "{errors:?}");
        }
        let errors = at("Snappy", 6);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("compressionLevel") && errors[0].contains("not Snappy"),
            "{errors:?}"
        );
    }
}
