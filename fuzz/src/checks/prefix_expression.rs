//! The S3 prefix-expression parser and key rendering.
//!
//! Asserts: a prefix that parses names objects: as the object prefix (unless it holds the
//! error-output type) and as the error prefix, every key renders for a sample record and
//! partition, ends with Firehose's suffix, and holds the prefix's literal text.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use crds::{PrefixPart, PrefixTemplate};
use dataplane::destination::object_identity::{Lane, ObjectIdentity};
use dataplane::destination::object_naming::ObjectNamer;
use dataplane::record::Batch;

const SUFFIX: &str = "stream-1-2023-11-14-22-13-20-";

pub fn check(input: &[u8]) {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let Ok(template) = PrefixTemplate::parse(text) else {
        return;
    };
    let at = Utc
        .timestamp_millis_opt(super::ARRIVAL_MS as i64)
        .single()
        .expect("a valid instant");
    let mut partition = BTreeMap::new();
    for part in &template.parts {
        if let PrefixPart::PartitionKey(key) = part {
            partition.insert(key.clone(), "value".to_owned());
        }
    }
    let literal: String = template
        .parts
        .iter()
        .filter_map(|p| match p {
            PrefixPart::Literal(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    let id = ObjectIdentity::of_batch(
        uuid::Uuid::nil(),
        Lane::Delivery,
        &Batch::from_records(0, super::ARRIVAL_MS, [&b"record"[..]]),
    );
    let literal_only = template
        .parts
        .iter()
        .all(|p| matches!(p, PrefixPart::Literal(_)));

    if !template.has_error_output_type() {
        let namer = ObjectNamer::new("stream", "1", Some(text), Some("errors/"), ".gz")
            .expect("a parsed prefix names objects");
        for key in [
            namer.object_key(at, &id),
            namer.partition_key(at, Some(&partition), &id),
        ] {
            assert_key(&key, ".gz");
            if literal_only {
                assert!(key.starts_with(&literal), "{key} / {literal}");
            }
        }
    }
    let namer = ObjectNamer::new("stream", "1", Some("data/"), Some(text), ".gz")
        .expect("a parsed error prefix names objects")
        .with_error_extension("");
    let key = namer.error_key("processing-failed", at, &id);
    assert_key(&key, "");
}

fn assert_key(key: &str, extension: &str) {
    let name = key
        .strip_suffix(extension)
        .expect("the extension ends the key");
    // `<stream>-<version>-<time>-<uuid>`: the UUID is 36 characters.
    assert!(name.len() >= SUFFIX.len() + 36, "{key}");
    let (rest, uuid) = name.split_at(name.len() - 36);
    assert!(rest.ends_with(SUFFIX), "{key}");
    assert!(uuid::Uuid::parse_str(uuid).is_ok(), "{key}");
}
