//! Glue/Hive column types as Arrow types (what the Parquet writer writes).

use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, Schema, TimeUnit};
use crds::{HiveType, SchemaConfiguration};

pub fn arrow_schema(s: &SchemaConfiguration) -> anyhow::Result<Schema> {
    let mut fields = Vec::with_capacity(s.columns.len());
    for c in &s.columns {
        let t =
            HiveType::parse(&c.r#type).map_err(|e| anyhow::anyhow!("column {}: {e}", c.name))?;
        fields.push(Field::new(
            c.name.to_ascii_lowercase(),
            arrow_type(&t),
            true,
        ));
    }
    Ok(Schema::new(fields))
}

pub fn arrow_type(t: &HiveType) -> DataType {
    match t {
        HiveType::String => DataType::Utf8,
        HiveType::TinyInt => DataType::Int8,
        HiveType::SmallInt => DataType::Int16,
        HiveType::Int => DataType::Int32,
        HiveType::BigInt => DataType::Int64,
        HiveType::Float => DataType::Float32,
        HiveType::Double => DataType::Float64,
        HiveType::Boolean => DataType::Boolean,
        HiveType::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, None),
        HiveType::Date => DataType::Date32,
        HiveType::Binary => DataType::Binary,
        HiveType::Decimal(p, s) => DataType::Decimal128(*p, *s),
        HiveType::Array(item) => {
            DataType::List(Arc::new(Field::new("element", arrow_type(item), true)))
        }
        HiveType::Map(k, v) => DataType::Map(
            Arc::new(Field::new(
                "key_value",
                DataType::Struct(Fields::from(vec![
                    Field::new("key", arrow_type(k), false),
                    Field::new("value", arrow_type(v), true),
                ])),
                false,
            )),
            false,
        ),
        HiveType::Struct(fields) => DataType::Struct(Fields::from(
            fields
                .iter()
                // Hive keeps struct field names in lower case, as column names.
                .map(|(n, t)| Field::new(n.to_ascii_lowercase(), arrow_type(t), true))
                .collect::<Vec<_>>(),
        )),
    }
}
