//! Builds PutRecordBatch (or PutRecord) request bodies straight into a reusable buffer.
//!
//! Each record is generated into a scratch buffer and base64-encoded (SIMD engine where the CPU
//! supports it) directly into its slot in the JSON body, so a body costs one pass of record
//! generation, one CRC32C and one base64 encode per record, and no per-record allocation.

use std::sync::Arc;

use anyhow::{Context, Result};
use base64::Engine as _;
use bytes::BytesMut;

use crate::record::{RecordGen, RecordId};

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
type Base64 = base64::engine::Simd;

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn base64_engine() -> Base64 {
    base64::engine::Simd::standard(base64::engine::general_purpose::PAD)
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
type Base64 = base64::engine::GeneralPurpose;

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn base64_engine() -> Base64 {
    base64::engine::general_purpose::STANDARD
}

const RECORD_OPEN: &[u8] = b"{\"Data\":\"";
const RECORD_CLOSE: &[u8] = b"\"}";

/// The Firehose operation the load sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Operation {
    /// Up to 500 records a request (`Records: [...]`).
    PutRecordBatch,
    /// One record a request (`Record: {...}`).
    PutRecord,
}

impl Operation {
    /// The `X-Amz-Target` header value.
    pub fn target(self) -> &'static str {
        match self {
            Self::PutRecordBatch => "Firehose_20150804.PutRecordBatch",
            Self::PutRecord => "Firehose_20150804.PutRecord",
        }
    }

    fn records_member(self) -> &'static str {
        match self {
            Self::PutRecordBatch => "\"Records\":[",
            Self::PutRecord => "\"Record\":",
        }
    }

    fn body_close(self) -> &'static [u8] {
        match self {
            Self::PutRecordBatch => b"]}",
            Self::PutRecord => b"}",
        }
    }
}

/// Builds request bodies for one connection.
pub struct BodyBuilder {
    generator: Arc<RecordGen>,
    connection: u16,
    engine: Base64,
    operation: Operation,
    prefix: Vec<u8>,
    encoded_len: usize,
    scratch: Vec<u8>,
}

impl BodyBuilder {
    /// A builder of `operation` bodies; PutRecord bodies hold exactly one record.
    pub fn new(
        generator: Arc<RecordGen>,
        stream: &str,
        connection: u16,
        operation: Operation,
    ) -> Result<Self> {
        let stream_json = serde_json::to_string(stream).context("encoding stream name")?;
        let prefix = format!(
            "{{\"DeliveryStreamName\":{stream_json},{}",
            operation.records_member()
        )
        .into_bytes();
        let record_size = generator.record_size();
        let encoded_len =
            base64::encoded_len(record_size, true).context("record size too large to encode")?;
        Ok(Self {
            generator,
            connection,
            engine: base64_engine(),
            operation,
            prefix,
            encoded_len,
            scratch: vec![0; record_size],
        })
    }

    /// Body length for `records` records.
    pub fn body_len(&self, records: usize) -> usize {
        let per_record = RECORD_OPEN.len() + self.encoded_len + RECORD_CLOSE.len();
        self.prefix.len()
            + records * per_record
            + records.saturating_sub(1)
            + self.operation.body_close().len()
    }

    /// Writes the body for `counters` into `out` (replacing its contents) and the CRC32C of each
    /// raw record into `crcs`.
    pub fn build(
        &mut self,
        counters: &[u64],
        out: &mut BytesMut,
        crcs: &mut Vec<u32>,
    ) -> Result<()> {
        anyhow::ensure!(
            self.operation == Operation::PutRecordBatch || counters.len() == 1,
            "a PutRecord body holds one record, not {}",
            counters.len()
        );
        out.clear();
        out.resize(self.body_len(counters.len()), 0);
        crcs.clear();
        let mut pos = put(out, 0, &self.prefix);
        for (i, &counter) in counters.iter().enumerate() {
            if i > 0 {
                pos = put(out, pos, b",");
            }
            pos = put(out, pos, RECORD_OPEN);
            let id = RecordId {
                connection: self.connection,
                counter,
            };
            self.generator.write(id, &mut self.scratch);
            crcs.push(crc32c::crc32c(&self.scratch));
            let slot = &mut out[pos..pos + self.encoded_len];
            let written = self
                .engine
                .encode_slice(&self.scratch, slot)
                .context("base64 encoding a record")?;
            pos += written;
            pos = put(out, pos, RECORD_CLOSE);
        }
        pos = put(out, pos, self.operation.body_close());
        anyhow::ensure!(
            pos == out.len(),
            "body length mismatch: {pos} != {}",
            out.len()
        );
        Ok(())
    }
}

fn put(out: &mut [u8], pos: usize, bytes: &[u8]) -> usize {
    let end = pos + bytes.len();
    out[pos..end].copy_from_slice(bytes);
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_valid_put_record_batch_json() {
        let generator = Arc::new(RecordGen::new(0xabcd_0123, 100).expect("generator"));
        let mut builder = BodyBuilder::new(
            generator.clone(),
            "bench \"x\"",
            3,
            Operation::PutRecordBatch,
        )
        .expect("builder");
        let mut out = BytesMut::new();
        let mut crcs = Vec::new();
        builder
            .build(&[5, 6, 7], &mut out, &mut crcs)
            .expect("build");

        let body: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(body["DeliveryStreamName"], "bench \"x\"");
        let records = body["Records"].as_array().expect("records array");
        assert_eq!(records.len(), 3);
        for (i, rec) in records.iter().enumerate() {
            let data = base64::engine::general_purpose::STANDARD
                .decode(rec["Data"].as_str().expect("data string"))
                .expect("base64");
            let mut expected = vec![0u8; 100];
            let counter = 5 + i as u64;
            generator.write(
                RecordId {
                    connection: 3,
                    counter,
                },
                &mut expected,
            );
            assert_eq!(data, expected);
            assert_eq!(crcs[i], crc32c::crc32c(&expected));
        }

        builder
            .build(&[], &mut out, &mut crcs)
            .expect("empty build");
        assert!(serde_json::from_slice::<serde_json::Value>(&out).is_ok());
    }

    #[test]
    fn put_record_body_holds_one_record() {
        let generator = Arc::new(RecordGen::new(7, 100).expect("generator"));
        let mut builder =
            BodyBuilder::new(generator.clone(), "bench", 1, Operation::PutRecord).expect("builder");
        let mut out = BytesMut::new();
        let mut crcs = Vec::new();
        builder.build(&[9], &mut out, &mut crcs).expect("build");
        let body: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(body["DeliveryStreamName"], "bench");
        let data = base64::engine::general_purpose::STANDARD
            .decode(body["Record"]["Data"].as_str().expect("data string"))
            .expect("base64");
        let mut expected = vec![0u8; 100];
        generator.write(
            RecordId {
                connection: 1,
                counter: 9,
            },
            &mut expected,
        );
        assert_eq!(data, expected);
        assert!(builder.build(&[1, 2], &mut out, &mut crcs).is_err());
    }
}
