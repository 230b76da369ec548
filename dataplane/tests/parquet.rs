//! Record format conversion on the real binary: JSON records become Parquet objects that an
//! independent reader (pyarrow) opens with the declared schema and the exact values; OpenX
//! SerDe options apply; records that do not fit go to `format-conversion-failed`.

use harness as common;

use std::process::Command;
use std::time::Duration;

use common::sinks::put_records;
use common::{Hydrant, objects};
use serde_json::Value;

/// Reads every Parquet file under `dir` with pyarrow: the schema and the rows as JSON.
fn read_parquet(files: &[std::path::PathBuf]) -> (String, Vec<Value>) {
    let script = r#"
import json, sys, pyarrow.parquet as pq
schema, rows = None, []
for path in sys.argv[1:]:
    t = pq.read_table(path)
    schema = str(t.schema)
    rows += t.to_pylist()
print(json.dumps({"schema": schema, "rows": rows}, default=str))
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(files)
        .output()
        .expect("python3 (pip install pyarrow)");
    assert!(
        out.status.success(),
        "pyarrow failed (pip install pyarrow==22.0.0; `bash tests/run.sh` installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    (
        v["schema"].as_str().expect("schema").to_owned(),
        v["rows"].as_array().expect("rows").clone(),
    )
}

#[tokio::test]
async fn json_becomes_parquet_that_pyarrow_reads() {
    let tmp = tempfile::tempdir().expect("tmp");
    let manifest = common::stream_manifest(
        "orders",
        "256Mi",
        "    local:
      directory: ./out
      prefix: parquet/
      errorOutputPrefix: \"errors/!{firehose:error-output-type}/\"
      bufferingHints: {sizeInMBs: 64, intervalInSeconds: 1}
      dataFormatConversionConfiguration:
        schemaConfiguration:
          columns:
          - {name: order_id, type: string}
          - {name: qty, type: int}
          - {name: total, type: 'decimal(10,2)'}
          - {name: paid, type: boolean}
          - {name: ratio, type: double}
          - {name: created, type: timestamp}
          - {name: day, type: date}
          - {name: tags, type: 'array<string>'}
          - {name: attrs, type: 'map<string,bigint>'}
          - {name: customer, type: 'struct<Id:bigint,name:string>'}
          - {name: user_agent, type: string}
        inputFormatConfiguration:
          deserializer:
            openXJsonSerDe:
              caseInsensitive: true
              convertDotsInJsonKeysToUnderscores: false
              columnToJsonKeyMappings: {user_agent: ua.string}
        outputFormatConfiguration:
          serializer:
            parquetSerDe: {compression: ZSTD}
",
    );
    let h = Hydrant::start(tmp.path(), &manifest, &[]).await;
    let mut records: Vec<Vec<u8>> = (0..1000)
        .map(|i| {
            format!(
                r#"{{"Order_ID":"o-{i}","QTY":{q},"total":{i}.25,"paid":{p},"ratio":0.5,"created":"2024-03-01T10:00:0{s}Z","day":"2024-03-0{d}","tags":["a","b{i}"],"attrs":{{"k":{i}}},"Customer":{{"ID":{i},"NAME":"c{i}"}},"ua.string":"curl/{i}","extra":"ignored"}}"#,
                q = i % 7,
                p = i % 2 == 0,
                s = i % 10,
                d = 1 + i % 9
            )
            .into_bytes()
        })
        .collect();
    records.push(br#"{"order_id":"bad","qty":"many"}"#.to_vec());
    records.push(b"{not json".to_vec());
    put_records(&h.ingest_url(), "orders", &records).await;
    h.wait_drained(Duration::from_secs(60)).await;

    let out = tmp.path().join("out");
    // A table or crawler over the whole bucket takes every `*.parquet` object: only the data
    // objects are named so (error-output objects hold JSON lines and are named for that).
    let files: Vec<std::path::PathBuf> = objects::local_objects(&out)
        .into_iter()
        .filter(|(k, _)| k.ends_with(".parquet"))
        .map(|(k, _)| {
            assert!(k.starts_with("parquet/"), "{k}");
            out.join(k)
        })
        .collect();
    assert!(!files.is_empty());
    let (schema, mut rows) = read_parquet(&files);
    for expected in [
        "order_id: string",
        "qty: int32",
        "total: decimal128(10, 2)",
        "paid: bool",
        "ratio: double",
        "created: timestamp[ms]",
        "day: date32[day]",
        "tags: list<element: string>",
        "attrs: map<string, int64",
        "customer: struct<id: int64, name: string>",
        "user_agent: string",
    ] {
        assert!(schema.contains(expected), "{expected} in {schema}");
    }
    assert_eq!(rows.len(), 1000);
    rows.sort_by_key(|r| r["customer"]["id"].as_i64().unwrap_or(-1));
    let r = &rows[123];
    assert_eq!(r["order_id"], "o-123");
    assert_eq!(r["qty"], 123 % 7);
    assert_eq!(r["total"], "123.25");
    assert_eq!(r["paid"], false);
    assert_eq!(r["ratio"], 0.5);
    assert_eq!(r["created"], "2024-03-01 10:00:03");
    assert_eq!(r["day"], "2024-03-07");
    assert_eq!(r["tags"], serde_json::json!(["a", "b123"]));
    assert_eq!(r["attrs"], serde_json::json!([["k", 123]]));
    assert_eq!(
        r["customer"],
        serde_json::json!({"id": 123, "name": "c123"})
    );
    assert_eq!(r["user_agent"], "curl/123");

    let mut failed = Vec::new();
    for (key, bytes) in objects::local_objects(&out) {
        if key.starts_with("errors/format-conversion-failed/") {
            assert!(
                !key.ends_with(".parquet"),
                "JSON lines named as Parquet: {key}"
            );
            for line in objects::lines(&bytes) {
                failed.push(serde_json::from_str::<Value>(&line).expect("json"));
            }
        }
    }
    let mut codes: Vec<&str> = failed
        .iter()
        .map(|v| v["errorCode"].as_str().expect("code"))
        .collect();
    codes.sort();
    assert_eq!(
        codes,
        vec![
            "DataFormatConversion.MalformedData",
            "DataFormatConversion.ParseError"
        ]
    );
    assert!(failed.iter().all(|v| v["sequenceNumber"].is_string()));
}
