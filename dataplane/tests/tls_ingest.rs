//! The ingest port over TLS (`spec.ingest.tls`): aws-sdk-firehose and boto3 trusting the test
//! CA put records, a client trusting another CA and a plain-HTTP client are refused, HTTP/2 and
//! HTTP/1.1 are both served, and a renewed certificate (the Secret's files replaced, as the
//! kubelet does when cert-manager renews it) is served to new connections while an open one
//! carries on. Every acknowledged record is delivered.

use harness as common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;
use common::operator_env::eventually;
use common::{Hydrant, local_manifest, objects};

const SECRET: &str = "ingest-tls";

/// Installs `dir`'s server certificate and key as the Secret's files, each replaced atomically.
fn install_certificate(secrets: &Path, dir: &Path) {
    let target = secrets.join(SECRET);
    std::fs::create_dir_all(&target).expect("secret dir");
    for (from, to) in [("server.crt", "tls.crt"), ("server.key", "tls.key")] {
        let staged = target.join(format!(".{to}.new"));
        std::fs::copy(dir.join(from), &staged).expect("stage");
        std::fs::rename(&staged, target.join(to)).expect("install");
    }
}

fn client_trusting(ca: &Path, http1_only: bool) -> reqwest::Client {
    let pem = std::fs::read(ca).expect("ca");
    let mut builder = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("pem"))
        .timeout(Duration::from_secs(10));
    if http1_only {
        builder = builder.http1_only();
    }
    builder.build().expect("client")
}

/// Puts `lines` to the plain endpoint; returns the HTTP version the answer came in.
async fn put_lines(
    client: &reqwest::Client,
    url: &str,
    lines: &str,
) -> Result<reqwest::Version, reqwest::Error> {
    let r = client
        .post(format!("{url}/records"))
        .body(lines.to_owned())
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    Ok(r.version())
}

/// boto3 puts `count` records trusting `ca`; returns the script's output (or error).
fn boto3_put(url: &str, ca: &Path, count: usize) -> Result<String, String> {
    let script = r#"
import sys, boto3
url, ca, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
fh = boto3.client("firehose", endpoint_url=url, region_name="us-east-1", verify=ca,
                  aws_access_key_id="producer", aws_secret_access_key="producer")
r = fh.put_record_batch(DeliveryStreamName="secure",
                        Records=[{"Data": f"boto3-{i}\n".encode()} for i in range(count)])
print(r["FailedPutCount"], r["Encrypted"])
"#;
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            url,
            &ca.display().to_string(),
            &count.to_string(),
        ])
        .output()
        .expect("python3 (boto3 comes with moto: `bash tests/run.sh` installs it)");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_ingest_serves_sdks_http2_and_a_renewed_certificate() {
    let tmp = tempfile::tempdir().expect("tmp");
    let first = tmp.path().join("first");
    let other = tmp.path().join("other");
    let renewed = tmp.path().join("renewed");
    for dir in [&first, &other, &renewed] {
        std::fs::create_dir_all(dir).expect("dir");
        common::tls::make_certificates(dir);
    }
    let secrets = tmp.path().join("secrets");
    install_certificate(&secrets, &first);
    let manifest = local_manifest(
        "secure",
        "",
        &format!("  ingest:\n    tls: {{secretName: {SECRET}}}"),
    );
    let secrets_env = secrets.display().to_string();
    let h = Hydrant::start(
        tmp.path(),
        &manifest,
        &[("HYDRANT_SECRETS_DIR", &secrets_env)],
    )
    .await;
    let url = h
        .ingest_url()
        .replace("http://127.0.0.1", "https://localhost");

    // aws-sdk-firehose, trusting the CA.
    let ca_pem = std::fs::read(first.join("ca.crt")).expect("ca");
    let sdk = common::firehose_client_trusting(&url, "producer", "producer", &ca_pem);
    let records: Vec<Record> = (0..100)
        .map(|i| {
            Record::builder()
                .data(Blob::new(format!("sdk-{i}\n")))
                .build()
                .expect("record")
        })
        .collect();
    let out = sdk
        .put_record_batch()
        .delivery_stream_name("secure")
        .set_records(Some(records))
        .send()
        .await
        .expect("PutRecordBatch over TLS");
    assert_eq!(out.failed_put_count(), 0);
    let mut acked = 100;

    // boto3, trusting the CA; and refused when it trusts another.
    let got = boto3_put(&url, &first.join("ca.crt"), 50).expect("boto3 over TLS");
    assert!(got.starts_with("0 "), "{got}");
    acked += 50;
    let refused = boto3_put(&url, &other.join("ca.crt"), 1).expect_err("another CA");
    assert!(
        refused.contains("SSL") || refused.contains("certificate"),
        "{refused}"
    );
    let wrong = common::firehose_client_trusting(
        &url,
        "producer",
        "producer",
        &std::fs::read(other.join("ca.crt")).expect("other ca"),
    );
    assert!(
        wrong
            .put_record()
            .delivery_stream_name("secure")
            .record(
                Record::builder()
                    .data(Blob::new("x\n"))
                    .build()
                    .expect("record")
            )
            .send()
            .await
            .is_err(),
        "a client trusting another CA is refused"
    );
    // Plain HTTP on the TLS port gets no answer.
    assert!(
        reqwest::Client::new()
            .post(format!("{}/records", h.ingest_url()))
            .body("plain\n")
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .is_err()
    );

    // HTTP/2 by ALPN, and HTTP/1.1 for clients that ask for it.
    let h2 = client_trusting(&first.join("ca.crt"), false);
    let version = put_lines(&h2, &url, "h2-0\nh2-1\n").await.expect("h2");
    assert_eq!(version, reqwest::Version::HTTP_2);
    let h1 = client_trusting(&first.join("ca.crt"), true);
    let version = put_lines(&h1, &url, "h1-0\n").await.expect("http/1.1");
    assert_eq!(version, reqwest::Version::HTTP_11);
    acked += 3;

    // Renewal: the new certificate (another CA here, so each client shows which one it met)
    // reaches new connections; the HTTP/2 connection opened before it keeps working.
    install_certificate(&secrets, &renewed);
    let fresh = client_trusting(&renewed.join("ca.crt"), false);
    eventually(
        "the renewed certificate served",
        Duration::from_secs(30),
        || async { put_lines(&fresh, &url, "renewed\n").await.ok() },
    )
    .await;
    acked += 1;
    let version = put_lines(&h2, &url, "kept\n")
        .await
        .expect("the connection opened before the renewal carries on");
    assert_eq!(version, reqwest::Version::HTTP_2);
    acked += 1;
    assert!(
        h.log().contains("ingest certificate reloaded"),
        "{}",
        h.log()
    );

    h.wait_drained(Duration::from_secs(60)).await;
    let delivered: usize = objects::local_objects(&tmp.path().join("out"))
        .iter()
        .map(|(_, bytes)| objects::lines(bytes).len())
        .sum();
    assert_eq!(delivered, acked, "every acknowledged record delivered");
}
