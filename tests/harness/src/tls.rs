//! A throwaway CA and a server certificate for 127.0.0.1 or any other names (made with the
//! `openssl` command), and a minimal HTTPS server answering Firehose HTTP endpoint requests:
//! proof that a custom CA from a Secret is trusted, over real TLS.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Writes `ca.crt`, `server.crt` and `server.key` into `dir`, for 127.0.0.1 and localhost.
pub fn make_certificates(dir: &Path) {
    make_certificates_for(dir, &["IP:127.0.0.1", "DNS:localhost"]);
}

/// Writes `ca.crt`, `server.crt` and `server.key` into `dir`, the server's certificate naming
/// `names` as openssl's subjectAltName entries (`IP:10.244.0.1`, `DNS:opensearch.logging.svc`).
pub fn make_certificates_for(dir: &Path, names: &[&str]) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=hydrant-test-ca"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.crt"]);
    run(&ca);
    let mut csr = vec!["req", "-subj", "/CN=localhost"];
    csr.extend(ec);
    csr.extend(["-keyout", "server.key", "-out", "server.csr"]);
    run(&csr);
    std::fs::write(
        dir.join("san.ext"),
        format!(
            "subjectAltName={}\nbasicConstraints=CA:FALSE\n",
            names.join(",")
        ),
    )
    .expect("ext");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.crt",
    ]);
}

/// An HTTPS Firehose endpoint on 127.0.0.1 that answers every request with 200 and counts the
/// records it received. Returns its URL.
pub async fn https_receiver(dir: &Path, records: Arc<AtomicU64>) -> String {
    let acceptor = acceptor(dir);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let records = records.clone();
            tokio::spawn(async move {
                // Failed handshakes (a client that does not trust the CA) just end here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                while let Some(body) = read_request(&mut tls).await {
                    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    records.fetch_add(
                        v["records"].as_array().map_or(0, |r| r.len() as u64),
                        Ordering::Relaxed,
                    );
                    let reply = json!({"requestId": v["requestId"], "timestamp": 1}).to_string();
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{reply}",
                        reply.len()
                    );
                    if tls.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("https://127.0.0.1:{}/", addr.port())
}

/// A TLS acceptor serving `server.crt` and `server.key` of `dir`.
pub fn acceptor(dir: &Path) -> tokio_rustls::TlsAcceptor {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.crt"))
        .expect("cert file")
        .collect::<Result<_, _>>()
        .expect("certs");
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocols")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// Reads one HTTP/1.1 request with a Content-Length body; `None` at the end of the connection.
async fn read_request<S: AsyncReadExt + Unpin>(s: &mut S) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(buf[header_end..header_end + length].to_vec())
}
