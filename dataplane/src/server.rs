//! The observability port: `/metrics`, `/healthz`, `/readyz`, `/status`.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http::{HeaderValue, StatusCode};
use warp::Filter;
use warp::http::Response;

use crate::batch::Progress;
use crate::ingest::Ingest;
use crate::status::{DeliveryHealth, DestinationReport, StatusReport, WalReport};

/// What the observability endpoints read.
pub struct Observed {
    pub ingest: Arc<Ingest>,
    pub progress: Arc<Progress>,
    pub health: Arc<DeliveryHealth>,
    pub destination_kind: &'static str,
    pub max_bytes: u64,
    /// False until recovery finished and again once draining starts.
    pub ready: AtomicBool,
}

impl Observed {
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
            && self.ingest.is_accepting()
            && !self.ingest.wal.is_full()
    }

    pub fn report(&self) -> StatusReport {
        let wal = self.ingest.wal.stats();
        let backlog = wal.next_seq.saturating_sub(wal.delivered);
        let now = crate::support::clock::now_ms();
        let oldest_age = if backlog == 0 {
            Some(0.0)
        } else {
            self.progress
                .oldest_undelivered_ms()
                .map(|ms| now.saturating_sub(ms) as f64 / 1000.0)
        };
        StatusReport {
            stream: self.ingest.identity.name.clone(),
            version_id: self.ingest.identity.version_id.clone(),
            ready: self.is_ready(),
            accepting: self.ingest.is_accepting(),
            backlog_records: backlog,
            backlog_bytes: if backlog == 0 { 0 } else { wal.disk_bytes },
            oldest_undelivered_age_seconds: oldest_age,
            wal: WalReport {
                bytes: wal.disk_bytes,
                max_bytes: self.max_bytes,
                segments: wal.segments,
                next_sequence: wal.next_seq,
                delivered_sequence: wal.delivered,
            },
            destination: DestinationReport::from_health(self.destination_kind, &self.health),
        }
    }

    /// Refreshes gauges that are sampled rather than counted.
    pub fn update_gauges(&self) {
        let report = self.report();
        let m = &self.ingest.metrics;
        m.wal_bytes.set(report.wal.bytes as i64);
        m.wal_segments.set(report.wal.segments as i64);
        m.wal_max_bytes.set(report.wal.max_bytes as i64);
        m.wal_backlog_records.set(report.backlog_records as i64);
        if let Some(age) = report.oldest_undelivered_age_seconds {
            m.delivery_freshness
                .with_label_values(&[self.destination_kind])
                .set(age);
        }
    }
}

pub fn routes(
    observed: Arc<Observed>,
) -> impl Filter<Extract = (Response<String>,), Error = Infallible> + Clone + Send + Sync + 'static
{
    warp::get()
        .and(warp::path::full())
        .map(move |path: warp::filters::path::FullPath| {
            let o = &observed;
            match path.as_str() {
                "/metrics" => {
                    o.update_gauges();
                    respond(
                        StatusCode::OK,
                        "text/plain; version=0.0.4; charset=utf-8",
                        o.ingest.metrics.render(),
                    )
                }
                "/healthz" => respond(StatusCode::OK, "text/plain", "ok\n".into()),
                "/readyz" => {
                    if o.is_ready() {
                        respond(StatusCode::OK, "text/plain", "ready\n".into())
                    } else {
                        respond(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "text/plain",
                            "not ready\n".into(),
                        )
                    }
                }
                "/status" => respond(
                    StatusCode::OK,
                    "application/json",
                    serde_json::to_string(&o.report()).unwrap_or_default(),
                ),
                _ => respond(StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
            }
        })
        .recover(|_| async {
            Ok::<_, Infallible>(respond(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain",
                "use GET\n".into(),
            ))
        })
        .unify()
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<String> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    r
}
