//! Raw HTTP/1.1 and HTTP/2 on the wire, for the abuse tests that a client library would hide.

use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Reads `n` HTTP/1.1 responses (each with a Content-Length) and returns their bodies;
/// every one must be 200.
pub async fn read_responses(conn: &mut TcpStream, n: usize) -> Vec<String> {
    let mut buf = Vec::new();
    let mut bodies = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while bodies.len() < n {
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let head = &text[..end];
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_owned())
                })
                .and_then(|v| v.parse().ok())
                .expect("content-length");
            if buf.len() >= end + 4 + len {
                assert!(head.starts_with("HTTP/1.1 200"), "{head}");
                bodies.push(String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned());
                buf.drain(..end + 4 + len);
                continue;
            }
        }
        let mut chunk = [0u8; 16 << 10];
        let read = tokio::time::timeout_at(deadline.into(), conn.read(&mut chunk)).await;
        match read {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => panic!("only {} of {n} answers", bodies.len()),
            Ok(Ok(k)) => buf.extend_from_slice(&chunk[..k]),
        }
    }
    bodies
}

/// An HTTP/2 frame header.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = len.to_be_bytes()[1..].to_vec();
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}
