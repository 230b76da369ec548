//! Record format conversion (docs/processing.md, "Record format conversion"): JSON records become one Parquet object per batch,
//! read through the OpenX or Hive JSON SerDe rules against an inline Glue/Hive schema. Records
//! that do not fit the schema go to the `format-conversion-failed` error output; the rest of
//! the batch is written.

mod normalize;
mod schema;

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_json::ReaderBuilder;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde_json::Value;

use crate::record::{Batch, Failure};
use crds::{DataFormatConversionConfiguration, ParquetCompression};

pub use normalize::Normalizer;

/// Records parsed and decoded at a time.
const CHUNK_ROWS: usize = 8192;

/// Converts batches to Parquet.
pub struct Converter {
    schema: SchemaRef,
    normalizer: Normalizer,
    properties: WriterProperties,
}

/// A converted batch: the Parquet file (None when no record converted) and the records that
/// failed, by index.
pub struct Converted {
    pub parquet: Option<Vec<u8>>,
    pub failed: Vec<(usize, Failure)>,
}

impl Converter {
    pub fn build(c: &DataFormatConversionConfiguration) -> anyhow::Result<Self> {
        let schema = Arc::new(schema::arrow_schema(&c.schema_configuration)?);
        let serde = &c.output_format_configuration.serializer.parquet_ser_de;
        let compression = match serde.compression {
            ParquetCompression::Snappy => Compression::SNAPPY,
            ParquetCompression::Gzip => Compression::GZIP(Default::default()),
            ParquetCompression::Zstd => Compression::ZSTD(Default::default()),
            ParquetCompression::Uncompressed => Compression::UNCOMPRESSED,
        };
        let properties = WriterProperties::builder()
            .set_compression(compression)
            .set_dictionary_enabled(serde.enable_dictionary_compression)
            .set_data_page_size_limit(serde.page_size_bytes.max(1 << 16) as usize)
            .set_max_row_group_bytes(Some(serde.block_size_bytes.max(1 << 20) as usize))
            .build();
        Ok(Self {
            normalizer: Normalizer::new(
                &c.schema_configuration,
                &c.input_format_configuration,
                &schema,
            ),
            schema,
            properties,
        })
    }

    pub fn convert(&self, batch: &Batch) -> Converted {
        let mut failed = Vec::new();
        let mut writer: Option<ArrowWriter<Vec<u8>>> = None;
        let mut result: parquet::errors::Result<()> = Ok(());
        // A chunk at a time: the parsed rows of a whole batch would take several times its
        // size in memory, and the writer buffers row groups itself.
        let mut start = 0;
        while start < batch.len() && result.is_ok() {
            let end = (start + CHUNK_ROWS).min(batch.len());
            let mut rows: Vec<(usize, Value)> = Vec::with_capacity(end - start);
            for i in start..end {
                match self.normalizer.row(batch.record(i)) {
                    Ok(v) => rows.push((i, v)),
                    Err(f) => failed.push((i, f)),
                }
            }
            let mut decoded = Vec::new();
            self.decode(&rows, &mut decoded, &mut failed);
            result = decoded.iter().try_for_each(|b| {
                let w = match &mut writer {
                    Some(w) => w,
                    None => writer.insert(ArrowWriter::try_new(
                        Vec::new(),
                        self.schema.clone(),
                        Some(self.properties.clone()),
                    )?),
                };
                w.write(b)
            });
            start = end;
        }
        failed.sort_by_key(|(i, _)| *i);
        match (result, writer) {
            (Ok(()), None) => Converted {
                parquet: None,
                failed,
            },
            (Ok(()), Some(w)) => match w.into_inner() {
                Ok(bytes) => Converted {
                    parquet: Some(bytes),
                    failed,
                },
                Err(e) => Self::all_failed(batch, e),
            },
            (Err(e), _) => Self::all_failed(batch, e),
        }
    }

    /// Writing valid arrays cannot fail short of a bug; fail everything loudly.
    fn all_failed(batch: &Batch, e: parquet::errors::ParquetError) -> Converted {
        let f = Failure::new("DataFormatConversion.WriteFailed", e.to_string());
        Converted {
            parquet: None,
            failed: (0..batch.len()).map(|i| (i, f.clone())).collect(),
        }
    }

    /// Decodes rows into record batches; a part that fails is halved until the refused rows
    /// are alone.
    fn decode(
        &self,
        rows: &[(usize, Value)],
        out: &mut Vec<RecordBatch>,
        failed: &mut Vec<(usize, Failure)>,
    ) {
        if rows.is_empty() {
            return;
        }
        let attempt = || -> Result<Option<RecordBatch>, arrow_schema::ArrowError> {
            let mut decoder = ReaderBuilder::new(self.schema.clone())
                .with_batch_size(rows.len().max(1))
                .build_decoder()?;
            let values: Vec<&Value> = rows.iter().map(|(_, v)| v).collect();
            decoder.serialize(&values)?;
            decoder.flush()
        };
        match attempt() {
            Ok(Some(b)) => out.push(b),
            Ok(None) => {}
            Err(e) if rows.len() == 1 => failed.push((
                rows[0].0,
                Failure::new("DataFormatConversion.MalformedData", e.to_string()),
            )),
            Err(_) => {
                let (a, b) = rows.split_at(rows.len() / 2);
                self.decode(a, out, failed);
                self.decode(b, out, failed);
            }
        }
    }
}
