//! Runs the load phase: one task per connection sharing a client, a stop condition, an optional
//! record budget (`--records`), an optional pacer (`--rate-mib`) and live counters.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use tokio::time::{Instant, MissedTickBehavior, interval, sleep_until};

use crate::bitmap::Bitmap;
use crate::body::{BodyBuilder, Operation};
use crate::record::{Checksum, RecordGen};
use crate::sign::Signer;
use crate::worker::{self, WorkerResult};

const MIB: f64 = 1024.0 * 1024.0;

/// What the load phase needs to know.
pub struct LoadConfig {
    pub endpoint: String,
    pub stream: String,
    pub connections: u16,
    pub operation: Operation,
    pub batch_size: usize,
    /// Stop after this long (ignored when `records` is set).
    pub duration: Duration,
    /// Stop after this many acknowledged records.
    pub records: Option<u64>,
    pub rate_mib: Option<f64>,
    /// Signs each request (SigV4) when set.
    pub signer: Option<Signer>,
}

/// Live counters, shared by all connections.
#[derive(Default)]
pub struct Counters {
    pub acked: AtomicU64,
    pub throttled: AtomicU64,
    pub requests: AtomicU64,
    pub errors: AtomicU64,
}

/// State shared by all connections.
pub struct Shared {
    pub client: reqwest::Client,
    pub endpoint: String,
    pub operation: Operation,
    pub batch_size: usize,
    pub record_size: usize,
    pub signer: Option<Signer>,
    pacer: Option<Pacer>,
    pub counters: Counters,
    deadline: Option<Instant>,
    /// Fresh records still to be generated (`--records` mode).
    budget: Option<AtomicU64>,
    stop: AtomicBool,
    fatal: Mutex<Option<String>>,
}

impl Shared {
    /// Whether connections should stop starting requests.
    pub fn stopping(&self) -> bool {
        self.stop.load(Relaxed)
            || crate::interrupted()
            || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Waits until a request carrying `bytes` of payload may start and returns the time latency
    /// is measured from: the paced slot, or now when unpaced. `None` if the run ends first.
    pub async fn pace(&self, bytes: usize) -> Option<Instant> {
        match &self.pacer {
            Some(pacer) => pacer.reserve(bytes, self.deadline).await,
            None => Some(Instant::now()),
        }
    }

    /// Claims up to `want` fresh records; 0 once the `--records` budget is used up.
    pub fn claim(&self, want: usize) -> usize {
        let Some(budget) = &self.budget else {
            return want;
        };
        let want = want as u64;
        match budget.fetch_update(Relaxed, Relaxed, |left| Some(left - left.min(want))) {
            Ok(left) => left.min(want) as usize,
            Err(_) => 0,
        }
    }

    /// Stops the run because of an unrecoverable error (the first message is kept).
    pub fn abort(&self, msg: String) {
        let mut fatal = self.fatal.lock().unwrap_or_else(PoisonError::into_inner);
        if fatal.is_none() {
            eprintln!("loadgen: aborting run: {msg}");
            *fatal = Some(msg);
        }
        self.stop.store(true, Relaxed);
    }
}

/// Paces requests across all connections to a target payload rate.
///
/// Each request reserves the next send slot on a shared schedule. Latency is measured from the
/// scheduled slot rather than the actual send, so when the server (or the generator) falls
/// behind, queueing delay shows up in the percentiles instead of being hidden (no coordinated
/// omission).
pub struct Pacer {
    nanos_per_byte: f64,
    next: Mutex<Instant>,
}

impl Pacer {
    pub fn new(mib_per_s: f64, start: Instant) -> Self {
        Self {
            nanos_per_byte: 1e9 / (mib_per_s * MIB),
            next: Mutex::new(start),
        }
    }

    /// Reserves a slot for `bytes` of payload, waits for it, and returns the slot's time; `None`
    /// (without waiting) if the slot is at or after `deadline`.
    async fn reserve(&self, bytes: usize, deadline: Option<Instant>) -> Option<Instant> {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
            let slot = *next;
            *next += Duration::from_nanos((bytes as f64 * self.nanos_per_byte) as u64);
            slot
        };
        if deadline.is_some_and(|d| slot >= d) {
            return None;
        }
        sleep_until(slot).await;
        Some(slot)
    }
}

/// The outcome of the load phase.
pub struct LoadSummary {
    pub elapsed: Duration,
    /// Acknowledged record counters, indexed by connection.
    pub acked: Vec<Bitmap>,
    pub acked_records: u64,
    pub checksum: Checksum,
    pub latency: Histogram<u64>,
    pub throttled: u64,
    pub requests: u64,
    pub errors: u64,
    pub aborted: Option<String>,
}

/// Runs the load phase to completion.
pub async fn run(
    config: &LoadConfig,
    client: reqwest::Client,
    generator: Arc<RecordGen>,
) -> Result<LoadSummary> {
    let builders = (0..config.connections)
        .map(|c| BodyBuilder::new(generator.clone(), &config.stream, c, config.operation))
        .collect::<Result<Vec<_>>>()?;
    let start = Instant::now();
    let shared = Arc::new(Shared {
        client,
        endpoint: config.endpoint.clone(),
        operation: config.operation,
        batch_size: config.batch_size,
        record_size: generator.record_size(),
        signer: config.signer.clone(),
        pacer: config.rate_mib.map(|rate| Pacer::new(rate, start)),
        counters: Counters::default(),
        deadline: config.records.is_none().then(|| start + config.duration),
        budget: config.records.map(AtomicU64::new),
        stop: AtomicBool::new(false),
        fatal: Mutex::new(None),
    });
    let workers: Vec<_> = builders
        .into_iter()
        .map(|builder| tokio::spawn(worker::run(shared.clone(), builder)))
        .collect();
    let progress = tokio::spawn(report_progress(shared.clone(), start));
    let results = futures::future::join_all(workers).await;
    let elapsed = start.elapsed();
    progress.abort();

    let results = results
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .context("a load connection panicked")?;
    Ok(summarize(&shared, results, elapsed))
}

fn summarize(shared: &Shared, results: Vec<WorkerResult>, elapsed: Duration) -> LoadSummary {
    let mut latency =
        Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("static histogram bounds");
    let mut checksum = Checksum::default();
    let mut acked = Vec::with_capacity(results.len());
    for result in results {
        // Same bounds, so adding cannot fail.
        let _ = latency.add(&result.latency);
        checksum.merge(&result.checksum);
        acked.push(result.acked);
    }
    let counters = &shared.counters;
    LoadSummary {
        elapsed,
        acked,
        acked_records: checksum.count,
        checksum,
        latency,
        throttled: counters.throttled.load(Relaxed),
        requests: counters.requests.load(Relaxed),
        errors: counters.errors.load(Relaxed),
        aborted: shared
            .fatal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone(),
    }
}

/// Prints a progress line to stderr every second.
async fn report_progress(shared: Arc<Shared>, start: Instant) {
    let mut tick = interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tick.tick().await;
    let mut last = (start, 0u64);
    loop {
        tick.tick().await;
        let now = Instant::now();
        let counters = &shared.counters;
        let acked = counters.acked.load(Relaxed);
        let mib = |records: u64| records as f64 * shared.record_size as f64 / MIB;
        let window = now.duration_since(last.0).as_secs_f64().max(1e-9);
        let total = now.duration_since(start).as_secs_f64().max(1e-9);
        eprintln!(
            "[{total:7.1}s] acked {acked:>12} records  {:8.1} MiB/s (avg {:8.1})  throttled {:>10}  errors {:>6}",
            mib(acked - last.1) / window,
            mib(acked) / total,
            counters.throttled.load(Relaxed),
            counters.errors.load(Relaxed),
        );
        last = (now, acked);
    }
}
