//! A real transformation service for the processing tests: an HTTP server speaking Lambda's
//! Firehose transformation contract (`records` in; `recordId`, `result`, `data` out), whose
//! answers a test switches between normal, failing, incomplete and slow.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use warp::Filter;

/// How the service answers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// Uppercase; `drop` records Dropped, `fail` records ProcessingFailed.
    Normal,
    /// HTTP 500.
    Error,
    /// Leaves out the first record's id.
    MissingId,
    /// Answers after 3 s.
    Slow,
}

pub struct Service {
    pub addr: SocketAddr,
    /// (mode, invocations left in that mode before Normal).
    pub mode: Arc<Mutex<(Mode, u32)>>,
    /// Every invocation's event, in order.
    pub invocations: Arc<Mutex<Vec<Value>>>,
    /// Sending (or dropping) it stops the server.
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Service {
    pub async fn start_on(
        addr: SocketAddr,
        mode: Arc<Mutex<(Mode, u32)>>,
        invocations: Arc<Mutex<Vec<Value>>>,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        Self::serve(listener, mode, invocations)
    }

    /// The service inside the network namespace `netns` (a test cluster's), on every address
    /// there: pods call it at the node's IP and [`Service::addr`]'s port.
    pub fn start_in_netns(netns: &str, mode: Mode, count: u32) -> Self {
        Self::serve(
            crate::netns::tokio_listener(netns),
            Arc::new(Mutex::new((mode, count))),
            Arc::default(),
        )
    }

    fn serve(
        listener: tokio::net::TcpListener,
        mode: Arc<Mutex<(Mode, u32)>>,
        invocations: Arc<Mutex<Vec<Value>>>,
    ) -> Self {
        let (m, inv) = (mode.clone(), invocations.clone());
        let route = warp::post()
            .and(warp::header::optional::<String>("authorization"))
            .and(warp::body::json())
            .then(move |authorization: Option<String>, event: Value| {
                let (m, inv) = (m.clone(), inv.clone());
                async move {
                    let current = {
                        let mut g = m.lock().expect("mode");
                        let current = g.0;
                        if g.1 > 0 {
                            g.1 -= 1;
                            if g.1 == 0 {
                                g.0 = Mode::Normal;
                            }
                        }
                        current
                    };
                    let mut seen = event.clone();
                seen["authorization"] = json!(authorization);
                inv.lock().expect("invocations").push(seen);
                    if current == Mode::Slow {
                        tokio::time::sleep(Duration::from_secs(3)).await;
                    }
                    if current == Mode::Error {
                        return warp::reply::with_status(
                            warp::reply::json(&json!({"errorMessage": "boom"})),
                            warp::http::StatusCode::INTERNAL_SERVER_ERROR,
                        );
                    }
                    let mut records: Vec<Value> = event["records"]
                        .as_array()
                        .expect("records")
                        .iter()
                        .map(|r| {
                            let data = STANDARD
                                .decode(r["data"].as_str().expect("data"))
                                .expect("b64");
                            let text = String::from_utf8(data).expect("utf8");
                            let result = if text.contains("drop") {
                                "Dropped"
                            } else if text.contains("fail") {
                                "ProcessingFailed"
                            } else {
                                "Ok"
                            };
                            json!({
                                "recordId": r["recordId"],
                                "result": result,
                                "data": STANDARD.encode(text.to_uppercase()),
                                "metadata": {"partitionKeys": {
                                    "parity": if text.len().is_multiple_of(2) { "even" } else { "odd" }
                                }},
                            })
                        })
                        .collect();
                    if current == Mode::MissingId {
                        records.remove(0);
                    }
                    warp::reply::with_status(
                        warp::reply::json(&json!({ "records": records })),
                        warp::http::StatusCode::OK,
                    )
                }
            });
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(
            warp::serve(route)
                .incoming(listener)
                .graceful(async {
                    let _ = stopped.await;
                })
                .run(),
        );
        Self {
            addr,
            mode,
            invocations,
            stop: Some(stop),
        }
    }

    pub async fn start(mode: Mode, count: u32) -> Self {
        Self::start_on(
            "127.0.0.1:0".parse().expect("addr"),
            Arc::new(Mutex::new((mode, count))),
            Arc::default(),
        )
        .await
    }

    pub fn url(&self) -> String {
        format!("http://{}/transform", self.addr)
    }

    pub fn set(&self, mode: Mode, count: u32) {
        *self.mode.lock().expect("mode") = (mode, count);
    }

    pub fn invocations(&self) -> Vec<Value> {
        self.invocations.lock().expect("invocations").clone()
    }
}
