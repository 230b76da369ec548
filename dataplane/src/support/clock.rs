//! The one clock: record arrival times, buffer deadlines and object names all read it, as
//! milliseconds since the Unix epoch.

use chrono::{DateTime, TimeZone, Utc};

/// Now, in ms since the epoch (0 if the system clock is before it).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A time in ms since the epoch, as UTC (now if out of range).
pub fn time_of(ms: u64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms as i64)
        .single()
        .unwrap_or_else(Utc::now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_round_trip_through_utc() {
        let now = now_ms();
        assert_eq!(time_of(now).timestamp_millis() as u64, now);
    }
}
