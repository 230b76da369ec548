//! The JSON SerDe rules: which key feeds which column (case-insensitive matching, dots to
//! underscores, explicit column-to-key mappings) and how timestamps are read.

use std::collections::HashMap;

use arrow_schema::{DataType, Schema};
use chrono::{NaiveDate, NaiveDateTime};
use serde_json::{Map, Value};

use crate::record::Failure;
use crds::{Deserializer, InputFormatConfiguration, SchemaConfiguration};

pub struct Normalizer {
    /// (column, the key it reads after normalisation, is a timestamp, is a date).
    columns: Vec<(String, String, bool, bool)>,
    /// Per column: its type when it holds structs whose field names need the same
    /// normalisation as column names.
    nested: Vec<Option<DataType>>,
    /// Normalised key → the columns it feeds (several when mappings share a key).
    index: HashMap<String, Vec<usize>>,
    case_insensitive: bool,
    dots_to_underscores: bool,
    /// Hive SerDe timestamp formats (chrono patterns), or `millis`.
    timestamp_formats: Vec<String>,
}

impl Normalizer {
    pub fn new(s: &SchemaConfiguration, input: &InputFormatConfiguration, schema: &Schema) -> Self {
        let (case_insensitive, dots, mappings, formats) = match &input.deserializer {
            Deserializer::OpenXJsonSerDe(o) => (
                o.case_insensitive,
                o.convert_dots_in_json_keys_to_underscores,
                o.column_to_json_key_mappings.clone(),
                Vec::new(),
            ),
            // The Hive SerDe matches names case-insensitively.
            Deserializer::HiveJsonSerDe(h) => (
                true,
                false,
                Default::default(),
                h.timestamp_formats
                    .iter()
                    .map(|f| java_to_chrono(f))
                    .collect(),
            ),
        };
        let mut out = Self {
            columns: Vec::new(),
            nested: Vec::new(),
            index: HashMap::new(),
            case_insensitive,
            dots_to_underscores: dots,
            timestamp_formats: formats,
        };
        for (c, field) in s.columns.iter().zip(schema.fields()) {
            let name = c.name.to_ascii_lowercase();
            let key = mappings
                .get(&c.name)
                .or_else(|| mappings.get(&name))
                .cloned()
                .unwrap_or_else(|| c.name.clone());
            let key = out.normalize_key(&key);
            let ts = matches!(field.data_type(), DataType::Timestamp(..));
            let date = matches!(field.data_type(), DataType::Date32);
            out.index
                .entry(key.clone())
                .or_default()
                .push(out.columns.len());
            out.columns.push((name, key, ts, date));
            out.nested.push(
                ((out.case_insensitive || out.dots_to_underscores)
                    && has_struct(field.data_type()))
                .then(|| field.data_type().clone()),
            );
        }
        out
    }

    /// `v` with the field names of its structs normalised like column names, so they match
    /// the schema's (lower-case) struct fields; map keys are left as they are.
    fn nest(&self, v: Value, t: &DataType) -> Value {
        match (v, t) {
            (Value::Object(m), DataType::Struct(fields)) => Value::Object(
                m.into_iter()
                    .map(|(k, v)| {
                        let k = self.normalized(&k).into_owned();
                        let v = match fields.iter().find(|f| f.name() == &k) {
                            Some(f) => self.nest(v, f.data_type()),
                            None => v,
                        };
                        (k, v)
                    })
                    .collect(),
            ),
            (Value::Array(items), DataType::List(item)) => Value::Array(
                items
                    .into_iter()
                    .map(|v| self.nest(v, item.data_type()))
                    .collect(),
            ),
            (Value::Object(m), DataType::Map(entry, _)) => {
                let DataType::Struct(kv) = entry.data_type() else {
                    return Value::Object(m);
                };
                let Some(value) = kv.get(1) else {
                    return Value::Object(m);
                };
                Value::Object(
                    m.into_iter()
                        .map(|(k, v)| (k, self.nest(v, value.data_type())))
                        .collect(),
                )
            }
            (v, _) => v,
        }
    }

    fn normalize_key(&self, key: &str) -> String {
        self.normalized(key).into_owned()
    }

    /// The key as columns are looked up: allocates only when it changes.
    fn normalized<'k>(&self, key: &'k str) -> std::borrow::Cow<'k, str> {
        use std::borrow::Cow;
        let dots = self.dots_to_underscores && key.contains('.');
        let upper = self.case_insensitive && key.chars().any(char::is_uppercase);
        if !dots && !upper {
            return Cow::Borrowed(key);
        }
        let k = if dots {
            key.replace('.', "_")
        } else {
            key.to_owned()
        };
        Cow::Owned(if upper { k.to_lowercase() } else { k })
    }

    /// The record as an object of the schema's columns.
    pub fn row(&self, record: &[u8]) -> Result<Value, Failure> {
        let parse = |why: String| Failure::new("DataFormatConversion.ParseError", why);
        let value: Value = serde_json::from_slice(record.trim_ascii())
            .map_err(|e| parse(format!("the record is not valid JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(parse("the record is JSON but not an object".into()));
        };
        let mut slots: Vec<Option<Value>> = vec![None; self.columns.len()];
        for (k, v) in map {
            if let Some(columns) = self.index.get(self.normalized(&k).as_ref())
                && let Some((&last, others)) = columns.split_last()
            {
                for &i in others {
                    slots[i] = Some(v.clone());
                }
                slots[last] = Some(v);
            }
        }
        let mut row = Map::with_capacity(self.columns.len());
        for (((column, _, ts, date), nested), slot) in
            self.columns.iter().zip(&self.nested).zip(slots)
        {
            let Some(mut v) = slot else {
                continue;
            };
            if let Some(t) = nested {
                v = self.nest(v, t);
            }
            let v = match (&v, ts, date) {
                (Value::String(s), true, _) => Value::from(self.timestamp(s).ok_or_else(|| {
                    Failure::new(
                        "DataFormatConversion.MalformedData",
                        format!("column {column}: `{s}` is not a timestamp"),
                    )
                })?),
                (Value::String(s), _, true) => {
                    // Dates are written as days since the epoch.
                    let d = NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d")
                        .map_err(|_| {
                            Failure::new(
                                "DataFormatConversion.MalformedData",
                                format!("column {column}: `{s}` is not a date"),
                            )
                        })?;
                    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(NaiveDate::MIN);
                    Value::from((d - epoch).num_days())
                }
                _ => v,
            };
            row.insert(column.clone(), v);
        }
        Ok(Value::Object(row))
    }

    /// Epoch milliseconds of a timestamp string: ISO-8601, `yyyy-MM-dd HH:mm:ss[.fff]`, or a
    /// configured format.
    fn timestamp(&self, s: &str) -> Option<i64> {
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
            return Some(t.timestamp_millis());
        }
        for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
            if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
                return Some(t.and_utc().timestamp_millis());
            }
        }
        for f in &self.timestamp_formats {
            if f == "millis" {
                if let Ok(ms) = s.parse::<i64>() {
                    return Some(ms);
                }
                continue;
            }
            if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
                return Some(t.and_utc().timestamp_millis());
            }
        }
        None
    }
}

/// Whether a type holds a struct anywhere.
fn has_struct(t: &DataType) -> bool {
    match t {
        DataType::Struct(_) => true,
        DataType::List(item) => has_struct(item.data_type()),
        // Only map values are normalised: the entry struct (key, value) itself is not.
        DataType::Map(entry, _) => match entry.data_type() {
            DataType::Struct(kv) => kv.get(1).is_some_and(|v| has_struct(v.data_type())),
            _ => false,
        },
        _ => false,
    }
}

/// A Joda/Java pattern (`yyyy-MM-dd'T'HH:mm:ss.SSS`) as a chrono format; `millis` stays.
fn java_to_chrono(f: &str) -> String {
    if f == "millis" {
        return f.to_owned();
    }
    let mut out = String::new();
    let chars: Vec<char> = f.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                out.push(chars[i]);
                i += 1;
            }
            i += 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|&&x| x == c).count();
        let spec = match (c, run) {
            ('y', 4) => Some("%Y"),
            ('y', 2) => Some("%y"),
            ('M', 2) => Some("%m"),
            ('d', 2) => Some("%d"),
            ('H', 2) => Some("%H"),
            ('m', 2) => Some("%M"),
            ('s', 2) => Some("%S"),
            ('S', _) => Some("%3f"),
            _ => None,
        };
        match spec {
            Some(s) => out.push_str(s),
            None => out.extend(std::iter::repeat_n(c, run)),
        }
        i += run;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_mapped_to_one_key_all_receive_it() {
        let columns: SchemaConfiguration = serde_json::from_value(serde_json::json!({
            "columns": [
                {"name": "id", "type": "string"},
                {"name": "id_copy", "type": "string"},
                {"name": "other", "type": "int"}
            ]
        }))
        .expect("schema");
        let input: InputFormatConfiguration = serde_json::from_value(serde_json::json!({
            "deserializer": {"openXJsonSerDe": {"columnToJsonKeyMappings": {"id_copy": "id"}}}
        }))
        .expect("input");
        let schema = crate::convert::schema::arrow_schema(&columns).expect("arrow schema");
        let n = Normalizer::new(&columns, &input, &schema);
        let row = n.row(br#"{"ID": "a1", "Other": 5}"#).expect("row");
        assert_eq!(
            row,
            serde_json::json!({"id": "a1", "id_copy": "a1", "other": 5})
        );
    }

    #[test]
    fn struct_fields_match_whatever_their_case() {
        let columns: SchemaConfiguration = serde_json::from_value(serde_json::json!({
            "columns": [
                {"name": "Customer", "type": "struct<Id:bigint,Address:struct<City:string>>"},
                {"name": "items", "type": "array<struct<SKU:string>>"},
                {"name": "tags", "type": "map<string,struct<Level:int>>"}
            ]
        }))
        .expect("schema");
        let schema = crate::convert::schema::arrow_schema(&columns).expect("arrow schema");
        let n = Normalizer::new(&columns, &InputFormatConfiguration::default(), &schema);
        let row = n
            .row(br#"{"CUSTOMER": {"ID": 7, "address": {"CITY": "Oslo"}}, "Items": [{"Sku": "a"}], "tags": {"Blue": {"LEVEL": 2}}}"#)
            .expect("row");
        assert_eq!(
            row,
            serde_json::json!({
                "customer": {"id": 7, "address": {"city": "Oslo"}},
                "items": [{"sku": "a"}],
                "tags": {"Blue": {"level": 2}}
            })
        );
    }

    #[test]
    fn java_patterns_become_chrono_formats() {
        assert_eq!(java_to_chrono("yyyy-MM-dd'T'HH:mm:ss"), "%Y-%m-%dT%H:%M:%S");
        assert_eq!(java_to_chrono("dd/MM/yyyy HH:mm"), "%d/%m/%Y %H:%M");
    }
}
