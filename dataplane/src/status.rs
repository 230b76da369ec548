//! What the process reports on `/status` (for the operator) and in freshness metrics.

use std::sync::Mutex;
use std::time::SystemTime;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

/// Last outcome of delivery attempts, shared by the delivery tasks.
#[derive(Debug, Default)]
pub struct DeliveryHealth {
    inner: Mutex<HealthInner>,
}

#[derive(Debug, Default, Clone)]
struct HealthInner {
    last_success: Option<SystemTime>,
    last_error: Option<(SystemTime, String)>,
}

impl DeliveryHealth {
    pub fn success(&self) {
        if let Ok(mut h) = self.inner.lock() {
            h.last_success = Some(crate::support::clock::now());
        }
    }

    pub fn error(&self, message: String) {
        if let Ok(mut h) = self.inner.lock() {
            h.last_error = Some((crate::support::clock::now(), message));
        }
    }

    fn snapshot(&self) -> HealthInner {
        self.inner.lock().map(|h| h.clone()).unwrap_or_default()
    }
}

/// The `/status` document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    pub stream: String,
    pub version_id: String,
    pub ready: bool,
    pub accepting: bool,
    pub backlog_records: u64,
    /// Bytes of log segments holding undelivered records (0 when nothing is undelivered).
    pub backlog_bytes: u64,
    /// Age of the oldest undelivered record; null when unknown (not yet read back from the log).
    pub oldest_undelivered_age_seconds: Option<f64>,
    pub wal: WalReport,
    pub destination: DestinationReport,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WalReport {
    pub bytes: u64,
    pub max_bytes: u64,
    pub segments: usize,
    pub next_sequence: u64,
    pub delivered_sequence: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DestinationReport {
    pub kind: String,
    pub last_success_time: Option<String>,
    pub last_error_time: Option<String>,
    pub last_error: Option<String>,
}

impl DestinationReport {
    pub fn from_health(kind: &str, health: &DeliveryHealth) -> Self {
        let h = health.snapshot();
        Self {
            kind: kind.to_owned(),
            last_success_time: h.last_success.map(rfc3339),
            last_error_time: h.last_error.as_ref().map(|(t, _)| rfc3339(*t)),
            last_error: h.last_error.map(|(_, m)| m),
        }
    }
}

fn rfc3339(t: SystemTime) -> String {
    DateTime::<Utc>::from(t).to_rfc3339_opts(SecondsFormat::Secs, true)
}
