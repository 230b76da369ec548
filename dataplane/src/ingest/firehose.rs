//! The Firehose data-plane operations in AWS JSON 1.1.

use std::borrow::Cow;
use std::fmt::Write as _;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use serde::Deserialize;
use tokio::sync::OwnedSemaphorePermit;

use super::error::ApiError;
use super::limits::{self, MAX_BATCH_BYTES, MAX_BATCH_RECORDS, MAX_RECORD_BYTES};
use super::request_body::{PutRecordBatchIn, PutRecordIn, RecordIn, parse};
use super::{FREE_BODY_BYTES, Ingest};
use crate::support::clock::now_ms;
use crate::wal::FrameBatch;

const TARGET_PREFIX: &str = "Firehose_20150804.";

/// Control-plane operations: a stream's own pods do not answer them (`hydrant serve` and the
/// cluster gateway do, over the streams they manage).
const MANAGED_OPERATIONS: &[&str] = &[
    "CreateDeliveryStream",
    "DeleteDeliveryStream",
    "UpdateDestination",
    "TagDeliveryStream",
    "UntagDeliveryStream",
    "ListTagsForDeliveryStream",
    "StartDeliveryStreamEncryption",
    "StopDeliveryStreamEncryption",
];

/// Answers one operation. `held` is the body's share of the request memory budget: a put's
/// decoded records take theirs before they are built, and keep it until they are in the log.
pub async fn dispatch(
    ingest: &Ingest,
    target: &str,
    headers: &HeaderMap,
    body: &[u8],
    held: &mut Option<OwnedSemaphorePermit>,
) -> Result<String, ApiError> {
    let Some(operation) = target.strip_prefix(TARGET_PREFIX) else {
        return Err(ApiError::unknown_operation(if target.is_empty() {
            "Missing X-Amz-Target header".to_owned()
        } else {
            format!("Unknown operation {target}")
        }));
    };
    check_content_type(headers)?;
    match operation {
        "PutRecordBatch" => put_record_batch(ingest, body, held).await,
        "PutRecord" => put_record(ingest, body, held).await,
        "DescribeDeliveryStream" => describe(ingest, body),
        "ListDeliveryStreams" => list(ingest, body),
        op if MANAGED_OPERATIONS.contains(&op) => Err(ApiError::invalid_argument(format!(
            "{op} is not answered by a stream's own endpoint: manage streams as DeliveryStream resources (kubectl apply) or through hydrant serve or the cluster gateway, which answer the whole API."
        ))),
        _ => Err(ApiError::unknown_operation(format!(
            "Unknown operation {target}"
        ))),
    }
}

fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = ct.split(';').next().unwrap_or("").trim();
    match media {
        "application/x-amz-json-1.1" | "application/x-amz-json-1.0" | "application/json" => Ok(()),
        "" => Err(ApiError::serialization(
            "Missing Content-Type: expected application/x-amz-json-1.1",
        )),
        other => Err(ApiError::serialization(format!(
            "Unsupported Content-Type {other}: expected application/x-amz-json-1.1"
        ))),
    }
}

/// Checks one record's data; returns its decoded length.
/// `path` names the member in an error message; it is only called when there is one, so a valid
/// batch builds no strings.
fn check_record(data: Option<&str>, path: impl Fn() -> String, errors: &mut Vec<String>) -> usize {
    let Some(data) = data else {
        errors.push(limits::null_member(&path()));
        return 0;
    };
    match limits::decoded_len(data) {
        Some(len) if len > MAX_RECORD_BYTES => {
            errors.push(limits::record_too_large(&path(), len));
            len
        }
        Some(len) => len,
        // Reported as a serialization error when decoded.
        None => 0,
    }
}

fn check_stream(ingest: &Ingest, name: &str) -> Result<(), ApiError> {
    if name == ingest.identity.name {
        Ok(())
    } else {
        Err(ApiError::not_found(name, &ingest.identity.account))
    }
}

fn decode_into(frames: &mut FrameBatch, arrival_ms: u64, data: &str) -> Result<(), ApiError> {
    frames
        .push_with(arrival_ms, |buf| STANDARD.decode_vec(data.as_bytes(), buf))
        .map(|_| ())
        .map_err(|_| {
            ApiError::serialization(
                "Data is not valid base64: expected standard base64 with padding",
            )
        })
}

/// A PutRecordBatch body, parsed and checked against the API's constraints (not yet decoded).
struct CheckedBatch<'a> {
    name: Option<Cow<'a, str>>,
    records: Vec<RecordIn<'a>>,
    /// The records' decoded size.
    total: usize,
}

fn check_batch(body: &[u8]) -> Result<CheckedBatch<'_>, ApiError> {
    let input: PutRecordBatchIn<'_> = parse(body)?;
    let mut errors = Vec::new();
    limits::check_stream_name(input.name.as_deref(), &mut errors);
    let mut total = 0usize;
    match &input.records {
        None => errors.push(limits::null_member("records")),
        Some(records) => {
            if records.is_empty() {
                errors.push("Value '[]' at 'records' failed to satisfy constraint: Member must have length greater than or equal to 1".to_owned());
            } else if records.len() > MAX_BATCH_RECORDS {
                errors.push(format!(
                    "Value '[{} records]' at 'records' failed to satisfy constraint: Member must have length less than or equal to {MAX_BATCH_RECORDS}",
                    records.len()
                ));
            }
            for (i, r) in records.iter().enumerate() {
                total += check_record(
                    r.data.as_deref(),
                    || format!("records.{}.member.data", i + 1),
                    &mut errors,
                );
            }
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(&errors));
    }
    Ok(CheckedBatch {
        name: input.name,
        records: input.records.unwrap_or_default(),
        total,
    })
}

/// The decoded records' size against PutRecordBatch's limit.
fn check_batch_bytes(batch: &CheckedBatch<'_>) -> Result<(), ApiError> {
    if batch.total > MAX_BATCH_BYTES {
        return Err(ApiError::invalid_argument(
            "Records size exceeds 4 MB limit",
        ));
    }
    Ok(())
}

/// Decodes a checked batch's records into frames stamped `arrival_ms`.
fn decode_batch(batch: &CheckedBatch<'_>, arrival_ms: u64) -> Result<FrameBatch, ApiError> {
    check_batch_bytes(batch)?;
    let mut frames = FrameBatch::with_capacity(
        batch.total + batch.records.len() * crate::wal::frame::HEADER_LEN,
    );
    for r in &batch.records {
        decode_into(
            &mut frames,
            arrival_ms,
            r.data.as_deref().unwrap_or_default(),
        )?;
    }
    Ok(frames)
}

/// The stream a PutRecordBatch body names and its records as the log would get them, or the
/// error a put answers; without the checks that need a stream (its name, throttling). For the
/// fuzz targets.
pub fn put_record_batch_frames(
    body: &[u8],
    arrival_ms: u64,
) -> Result<(String, FrameBatch), ApiError> {
    let batch = check_batch(body)?;
    let frames = decode_batch(&batch, arrival_ms)?;
    Ok((batch.name.unwrap_or_default().into_owned(), frames))
}

/// What a checked batch takes beyond its body until its frames are in the log: the parsed
/// records and the frames.
fn batch_build_bytes(batch: &CheckedBatch<'_>) -> usize {
    batch.records.len() * (std::mem::size_of::<RecordIn<'_>>() + crate::wal::frame::HEADER_LEN)
        + batch.total
}

async fn put_record_batch(
    ingest: &Ingest,
    body: &[u8],
    held: &mut Option<OwnedSemaphorePermit>,
) -> Result<String, ApiError> {
    let batch = check_batch(body)?;
    check_stream(ingest, batch.name.as_deref().unwrap_or_default())?;
    ingest.check_puts()?;
    check_batch_bytes(&batch)?;
    let build = batch_build_bytes(&batch);
    ingest
        .body_memory
        .grow(held, build.saturating_sub(FREE_BODY_BYTES))
        .await?;
    let frames = decode_batch(&batch, now_ms())?;
    let payload = frames.payload_bytes();
    let count = frames.records();
    let appended = ingest.append(frames).await?;
    ingest.metrics.incoming_put_requests.inc();
    ingest.metrics.incoming_records.inc_by(count);
    ingest.metrics.incoming_bytes.inc_by(payload);
    let mut out = String::with_capacity(64 + batch.records.len() * 64);
    // Encrypted: whether the log sealed these records (server-side encryption is on).
    let _ = write!(
        out,
        r#"{{"FailedPutCount":0,"Encrypted":{},"RequestResponses":["#,
        appended.encrypted
    );
    for i in 0..appended.count {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            r#"{{"RecordId":"{}"}}"#,
            ingest.record_id(appended.first + i)
        );
    }
    out.push_str("]}");
    Ok(out)
}

/// A PutRecord body, parsed and checked against the API's constraints (not yet decoded).
struct CheckedRecord<'a> {
    name: Option<Cow<'a, str>>,
    data: Cow<'a, str>,
    /// The record's decoded size.
    len: usize,
}

fn check_put_record(body: &[u8]) -> Result<CheckedRecord<'_>, ApiError> {
    let input: PutRecordIn<'_> = parse(body)?;
    let mut errors = Vec::new();
    limits::check_stream_name(input.name.as_deref(), &mut errors);
    let mut len = 0;
    match &input.record {
        None => errors.push(limits::null_member("record")),
        Some(r) => len = check_record(r.data.as_deref(), || "record.data".to_owned(), &mut errors),
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(&errors));
    }
    Ok(CheckedRecord {
        name: input.name,
        data: input.record.and_then(|r| r.data).unwrap_or_default(),
        len,
    })
}

fn decode_record(record: &CheckedRecord<'_>, arrival_ms: u64) -> Result<FrameBatch, ApiError> {
    let mut frames = FrameBatch::with_capacity(record.len + crate::wal::frame::HEADER_LEN);
    decode_into(&mut frames, arrival_ms, &record.data)?;
    Ok(frames)
}

/// [`put_record_batch_frames`] for a PutRecord body. For the fuzz targets.
pub fn put_record_frames(body: &[u8], arrival_ms: u64) -> Result<(String, FrameBatch), ApiError> {
    let record = check_put_record(body)?;
    let frames = decode_record(&record, arrival_ms)?;
    Ok((record.name.unwrap_or_default().into_owned(), frames))
}

async fn put_record(
    ingest: &Ingest,
    body: &[u8],
    held: &mut Option<OwnedSemaphorePermit>,
) -> Result<String, ApiError> {
    let record = check_put_record(body)?;
    check_stream(ingest, record.name.as_deref().unwrap_or_default())?;
    ingest.check_puts()?;
    let build = record.len + crate::wal::frame::HEADER_LEN;
    ingest
        .body_memory
        .grow(held, build.saturating_sub(FREE_BODY_BYTES))
        .await?;
    let frames = decode_record(&record, now_ms())?;
    let payload = frames.payload_bytes();
    let appended = ingest.append(frames).await?;
    ingest.metrics.incoming_put_requests.inc();
    ingest.metrics.incoming_records.inc();
    ingest.metrics.incoming_bytes.inc_by(payload);
    Ok(serde_json::json!({
        "RecordId": ingest.record_id(appended.first),
        "Encrypted": appended.encrypted,
    })
    .to_string())
}

#[derive(Deserialize)]
struct DescribeIn {
    #[serde(rename = "DeliveryStreamName", default)]
    name: Option<String>,
    #[serde(rename = "Limit", default)]
    limit: Option<i64>,
}

fn describe(ingest: &Ingest, body: &[u8]) -> Result<String, ApiError> {
    let input: DescribeIn = parse(body)?;
    let mut errors = Vec::new();
    limits::check_stream_name(input.name.as_deref(), &mut errors);
    if let Some(limit) = input.limit
        && !(1..=10_000).contains(&limit)
    {
        errors.push(format!(
            "Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value {} 10000",
            if limit < 1 { "greater than or equal to 1" } else { "less than or equal to" }
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(&errors));
    }
    check_stream(ingest, input.name.as_deref().unwrap_or_default())?;
    Ok(serde_json::json!({"DeliveryStreamDescription": ingest.description}).to_string())
}

#[derive(Deserialize)]
struct ListIn {
    #[serde(rename = "Limit", default)]
    limit: Option<i64>,
    #[serde(rename = "DeliveryStreamType", default)]
    stream_type: Option<String>,
    #[serde(rename = "ExclusiveStartDeliveryStreamName", default)]
    start: Option<String>,
}

fn list(ingest: &Ingest, body: &[u8]) -> Result<String, ApiError> {
    let input: ListIn = parse(body)?;
    let limit = input.limit.unwrap_or(10);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::validation(&[format!(
            "Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value {}",
            if limit < 1 {
                "greater than or equal to 1"
            } else {
                "less than or equal to 10000"
            }
        )]));
    }
    let name = &ingest.identity.name;
    let type_matches = match input.stream_type.as_deref() {
        None | Some("DirectPut") => true,
        Some("KinesisStreamAsSource" | "MSKAsSource" | "DatabaseAsSource") => false,
        Some(other) => {
            return Err(ApiError::validation(&[format!(
                "Value '{other}' at 'deliveryStreamType' failed to satisfy constraint: Member must satisfy enum value set: [DatabaseAsSource, MSKAsSource, KinesisStreamAsSource, DirectPut]"
            )]));
        }
    };
    let after_start = input.start.as_deref().is_none_or(|s| name.as_str() > s);
    let names: Vec<&str> = if type_matches && after_start {
        vec![name.as_str()]
    } else {
        Vec::new()
    };
    Ok(
        serde_json::json!({"DeliveryStreamNames": names, "HasMoreDeliveryStreams": false})
            .to_string(),
    )
}
