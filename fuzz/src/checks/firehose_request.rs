//! The Firehose JSON request parser and base64 decoding: PutRecordBatch and PutRecord bodies.
//!
//! Asserts: an accepted body is UTF-8, and its records are its `Data` members decoded (compared
//! with a plain `serde_json::Value` reading and `base64`), framed validly; re-serialised, the
//! records parse to the same frames; a refused body gets one of the API's client errors.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use dataplane::fuzzing::{put_record_batch_frames, put_record_frames};
use dataplane::ingest::error::ApiError;
use serde_json::{Value, json};

use super::{ARRIVAL_MS, Record, batch_records, json_value};

pub fn check(body: &[u8]) {
    match put_record_batch_frames(body, ARRIVAL_MS) {
        Ok((name, batch)) => {
            let records = batch_records(&batch);
            if let Some(doc) = json_value(body) {
                let members = doc["Records"]
                    .as_array()
                    .expect("an accepted batch has Records");
                assert_eq!(members.len(), records.len());
                for (member, record) in members.iter().zip(&records) {
                    assert_decodes_to(&member["Data"], record);
                }
            }
            let again = json!({
                "DeliveryStreamName": name,
                "Records": records.iter().map(|r| json!({"Data": STANDARD.encode(&r.data)})).collect::<Vec<_>>(),
            });
            let (again_name, again) =
                put_record_batch_frames(again.to_string().as_bytes(), ARRIVAL_MS)
                    .expect("a re-serialised batch is accepted");
            assert_eq!(again_name, name);
            assert_eq!(again.as_bytes(), batch.as_bytes());
        }
        Err(e) => assert_client_error(&e),
    }
    match put_record_frames(body, ARRIVAL_MS) {
        Ok((name, batch)) => {
            let records = batch_records(&batch);
            assert_eq!(records.len(), 1);
            if let Some(doc) = json_value(body) {
                assert_decodes_to(&doc["Record"]["Data"], &records[0]);
            }
            let again = json!({
                "DeliveryStreamName": name,
                "Record": {"Data": STANDARD.encode(&records[0].data)},
            });
            let (again_name, again) = put_record_frames(again.to_string().as_bytes(), ARRIVAL_MS)
                .expect("a re-serialised record is accepted");
            assert_eq!(again_name, name);
            assert_eq!(again.as_bytes(), batch.as_bytes());
        }
        Err(e) => assert_client_error(&e),
    }
}

fn assert_decodes_to(data: &Value, record: &Record) {
    let text = data.as_str().expect("accepted Data is a string");
    let decoded = STANDARD.decode(text).expect("accepted Data is base64");
    assert_eq!(decoded, record.data);
    assert_eq!(record.arrival_ms, ARRIVAL_MS);
}

fn assert_client_error(e: &ApiError) {
    assert!(
        matches!(
            e.kind,
            "SerializationException" | "ValidationException" | "InvalidArgumentException"
        ),
        "unexpected error {} {}: {}",
        e.status,
        e.kind,
        e.message
    );
    assert!(e.status.is_client_error(), "{}", e.status);
}
