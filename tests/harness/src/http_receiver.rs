//! A receiver speaking Firehose's HTTP endpoint delivery protocol, inside a network namespace (a
//! test cluster's): every request is kept with its headers and decoded records, and a
//! well-formed one is answered 200 echoing its `requestId`, the only answer that counts as
//! delivered. A malformed one gets 400, so a sender bug shows as a delivery failure.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use warp::Filter;
use warp::http::{HeaderMap, StatusCode};

/// One request as received.
#[derive(Clone, Debug)]
pub struct Request {
    pub path: String,
    pub headers: HeaderMap,
    pub request_id: String,
    pub records: Vec<Vec<u8>>,
}

impl Request {
    /// A header's value as text (`None` if absent or not text).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub struct HttpReceiver {
    /// Where it listens, on every address of its namespace.
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    task: tokio::task::JoinHandle<()>,
}

impl HttpReceiver {
    /// Starts it inside `netns`; pods reach it at the node's IP and [`HttpReceiver::addr`]'s
    /// port, on any path.
    pub fn start_in_netns(netns: &str) -> Self {
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let kept = requests.clone();
        let route = warp::post()
            .and(warp::path::full())
            .and(warp::header::headers_cloned())
            .and(warp::body::bytes())
            .map(
                move |path: warp::path::FullPath, headers: HeaderMap, body: bytes::Bytes| {
                    let (status, reply) = match parse(&headers, &body) {
                        Ok((request_id, records)) => {
                            let reply = json!({"requestId": request_id, "timestamp": now_ms()});
                            kept.lock().expect("requests").push(Request {
                                path: path.as_str().to_owned(),
                                headers,
                                request_id,
                                records,
                            });
                            (StatusCode::OK, reply)
                        }
                        Err(e) => (StatusCode::BAD_REQUEST, json!({"errorMessage": e})),
                    };
                    warp::reply::with_status(warp::reply::json(&reply), status)
                },
            );
        let listener = crate::netns::tokio_listener(netns);
        let addr = listener.local_addr().expect("local address");
        let task = tokio::spawn(warp::serve(route).incoming(listener).run());
        Self {
            addr,
            requests,
            task,
        }
    }

    /// Every request answered 200, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("requests").clone()
    }
}

impl Drop for HttpReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The request id and the decoded records of a request body (gzip when its header says so).
fn parse(headers: &HeaderMap, body: &[u8]) -> Result<(String, Vec<Vec<u8>>), String> {
    let gzip = headers
        .get("content-encoding")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let mut plain = Vec::new();
    let body = if gzip {
        flate2::read::GzDecoder::new(body)
            .read_to_end(&mut plain)
            .map_err(|e| format!("gzip body: {e}"))?;
        &plain[..]
    } else {
        body
    };
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
    let request_id = v["requestId"].as_str().ok_or("no requestId")?.to_owned();
    if !v["timestamp"].is_u64() {
        return Err("no timestamp".to_owned());
    }
    let records = v["records"]
        .as_array()
        .ok_or("no records")?
        .iter()
        .map(|r| {
            let data = r["data"].as_str().ok_or("a record without data")?;
            STANDARD.decode(data).map_err(|e| format!("data: {e}"))
        })
        .collect::<Result<_, String>>()?;
    Ok((request_id, records))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
