//! The live view of `hydrant run` for a person at a terminal: one summary line every 10 s —
//! what came in and how fast, what was delivered, what waits, and the last delivery error — so a
//! stream run by hand is seen working (or not) without curl. Text logs only; JSON logs are for
//! machines, which read /metrics and /status.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::server::Observed;

/// How often the line is written.
pub const EVERY: Duration = Duration::from_secs(10);

/// Counters at one moment, to difference the next against.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Sample {
    records_in: u64,
    bytes_in: u64,
    delivered: u64,
}

/// Writes the summary line every `every` until aborted.
pub fn spawn(observed: Arc<Observed>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last = sample(&observed);
        let mut at = Instant::now();
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            let now = sample(&observed);
            let seconds = at.elapsed().as_secs_f64();
            let report = observed.report();
            let line = summary(
                last,
                now,
                seconds,
                report.backlog_records,
                report.oldest_undelivered_age_seconds,
                report.destination.last_error.as_deref(),
            );
            tracing::info!(target: "hydrant::live", "{line}");
            last = now;
            at = Instant::now();
        }
    })
}

fn sample(observed: &Observed) -> Sample {
    let m = &observed.ingest.metrics;
    Sample {
        records_in: m.incoming_records.get(),
        bytes_in: m.incoming_bytes.get(),
        delivered: m
            .delivery_records
            .with_label_values(&[observed.destination_kind, "success"])
            .get(),
    }
}

/// The line: `in 1200 records (0.11 MiB/s), delivered 1180, backlog 20, oldest 1.4 s, last
/// error: none`. Pure.
fn summary(
    before: Sample,
    now: Sample,
    seconds: f64,
    backlog: u64,
    oldest_age: Option<f64>,
    last_error: Option<&str>,
) -> String {
    let records = now.records_in.saturating_sub(before.records_in);
    let bytes = now.bytes_in.saturating_sub(before.bytes_in);
    let mib_s = if seconds > 0.0 {
        bytes as f64 / seconds / (1024.0 * 1024.0)
    } else {
        0.0
    };
    let delivered = now.delivered.saturating_sub(before.delivered);
    let oldest = match oldest_age {
        Some(age) if backlog > 0 => format!("{age:.1} s"),
        _ => "-".to_owned(),
    };
    format!(
        "in {records} records ({mib_s:.2} MiB/s), delivered {delivered}, backlog {backlog}, oldest {oldest}, last error: {}",
        last_error.unwrap_or("none")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_counts_what_changed_since_the_last_one() {
        let before = Sample {
            records_in: 100,
            bytes_in: 1 << 20,
            delivered: 90,
        };
        let now = Sample {
            records_in: 1300,
            bytes_in: 11 << 20,
            delivered: 1270,
        };
        assert_eq!(
            summary(before, now, 10.0, 30, Some(1.44), None),
            "in 1200 records (1.00 MiB/s), delivered 1180, backlog 30, oldest 1.4 s, last error: none"
        );
        assert_eq!(
            summary(now, now, 10.0, 0, Some(3.0), Some("S3.InternalError: boom")),
            "in 0 records (0.00 MiB/s), delivered 0, backlog 0, oldest -, last error: S3.InternalError: boom"
        );
    }
}
