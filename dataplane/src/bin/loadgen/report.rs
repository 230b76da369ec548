//! The final report: human-readable text and a single JSON line.

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::verify::VerifyReport;

pub const MIB: f64 = 1024.0 * 1024.0;

#[derive(Debug, Serialize)]
pub struct Report {
    pub run_id: String,
    pub endpoint: String,
    pub stream: String,
    pub connections: u16,
    pub record_size: usize,
    pub batch_size: usize,
    pub operation: &'static str,
    pub target_rate_mib: Option<f64>,
    pub elapsed_s: f64,
    pub acked_records: u64,
    pub acked_mib: f64,
    pub records_per_s: f64,
    pub mib_per_s: f64,
    pub latency_ms: Latency,
    pub requests: u64,
    pub throttled_records: u64,
    pub errors: u64,
    pub aborted: Option<String>,
    /// Stopped early by Ctrl-C.
    pub interrupted: bool,
    pub server_peak_rss_mib: Option<f64>,
    pub server_max_sampled_rss_mib: Option<f64>,
    /// The server's user + system CPU seconds over the load phase.
    pub server_cpu_s: Option<f64>,
    pub delivery: Option<Delivery>,
}

/// Per-request acknowledgement latency in milliseconds.
#[derive(Debug, Default, Serialize)]
pub struct Latency {
    pub samples: u64,
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

impl Latency {
    /// From a histogram of microseconds.
    pub fn from_micros(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        Self {
            samples: h.len(),
            p50: ms(h.value_at_quantile(0.5)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Delivery {
    /// Whether the server's backlog reached 0 before the timeout.
    pub drained: bool,
    /// From the end of the load to backlog 0 (or to giving up).
    pub drain_s: f64,
    pub backlog_at_end: Option<u64>,
    pub status_error: Option<String>,
    /// Acknowledged payload / (load time + drain time).
    pub delivered_mib_per_s: f64,
    pub verify: VerifyReport,
}

impl Report {
    /// Whether verification (if any) found every acknowledged record intact.
    pub fn verified_ok(&self) -> bool {
        self.delivery.as_ref().is_none_or(|d| d.verify.ok())
    }

    pub fn print_human(&self) {
        println!(
            "loadgen run {} -> {} stream {:?}: {} connections, {}, {} x {} B records per request{}",
            self.run_id,
            self.endpoint,
            self.stream,
            self.connections,
            self.operation,
            self.batch_size,
            self.record_size,
            self.target_rate_mib
                .map(|r| format!(", paced at {r} MiB/s"))
                .unwrap_or_default(),
        );
        println!("  elapsed          {:.2} s", self.elapsed_s);
        println!(
            "  acknowledged     {} records ({:.1} MiB)",
            self.acked_records, self.acked_mib
        );
        println!(
            "  throughput       {:.0} records/s, {:.1} MiB/s",
            self.records_per_s, self.mib_per_s
        );
        let l = &self.latency_ms;
        println!(
            "  ack latency      p50 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms  max {:.2} ms  ({} requests)",
            l.p50, l.p99, l.p999, l.max, l.samples
        );
        println!(
            "  requests         {} sent, {} throttled records, {} errors",
            self.requests, self.throttled_records, self.errors
        );
        if let Some(peak) = self.server_peak_rss_mib {
            println!("  server peak RSS  {peak:.1} MiB");
        }
        if let Some(cpu) = self.server_cpu_s {
            let per_request = if self.requests > 0 {
                cpu / self.requests as f64 * 1e6
            } else {
                0.0
            };
            println!(
                "  server CPU       {cpu:.1} s ({:.2} cores, {per_request:.1} µs per request)",
                if self.elapsed_s > 0.0 {
                    cpu / self.elapsed_s
                } else {
                    0.0
                }
            );
        }
        if let Some(reason) = &self.aborted {
            println!("  ABORTED          {reason}");
        }
        if self.interrupted {
            println!("  INTERRUPTED      stopped early by Ctrl-C");
        }
        if let Some(delivery) = &self.delivery {
            delivery.print_human();
        }
    }

    pub fn print_json(&self) {
        match serde_json::to_string(self) {
            Ok(line) => println!("{line}"),
            Err(e) => eprintln!("loadgen: cannot encode JSON report: {e}"),
        }
    }
}

impl Delivery {
    fn print_human(&self) {
        let v = &self.verify;
        println!("delivery");
        let state = match (self.drained, self.backlog_at_end) {
            (true, _) => "backlog 0".to_string(),
            (false, Some(backlog)) => format!("TIMED OUT with backlog {backlog}"),
            (false, None) => format!(
                "TIMED OUT, status unavailable: {}",
                self.status_error.as_deref().unwrap_or("unknown")
            ),
        };
        println!("  drain time       {:.2} s ({state})", self.drain_s);
        println!(
            "  delivered rate   {:.1} MiB/s (acknowledged payload / (load + drain))",
            self.delivered_mib_per_s
        );
        println!(
            "  objects          {} files ({} unreadable), {:.1} MiB, {} lines ({} foreign, {} malformed)",
            v.files,
            v.unreadable_files,
            v.bytes as f64 / MIB,
            v.lines,
            v.foreign_lines,
            v.malformed_lines
        );
        println!(
            "  records          {} delivered, {} missing, {} duplicates, {} corrupt, {} delivered but unacknowledged",
            v.delivered_records, v.missing, v.duplicates, v.corrupt, v.unacknowledged_delivered
        );
        println!(
            "  checksum         acked {} (sum {:x}, xor {:016x}) vs delivered {} (sum {:x}, xor {:016x}): {}",
            v.acked_checksum.count,
            v.acked_checksum.crc_sum,
            v.acked_checksum.mixed_xor,
            v.delivered_checksum.count,
            v.delivered_checksum.crc_sum,
            v.delivered_checksum.mixed_xor,
            if v.checksum_match {
                "match"
            } else {
                "MISMATCH"
            }
        );
        println!(
            "  verification     {}",
            if v.ok() { "OK" } else { "FAILED" }
        );
    }
}
