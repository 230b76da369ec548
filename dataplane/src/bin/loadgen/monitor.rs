//! Observing the server: peak memory from `/proc/<pid>/status`, and the delivery backlog from the
//! status endpoint.

use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior, interval, sleep};

const RSS_SAMPLE_PERIOD: Duration = Duration::from_millis(250);
const DRAIN_POLL_PERIOD: Duration = Duration::from_millis(100);
const DRAIN_PRINT_PERIOD: Duration = Duration::from_secs(5);

/// Memory figures in KiB, as reported by the kernel.
#[derive(Clone, Copy, Debug, Default)]
pub struct RssStats {
    /// Largest `VmHWM` seen (peak RSS over the process lifetime).
    pub hwm_kib: Option<u64>,
    /// Largest `VmRSS` sampled.
    pub max_rss_kib: Option<u64>,
    pub samples: u64,
}

impl RssStats {
    /// Peak resident set size in KiB: the larger of the kernel's high-water mark and our samples.
    pub fn peak_kib(&self) -> Option<u64> {
        self.hwm_kib.max(self.max_rss_kib)
    }

    fn observe(&mut self, status: &str) {
        let hwm = status_field_kib(status, "VmHWM:");
        let rss = status_field_kib(status, "VmRSS:");
        self.hwm_kib = self.hwm_kib.max(hwm);
        self.max_rss_kib = self.max_rss_kib.max(rss);
        self.samples += 1;
    }
}

/// CPU seconds (user + system) a process has used so far, from `/proc/<pid>/stat`.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    cpu_seconds_of(&stat, clock_ticks_per_second())
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf reads no memory of ours.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// utime and stime are the 14th and 15th fields; the command name (2nd) may hold spaces, so
/// fields are counted after its closing parenthesis.
fn cpu_seconds_of(stat: &str, ticks_per_second: f64) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / ticks_per_second)
}

/// Samples a process's memory every 250 ms until stopped.
pub struct RssMonitor {
    stop: oneshot::Sender<()>,
    task: JoinHandle<RssStats>,
}

impl RssMonitor {
    pub fn spawn(pid: u32) -> Self {
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let path = format!("/proc/{pid}/status");
            let mut stats = RssStats::default();
            let mut tick = interval(RSS_SAMPLE_PERIOD);
            tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let mut warned = false;
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tick.tick() => {}
                }
                match tokio::fs::read_to_string(&path).await {
                    Ok(status) => stats.observe(&status),
                    Err(e) if !warned => {
                        eprintln!("loadgen: cannot read {path}: {e}");
                        warned = true;
                    }
                    Err(_) => {}
                }
            }
            stats
        });
        Self { stop, task }
    }

    /// Stops sampling and returns the statistics.
    pub async fn finish(self) -> RssStats {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_default()
    }
}

/// Parses a `Name:   1234 kB` line of `/proc/<pid>/status`.
fn status_field_kib(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|value| value.parse().ok())
}

/// How waiting for the server's delivery backlog to empty went.
#[derive(Clone, Debug)]
pub struct Drain {
    pub drained: bool,
    pub elapsed: Duration,
    pub last_backlog: Option<u64>,
    pub last_error: Option<String>,
}

/// Polls the status URL until `backlogRecords` is 0, the timeout passes, or the user interrupts.
pub async fn wait_for_drain(client: &reqwest::Client, url: &str, timeout: Duration) -> Drain {
    let start = Instant::now();
    let mut drain = Drain {
        drained: false,
        elapsed: Duration::ZERO,
        last_backlog: None,
        last_error: None,
    };
    let mut next_print = start + DRAIN_PRINT_PERIOD;
    loop {
        match fetch_backlog(client, url).await {
            Ok(backlog) => {
                drain.last_backlog = Some(backlog);
                drain.last_error = None;
                if backlog == 0 {
                    drain.drained = true;
                    break;
                }
            }
            Err(e) => drain.last_error = Some(format!("{e:#}")),
        }
        let now = Instant::now();
        if now.duration_since(start) >= timeout || crate::interrupted() {
            break;
        }
        if now >= next_print {
            print_drain_progress(&drain, now.duration_since(start));
            next_print = now + DRAIN_PRINT_PERIOD;
        }
        sleep(DRAIN_POLL_PERIOD).await;
    }
    drain.elapsed = start.elapsed();
    drain
}

fn print_drain_progress(drain: &Drain, waited: Duration) {
    let waited = waited.as_secs_f64();
    match (&drain.last_error, drain.last_backlog) {
        (Some(e), _) => eprintln!("[drain {waited:6.1}s] status endpoint error: {e}"),
        (None, Some(backlog)) => eprintln!("[drain {waited:6.1}s] backlog {backlog} records"),
        (None, None) => {}
    }
}

async fn fetch_backlog(client: &reqwest::Client, url: &str) -> Result<u64> {
    let response = client.get(url).send().await.context("requesting status")?;
    let status = response.status();
    anyhow::ensure!(
        status.is_success(),
        "status endpoint returned HTTP {status}"
    );
    let body = response.bytes().await.context("reading status")?;
    parse_backlog(&body)
}

fn parse_backlog(body: &[u8]) -> Result<u64> {
    let value: serde_json::Value = serde_json::from_slice(body).context("status is not JSON")?;
    value
        .get("backlogRecords")
        .and_then(serde_json::Value::as_u64)
        .context("status has no numeric backlogRecords")
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_seconds_skip_a_command_name_with_spaces() {
        let stat = "4242 (hydrant (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8";
        assert_eq!(super::cpu_seconds_of(stat, 100.0), Some(3.0));
        assert_eq!(super::cpu_seconds_of("garbage", 100.0), None);
    }

    use super::*;

    #[test]
    fn parses_proc_status() {
        let status =
            "Name:\thydrant\nVmPeak:\t  900000 kB\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\n";
        let mut stats = RssStats::default();
        stats.observe(status);
        assert_eq!(stats.hwm_kib, Some(51_200));
        assert_eq!(stats.max_rss_kib, Some(40_960));
        assert_eq!(stats.peak_kib(), Some(51_200));
    }

    #[test]
    fn parses_backlog() {
        assert_eq!(
            parse_backlog(br#"{"backlogRecords":12,"x":1}"#).ok(),
            Some(12)
        );
        assert!(parse_backlog(br#"{"backlog":12}"#).is_err());
        assert!(parse_backlog(b"<html>").is_err());
    }
}
