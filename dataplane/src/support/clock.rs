//! The process's clocks. The wall clock (ms since the Unix epoch) stamps record arrivals, names
//! objects and checks signatures; buffer ages run on a monotonic clock, so that the wall clock
//! jumping (an NTP step, a VM resumed, an operator's mistake) neither holds a buffer for an hour
//! nor flushes every buffer at once.
//!
//! The wall clock is the system's, shifted by an offset that is 0 unless the process was started
//! with `HYDRANT_CLOCK_OFFSET_FILE`: a file holding a signed number of milliseconds, re-read
//! every 50 ms. It is a seam for tests, which move the clock of a running process without
//! touching the machine's.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, TimeZone, Utc};

/// The environment variable naming the offset file.
pub const OFFSET_FILE_VAR: &str = "HYDRANT_CLOCK_OFFSET_FILE";

/// The monotonic clock starts this far above 0, so that a record's age (at most a buffering
/// interval, 900 s) subtracts from it without saturating in a process's first minutes.
const MONOTONIC_BASE_MS: u64 = 24 * 3600 * 1000;

static OFFSET_MS: AtomicI64 = AtomicI64::new(0);
static STARTED: OnceLock<Instant> = OnceLock::new();

/// Now on the wall clock, in ms since the epoch (0 if it is before the epoch).
pub fn now_ms() -> u64 {
    let system = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    system
        .saturating_add(OFFSET_MS.load(Ordering::Relaxed))
        .max(0) as u64
}

/// Now on the wall clock, as a `SystemTime`.
pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(now_ms())
}

/// Now on the monotonic clock, in ms (only differences mean anything).
pub fn monotonic_ms() -> u64 {
    let started = STARTED.get_or_init(Instant::now);
    MONOTONIC_BASE_MS + started.elapsed().as_millis() as u64
}

/// When, on the monotonic clock, a record that arrived at `arrival_ms` (wall) is taken to have
/// started ageing in a buffer: see [`entered_at`].
pub fn entered_ms(arrival_ms: u64, cap_ms: u64) -> u64 {
    entered_at(monotonic_ms(), now_ms(), arrival_ms, cap_ms)
}

/// The monotonic time `monotonic_now` less the record's age on the wall clock, that age taken as
/// 0 for a record from the future (the clock went back since it arrived) and as at most `cap_ms`
/// (a buffering interval: a record replayed after a restart, or one that seems old because the
/// clock went forward, is due at once and no earlier than that).
pub fn entered_at(monotonic_now: u64, wall_now: u64, arrival_ms: u64, cap_ms: u64) -> u64 {
    let age = wall_now.saturating_sub(arrival_ms).min(cap_ms);
    monotonic_now.saturating_sub(age)
}

/// A time in ms since the epoch, as UTC (now if out of range).
pub fn time_of(ms: u64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms as i64)
        .single()
        .unwrap_or_else(Utc::now)
}

/// Follows the offset file named by [`OFFSET_FILE_VAR`], if the environment names one: reads it
/// now and then every 50 ms on a thread of its own. A file that is missing or does not hold a
/// number leaves the offset as it was.
pub fn follow_offset_file_from_env() {
    let Some(path) = std::env::var_os(OFFSET_FILE_VAR).map(PathBuf::from) else {
        return;
    };
    tracing::warn!(path = %path.display(), "the wall clock follows an offset file (a test seam)");
    read_offset(&path);
    let spawned = std::thread::Builder::new()
        .name("clock-offset".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(50));
                read_offset(&path);
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "the clock offset file cannot be followed");
    }
}

fn read_offset(path: &std::path::Path) {
    if let Some(ms) = std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.trim().parse::<i64>().ok())
    {
        let before = OFFSET_MS.swap(ms, Ordering::Relaxed);
        if before != ms {
            tracing::warn!(offset_ms = ms, "the wall clock moved (clock offset file)");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_round_trip_through_utc() {
        let now = now_ms();
        assert_eq!(time_of(now).timestamp_millis() as u64, now);
    }

    #[test]
    fn a_record_enters_its_age_ago_within_zero_and_the_cap() {
        let hour = 3_600_000;
        // Read 2 s after it arrived.
        assert_eq!(entered_at(100_000, 1_002_000, 1_000_000, 60_000), 98_000);
        // The clock went back an hour after it arrived: it ages from now.
        assert_eq!(
            entered_at(100_000, 1_000_000, 1_000_000 + hour, 60_000),
            100_000
        );
        // The clock went forward an hour, or the record was replayed: one interval old.
        assert_eq!(
            entered_at(100_000, 1_000_000 + hour, 1_000_000, 60_000),
            40_000
        );
    }

    #[test]
    fn the_monotonic_clock_leaves_room_for_an_interval_below_it() {
        assert!(monotonic_ms() >= MONOTONIC_BASE_MS);
        assert!(entered_ms(0, 900_000) >= MONOTONIC_BASE_MS - 900_000);
    }
}
