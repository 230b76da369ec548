use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Firehose's `DataFormatConversionConfiguration`: JSON records become Parquet objects. The
/// schema is given inline (Firehose reads it from the Glue Data Catalog).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataFormatConversionConfiguration {
    #[serde(default = "yes")]
    pub enabled: bool,
    pub schema_configuration: SchemaConfiguration,
    #[serde(default)]
    pub input_format_configuration: InputFormatConfiguration,
    #[serde(default)]
    pub output_format_configuration: OutputFormatConfiguration,
}

fn yes() -> bool {
    true
}

/// The table's columns, with Glue/Hive types.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchemaConfiguration {
    #[schemars(length(min = 1, max = 1000))]
    pub columns: Vec<Column>,
}

/// One column: a lowercase name and a Hive type: `string`, `int`, `bigint`, `smallint`,
/// `tinyint`, `double`, `float`, `boolean`, `timestamp`, `date`, `decimal(p,s)`, `array<T>`,
/// `map<K,V>`, `struct<name:T,...>`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Column {
    #[schemars(length(min = 1, max = 255))]
    pub name: String,
    #[schemars(length(min = 1, max = 4096))]
    pub r#type: String,
}

/// How records are read: exactly one deserializer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputFormatConfiguration {
    pub deserializer: Deserializer,
}

impl Default for InputFormatConfiguration {
    fn default() -> Self {
        Self {
            deserializer: Deserializer::OpenXJsonSerDe(OpenXJsonSerDe::default()),
        }
    }
}

/// Firehose's `Deserializer`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Deserializer {
    #[serde(rename = "openXJsonSerDe")]
    OpenXJsonSerDe(OpenXJsonSerDe),
    HiveJsonSerDe(HiveJsonSerDe),
}

/// The OpenX JSON SerDe's options.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenXJsonSerDe {
    /// `a.b` keys are read as `a_b` columns.
    #[serde(default)]
    pub convert_dots_in_json_keys_to_underscores: bool,
    /// Keys match columns whatever their case.
    #[serde(default = "yes")]
    pub case_insensitive: bool,
    /// Column name → the JSON key it is read from.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub column_to_json_key_mappings: BTreeMap<String, String>,
}

impl Default for OpenXJsonSerDe {
    fn default() -> Self {
        Self {
            convert_dots_in_json_keys_to_underscores: false,
            case_insensitive: true,
            column_to_json_key_mappings: BTreeMap::new(),
        }
    }
}

/// The Hive JSON SerDe's options.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HiveJsonSerDe {
    /// Timestamp formats besides the default (`yyyy-MM-dd HH:mm:ss[.fff]` and ISO-8601):
    /// `millis` (epoch milliseconds) or a pattern of `yyyy MM dd HH mm ss SSS` and literals.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timestamp_formats: Vec<String>,
}

/// How objects are written: Parquet.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputFormatConfiguration {
    #[serde(default)]
    pub serializer: Serializer,
}

/// Firehose's `Serializer` (ORC is not available).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Serializer {
    #[serde(default)]
    pub parquet_ser_de: ParquetSerDe,
}

/// The Parquet SerDe's options.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParquetSerDe {
    #[serde(default)]
    pub compression: ParquetCompression,
    /// Row groups are cut at about this many bytes.
    #[serde(default = "default_block")]
    #[schemars(range(min = 67108864))]
    pub block_size_bytes: i64,
    #[serde(default = "default_page")]
    #[schemars(range(min = 65536))]
    pub page_size_bytes: i64,
    #[serde(default = "yes")]
    pub enable_dictionary_compression: bool,
}

fn default_block() -> i64 {
    256 << 20
}
fn default_page() -> i64 {
    1 << 20
}

impl Default for ParquetSerDe {
    fn default() -> Self {
        Self {
            compression: ParquetCompression::default(),
            block_size_bytes: default_block(),
            page_size_bytes: default_page(),
            enable_dictionary_compression: true,
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ParquetCompression {
    #[default]
    #[serde(rename = "SNAPPY")]
    Snappy,
    #[serde(rename = "GZIP")]
    Gzip,
    #[serde(rename = "ZSTD")]
    Zstd,
    #[serde(rename = "UNCOMPRESSED")]
    Uncompressed,
}
