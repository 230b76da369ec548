//! What each example delivered, read back from its destination: every acknowledged record
//! there, duplicates counted, nothing the producer did not send.

use std::collections::BTreeSet;
use std::time::Instant;

use harness::moto::Moto;
use harness::objects;
use harness::opensearch::OpenSearch;
use harness::operator_env::eventually;
use harness::postgres::Postgres;
use harness::splunk::SplunkHec;
use serde_json::{Value, json};

use super::{DELIVERY, ENRICHER_TOKEN, RECEIVER_KEY, Servers};

/// `Some(duplicates)` once every acknowledged id is among `got`; asserts nothing else came.
fn complete(what: &str, acked: &[String], got: &[String]) -> Option<usize> {
    let got_set: BTreeSet<&str> = got.iter().map(String::as_str).collect();
    let want: BTreeSet<&str> = acked.iter().map(String::as_str).collect();
    let strangers: Vec<&&str> = got_set.difference(&want).take(5).collect();
    assert!(strangers.is_empty(), "{what}: unexpected {strangers:?}");
    (got_set.len() == want.len()).then(|| got.len() - got_set.len())
}

fn report(what: &str, acked: &[String], got: usize, duplicates: usize, put: Instant) {
    eprintln!(
        "{what}: {} acknowledged, {got} delivered ({duplicates} duplicates), complete {:.1} s after the puts began",
        acked.len(),
        put.elapsed().as_secs_f64()
    );
}

/// `app-logs`: every record a document in the daily index (`indexRotationPeriod: OneDay`).
pub async fn documents_in_the_index(os: &OpenSearch, acked: &[String], put: Instant) {
    let (ids, indices, duplicates) = eventually(
        "every acknowledged record in OpenSearch",
        DELIVERY,
        || async {
            os.request(http::Method::POST, "/app-logs-*/_refresh", None)
                .await;
            let query = json!({"size": 10000, "_source": ["id"]});
            let v = os
                .request(http::Method::POST, "/app-logs-*/_search", Some(query))
                .await;
            let hits = v["hits"]["hits"].as_array()?;
            let field = |h: &serde_json::Value, f: &str| h.pointer(f)?.as_str().map(str::to_owned);
            let ids: Vec<String> = hits
                .iter()
                .filter_map(|h| field(h, "/_source/id"))
                .collect();
            let indices: BTreeSet<String> =
                hits.iter().filter_map(|h| field(h, "/_index")).collect();
            let duplicates = complete("OpenSearch", acked, &ids)?;
            Some((ids, indices, duplicates))
        },
    )
    .await;
    for index in &indices {
        let date = index.strip_prefix("app-logs-").unwrap_or_default();
        let shape: String = date
            .chars()
            .map(|c| if c.is_ascii_digit() { 'd' } else { c })
            .collect();
        assert_eq!(shape, "dddd-dd-dd", "a daily index: {index}");
    }
    report(
        &format!("OpenSearch {indices:?}"),
        acked,
        ids.len(),
        duplicates,
        put,
    );
}

/// `orders`: every record a row of `analytics.orders`, each JSON key in its column.
pub async fn rows_in_the_table(pg: &Postgres, acked: &[String], put: Instant) {
    let client = pg.client("shop").await;
    let sql = "SELECT order_id, customer_id, amount::text, currency,
                      created_at = '2026-01-02T03:04:05Z', items::text
               FROM analytics.orders";
    let (rows, duplicates) = eventually(
        "every acknowledged record in PostgreSQL",
        DELIVERY,
        || async {
            let rows = client.query(sql, &[]).await.ok()?;
            let ids: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
            let duplicates = complete("PostgreSQL", acked, &ids)?;
            Some((rows, duplicates))
        },
    )
    .await;
    for row in &rows {
        let (id, customer): (String, i64) = (row.get(0), row.get(1));
        assert_eq!(id, format!("order-{customer}"), "order_id and customer_id");
        assert_eq!(row.get::<_, String>(2), "19.99");
        assert_eq!(row.get::<_, String>(3), "EUR");
        assert!(row.get::<_, bool>(4), "created_at of {id}");
        let items: serde_json::Value =
            serde_json::from_str(&row.get::<_, String>(5)).expect("items is JSON");
        assert_eq!(items, json!([{"sku": format!("sku-{customer}"), "qty": 2}]));
    }
    report(
        "PostgreSQL analytics.orders",
        acked,
        rows.len(),
        duplicates,
        put,
    );
}

/// `audit-events`: every record one raw event at the HEC, acknowledged by the receiver.
pub async fn events_at_the_hec(hec: &SplunkHec, acked: &[String], put: Instant) {
    let (events, duplicates) =
        eventually("every acknowledged record at the HEC", DELIVERY, || async {
            let events = hec.events();
            let duplicates = complete("Splunk HEC", acked, &events)?;
            Some((events.len(), duplicates))
        })
        .await;
    report("Splunk HEC raw events", acked, events, duplicates, put);
}

/// `metrics-export`: every record in a request to the endpoint's path, each request with the
/// access key, gzip and the common attributes; and every record in the AllData backup.
pub async fn requests_at_the_endpoint(servers: &Servers, acked: &[String], put: Instant) {
    let (requests, records, duplicates) = eventually(
        "every acknowledged record at the HTTP endpoint",
        DELIVERY,
        || async {
            let requests = servers.receiver.requests();
            // Each record ends with the line break AppendDelimiterToRecord appended.
            let records: Vec<String> = requests
                .iter()
                .flat_map(|r| &r.records)
                .map(|d| String::from_utf8_lossy(d).into_owned())
                .map(|d| d.strip_suffix('\n').map(str::to_owned).unwrap_or(d))
                .collect();
            let duplicates = complete("HTTP endpoint", acked, &records)?;
            Some((requests, records.len(), duplicates))
        },
    )
    .await;
    let attributes =
        json!({"commonAttributes": {"cluster": "prod-eu-1", "environment": "production"}});
    for r in &requests {
        assert_eq!(r.path, "/v1/firehose");
        assert_eq!(r.header("x-amz-firehose-access-key"), Some(RECEIVER_KEY));
        assert_eq!(r.header("x-amz-firehose-request-id"), Some(&*r.request_id));
        assert_eq!(r.header("content-encoding"), Some("gzip"));
        let common = r
            .header("x-amz-firehose-common-attributes")
            .and_then(|h| serde_json::from_str::<serde_json::Value>(h).ok());
        assert_eq!(common, Some(attributes.clone()), "common attributes");
    }
    let what = format!("HTTP endpoint ({} requests)", requests.len());
    report(&what, acked, records, duplicates, put);
    let (backed_up, duplicates) = eventually("every record backed up", DELIVERY, || async {
        let lines = bucket_lines(&servers.moto, "metrics-export-backup", "backup/").await;
        let duplicates = complete("the AllData backup", acked, &lines)?;
        Some((lines.len(), duplicates))
    })
    .await;
    report("HTTP endpoint's backup/", acked, backed_up, duplicates, put);
}

/// `orders-enriched`: every record under `events/` as the transformation service made it
/// (upper case), the service called with the token from the Secret.
pub async fn transformed_objects_in_the_bucket(servers: &Servers, acked: &[String], put: Instant) {
    let want: Vec<String> = acked.iter().map(|id| id.to_uppercase()).collect();
    let (lines, duplicates) = eventually(
        "every acknowledged record transformed in the bucket",
        DELIVERY,
        || async {
            let lines = bucket_lines(&servers.moto, "orders-enriched", "events/").await;
            let duplicates = complete("transformation", &want, &lines)?;
            Some((lines.len(), duplicates))
        },
    )
    .await;
    let invocations = servers.enricher.invocations();
    let bearer = format!("Bearer {ENRICHER_TOKEN}");
    for invocation in &invocations {
        assert_eq!(invocation["authorization"].as_str(), Some(&*bearer));
    }
    let what = format!("transformation ({} invocations)", invocations.len());
    report(&what, acked, lines, duplicates, put);
}

/// `clickstream-by-customer`: objects under `customer_id=<id>/year=<yyyy>/` (the JQ query's
/// keys), each holding only records of its partition: seven customers over two years.
pub async fn partitioned_objects_in_the_bucket(moto: &Moto, acked: &[String], put: Instant) {
    let (ids, partitions, duplicates) = eventually(
        "every acknowledged click in its partition",
        DELIVERY,
        || async {
            let mut ids = Vec::new();
            let mut partitions = BTreeSet::new();
            for (key, bytes, _) in moto.objects("clickstream-partitioned").await {
                if key.starts_with("errors/") {
                    continue; // nothing_in_the_error_outputs reports it
                }
                let mut parts = key.splitn(3, '/');
                let partition = (parts.next(), parts.next());
                let (Some(customer), Some(year)) = partition else {
                    panic!("{key}: not under a partition's prefix");
                };
                partitions.insert(format!("{customer}/{year}"));
                for line in objects::lines(&objects::decode(&key, &bytes)) {
                    let click: Value = serde_json::from_str(&line).expect("a click is JSON");
                    let event_time = click["event_time"].as_str().unwrap_or_default();
                    assert_eq!(customer, format!("customer_id={}", click["customer_id"]));
                    assert_eq!(year, format!("year={}", event_time.get(..4).unwrap_or("")));
                    ids.push(click["id"].as_str().unwrap_or_default().to_owned());
                }
            }
            let duplicates = complete("partitioning", acked, &ids)?;
            Some((ids.len(), partitions, duplicates))
        },
    )
    .await;
    assert_eq!(partitions.len(), 14, "{partitions:?}");
    let what = format!("partitioning ({} partitions)", partitions.len());
    report(&what, acked, ids, duplicates, put);
}

/// `orders-parquet`: Parquet objects under `orders-parquet/` that pyarrow reads, a row per
/// record with each JSON key (matched without regard to case) in its column.
pub async fn parquet_objects_in_the_bucket(moto: &Moto, acked: &[String], put: Instant) {
    let (rows, duplicates) = eventually(
        "every acknowledged order in a Parquet object",
        DELIVERY,
        || async {
            let objects: Vec<(String, Vec<u8>)> = moto
                .objects("shop-lake")
                .await
                .into_iter()
                .filter(|(key, _, _)| key.starts_with("orders-parquet/"))
                .map(|(key, bytes, _)| (key, bytes))
                .collect();
            let rows = read_parquet(&objects);
            let ids: Vec<String> = rows
                .iter()
                .map(|r| r["order_id"].as_str().unwrap_or_default().to_owned())
                .collect();
            let duplicates = complete("Parquet", acked, &ids)?;
            Some((rows, duplicates))
        },
    )
    .await;
    for row in &rows {
        let customer = &row["customer_id"];
        assert_eq!(row["order_id"], format!("pq-{customer}"), "{row}");
        assert_eq!(row["total"], "12.50", "{row}");
        assert_eq!(row["currency"], "EUR", "{row}");
        assert!(row["created_at"].is_string(), "{row}");
        let items = json!([{"sku": format!("sku-{customer}"), "qty": 1}]);
        assert_eq!(row["items"], items, "{row}");
        assert_eq!(row["attributes"], json!([["channel", "web"]]), "{row}");
    }
    report(
        "Parquet orders-parquet/",
        acked,
        rows.len(),
        duplicates,
        put,
    );
}

/// Every row of the Parquet `objects` as pyarrow reads them (an independent reader), as JSON
/// (decimals and timestamps as text).
fn read_parquet(objects: &[(String, Vec<u8>)]) -> Vec<Value> {
    if objects.is_empty() {
        return Vec::new();
    }
    let dir = tempfile::tempdir().expect("tmp");
    let mut files = Vec::new();
    for (i, (key, bytes)) in objects.iter().enumerate() {
        assert!(key.ends_with(".parquet"), "{key}");
        let file = dir.path().join(format!("{i}.parquet"));
        std::fs::write(&file, bytes).expect("write the object");
        files.push(file);
    }
    let script = "import json, sys, pyarrow.parquet as pq
for path in sys.argv[1:]:
    for row in pq.read_table(path).to_pylist():
        print(json.dumps(row, default=str))";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .args(&files)
        .output()
        .expect("python3 (pip install pyarrow)");
    assert!(
        out.status.success(),
        "pyarrow: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a row as JSON"))
        .collect()
}

/// The records in the objects under `prefix`, decompressed, one per line.
async fn bucket_lines(moto: &Moto, bucket: &str, prefix: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for (key, bytes, _) in moto.objects(bucket).await {
        if key.starts_with(prefix) {
            lines.extend(objects::lines(&objects::decode(&key, &bytes)));
        }
    }
    lines
}

/// No record went to an error output: a healthy delivery fails nothing.
pub async fn nothing_in_the_error_outputs(moto: &Moto) {
    for (bucket, prefix) in [
        ("app-logs-failed", ""),
        ("orders-failed", ""),
        ("audit-events-failed", ""),
        ("metrics-export-backup", "errors/"),
        ("orders-enriched", "errors/"),
        ("clickstream-partitioned", "errors/"),
        ("shop-lake", "errors/"),
    ] {
        let keys: Vec<String> = moto
            .objects(bucket)
            .await
            .into_iter()
            .map(|(key, _, _)| key)
            .filter(|key| key.starts_with(prefix))
            .collect();
        assert!(keys.is_empty(), "error output in {bucket}: {keys:?}");
    }
}
