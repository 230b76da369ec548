//! The Hive (Glue) column-type parser, and the Parquet schema built from a parsed type.
//!
//! Asserts: parsing ignores ASCII case; a type that parses makes a working converter, which
//! writes a Parquet file for records that leave the column out or null.

use crds::{DataFormatConversionConfiguration, HiveType};
use dataplane::convert::Converter;
use dataplane::record::Batch;

pub fn check(input: &[u8]) {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let parsed = HiveType::parse(text);
    assert_eq!(
        HiveType::parse(&text.to_ascii_uppercase()).is_ok(),
        parsed.is_ok()
    );
    let Ok(parsed) = parsed else {
        return;
    };
    assert_eq!(HiveType::parse(&text.to_ascii_uppercase()), Ok(parsed));
    let config: DataFormatConversionConfiguration = serde_json::from_value(serde_json::json!({
        "schemaConfiguration": {"columns": [{"name": "c", "type": text}]},
    }))
    .expect("a conversion configuration");
    let converter = Converter::build(&config).expect("a parsed type builds a converter");
    let batch = Batch::from_records(0, super::ARRIVAL_MS, [&b"{}"[..], b"{\"c\":null}"]);
    let converted = converter.convert(&batch);
    assert!(converted.failed.is_empty(), "{:?}", converted.failed);
    assert!(converted.parquet.is_some());
}
