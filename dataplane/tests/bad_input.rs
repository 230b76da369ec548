//! Bad input gets Firehose's error shapes and status codes, never a panic, and touches nothing
//! that was acknowledged.

use harness as common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{Hydrant, local_manifest, objects};
use serde_json::{Value, json};

struct Api {
    url: String,
    client: reqwest::Client,
}

impl Api {
    async fn call(&self, target: Option<&str>, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        let mut req = self
            .client
            .post(&self.url)
            .header("Content-Type", content_type)
            .body(body);
        if let Some(t) = target {
            req = req.header("X-Amz-Target", t);
        }
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        let value = serde_json::from_str(&text).unwrap_or_else(|_| json!({"raw": text}));
        (status, value)
    }

    async fn batch(&self, body: Value) -> (u16, Value) {
        self.call(
            Some("Firehose_20150804.PutRecordBatch"),
            "application/x-amz-json-1.1",
            body.to_string().into_bytes(),
        )
        .await
    }
}

fn records(n: usize, size: usize) -> Value {
    let data = STANDARD.encode(vec![b'x'; size]);
    Value::Array((0..n).map(|_| json!({"Data": data})).collect())
}

#[track_caller]
fn expect_error(got: (u16, Value), status: u16, kind: &str, message_part: &str) {
    assert_eq!(got.0, status, "status for {kind}: {}", got.1);
    assert_eq!(got.1["__type"], kind, "{}", got.1);
    let message = got.1["message"].as_str().unwrap_or("");
    assert!(
        message.contains(message_part),
        "message `{message}` lacks `{message_part}`"
    );
}

/// Sends raw bytes on a fresh connection and returns what came back (possibly nothing).
fn raw_exchange(port: u16, request: &[u8], close_write: bool) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream.write_all(request).expect("write");
    if close_write {
        stream
            .shutdown(std::net::Shutdown::Write)
            .expect("shutdown");
    }
    let mut out = String::new();
    let _ = stream.read_to_string(&mut out);
    out
}

#[tokio::test]
async fn bad_input_is_refused_with_firehose_errors() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut hydrant = Hydrant::start(tmp.path(), &local_manifest("s", "", ""), &[]).await;
    let api = Api {
        url: hydrant.ingest_url(),
        client: reqwest::Client::new(),
    };

    // One good record, acknowledged before all the bad input.
    let (status, body) = api
        .batch(
            json!({"DeliveryStreamName": "s", "Records": [{"Data": STANDARD.encode("keep-me")}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let json11 = "application/x-amz-json-1.1";
    let batch = Some("Firehose_20150804.PutRecordBatch");
    expect_error(
        api.call(
            batch,
            json11,
            b"{\"DeliveryStreamName\": \"s\", \"Records\": [".to_vec(),
        )
        .await,
        400,
        "SerializationException",
        "not valid",
    );
    expect_error(
        api.batch(json!({"DeliveryStreamName": "s", "Records": "not-a-list"}))
            .await,
        400,
        "SerializationException",
        "",
    );
    expect_error(
        api.batch(json!({"DeliveryStreamName": 7, "Records": []}))
            .await,
        400,
        "SerializationException",
        "",
    );
    expect_error(
        api.batch(json!({"DeliveryStreamName": "s", "Records": [{"Data": "@@not base64@@"}]}))
            .await,
        400,
        "SerializationException",
        "base64",
    );
    // Empty records are allowed by Firehose.
    let (status, body) = api
        .batch(json!({"DeliveryStreamName": "s", "Records": [{"Data": ""}]}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["FailedPutCount"], 0);
    // Exactly at the record limit is accepted; one byte more is not.
    let (status, _) = api
        .batch(json!({"DeliveryStreamName": "s", "Records": records(1, 1_024_000)}))
        .await;
    assert_eq!(status, 200);
    let mut big = records(2, 10);
    big[1] = json!({"Data": STANDARD.encode(vec![b'y'; 1_024_001])});
    expect_error(
        api.batch(json!({"DeliveryStreamName": "s", "Records": big}))
            .await,
        400,
        "ValidationException",
        "Value 'java.nio.HeapByteBuffer[pos=0 lim=1024001 cap=1024001]' at 'records.2.member.data' failed to satisfy constraint: Member must have length less than or equal to 1024000",
    );
    expect_error(
        api.batch(json!({"DeliveryStreamName": "s", "Records": []}))
            .await,
        400,
        "ValidationException",
        "at 'records' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
    let (status, body) = api
        .batch(json!({"DeliveryStreamName": "s", "Records": records(500, 1)}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["RequestResponses"].as_array().map(Vec::len), Some(500));
    expect_error(
        api.batch(json!({"DeliveryStreamName": "s", "Records": records(501, 1)}))
            .await,
        400,
        "ValidationException",
        "Member must have length less than or equal to 500",
    );
    // 4 MiB exactly is accepted, 4 MiB + 1 is not.
    let mut exact = records(4, 1_000_000);
    exact
        .as_array_mut()
        .expect("array")
        .push(json!({"Data": STANDARD.encode(vec![b'z'; (4 << 20) - 4_000_000])}));
    let (status, body) = api
        .batch(json!({"DeliveryStreamName": "s", "Records": exact.clone()}))
        .await;
    assert_eq!(status, 200, "{body}");
    let mut over = exact;
    over.as_array_mut()
        .expect("array")
        .push(json!({"Data": STANDARD.encode("1")}));
    expect_error(
        api.batch(json!({"DeliveryStreamName": "s", "Records": over}))
            .await,
        400,
        "InvalidArgumentException",
        "Records size exceeds 4 MB limit",
    );
    expect_error(
        api.call(None, json11, b"{}".to_vec()).await,
        400,
        "UnknownOperationException",
        "Missing X-Amz-Target",
    );
    expect_error(
        api.call(Some("Firehose_20150804.Explode"), json11, b"{}".to_vec())
            .await,
        400,
        "UnknownOperationException",
        "Explode",
    );
    expect_error(
        api.call(
            Some("Firehose_20150804.CreateDeliveryStream"),
            json11,
            b"{}".to_vec(),
        )
        .await,
        400,
        "InvalidArgumentException",
        "DeliveryStream resources",
    );
    expect_error(
        api.batch(json!({"DeliveryStreamName": "other", "Records": records(1, 1)}))
            .await,
        400,
        "ResourceNotFoundException",
        "Firehose other under account 000000000000 not found.",
    );
    expect_error(
        api.batch(json!({"DeliveryStreamName": "bad name!", "Records": records(1, 1)}))
            .await,
        400,
        "ValidationException",
        "regular expression pattern",
    );
    expect_error(
        api.batch(json!({"Records": records(1, 1)})).await,
        400,
        "ValidationException",
        "Value null at 'deliveryStreamName' failed to satisfy constraint: Member must not be null",
    );
    expect_error(
        api.call(batch, "text/plain", b"{}".to_vec()).await,
        400,
        "SerializationException",
        "Content-Type",
    );
    expect_error(
        api.call(
            Some("Firehose_20150804.PutRecord"),
            json11,
            json!({"DeliveryStreamName": "s", "Record": {}})
                .to_string()
                .into_bytes(),
        )
        .await,
        400,
        "ValidationException",
        "Value null at 'record.data'",
    );

    // A body that stops short of its Content-Length: refused, nothing stored.
    let port = hydrant.ingest_port;
    let truncated = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Firehose_20150804.PutRecordBatch\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 200\r\n\r\n{}",
        json!({"DeliveryStreamName": "s", "Records": [{"Data": STANDARD.encode("truncated")}]})
    );
    let _ = raw_exchange(port, truncated.as_bytes(), true);
    // A huge Content-Length is refused before the body is read.
    let huge = "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Firehose_20150804.PutRecordBatch\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 100000000000\r\n\r\n{";
    let answer = raw_exchange(port, huge.as_bytes(), false);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("exceeds the 8388608-byte limit"),
        "{answer}"
    );
    // An oversized body is cut off too: the answer is 413, or the connection closes while the
    // client is still sending (the server stops reading at the limit).
    let big_body = vec![b' '; 9 << 20];
    match api
        .client
        .post(&api.url)
        .header("X-Amz-Target", "Firehose_20150804.PutRecordBatch")
        .header("Content-Type", json11)
        .body(big_body)
        .send()
        .await
    {
        Ok(r) => assert_eq!(r.status(), 413),
        Err(e) => assert!(e.is_request(), "{e}"),
    }

    // The process never panicked and still serves.
    let (status, _) = api
        .batch(json!({"DeliveryStreamName": "s", "Records": [{"Data": STANDARD.encode("after")}]}))
        .await;
    assert_eq!(status, 200);
    hydrant.wait_drained(Duration::from_secs(30)).await;
    let exit = hydrant.terminate(Duration::from_secs(30)).await;
    assert!(exit.success());
    assert!(!hydrant.log().contains("panicked"), "{}", hydrant.log());

    // Exactly the acknowledged records were delivered.
    let counts = objects::record_counts(&objects::local_objects(&tmp.path().join("out")));
    assert_eq!(counts.get("keep-me"), Some(&1));
    assert_eq!(counts.get("after"), Some(&1));
    assert!(!counts.contains_key("truncated"));
    let x_records = counts.get("x").copied().unwrap_or(0);
    assert_eq!(x_records, 500, "the 500 one-byte records");
    assert!(
        !counts.keys().any(|k| k.starts_with('y')),
        "the refused oversize record"
    );
}
