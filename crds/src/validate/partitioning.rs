//! Dynamic partitioning's rules: keys in the prefix only when enabled, each with its source
//! processor, the error prefix required and free of keys.

use super::{check_range, check_retry};
use crate::{ObjectDelivery, PrefixTemplate, ProcessorType};

/// `prefix` is `d.prefix` parsed (None when unset or unparsable, which is reported already).
pub(super) fn validate_partitioning(
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
    let at = format!("{base}.dynamicPartitioningConfiguration");
    check_range(
        &format!("{at}.activePartitionLimit"),
        dp.active_partition_limit,
        1,
        5000,
        fail,
    );
    check_retry(&at, &dp.retry_options, fail);
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
