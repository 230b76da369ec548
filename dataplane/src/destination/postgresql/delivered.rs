//! Exactly-once loads: each batch's identity (derived from the log and its records' sequence
//! numbers, the same after a crash because batches replay at their recorded boundaries) is
//! inserted into a table of delivered batches in the transaction that loads its rows. A replayed
//! batch finds its identity there and loads nothing.
//!
//! The table, `hydrant_delivered_batches` in the target table's schema, is created on first use
//! (`CREATE TABLE IF NOT EXISTS`); a role that may not create it gets at-least-once loads and a
//! warning. Rows older than a day are deleted now and then: a batch replays within seconds of
//! its delivery, never a day later.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Transaction};

const TABLE: &str = "hydrant_delivered_batches";
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

const UNKNOWN: u8 = 0;
const READY: u8 = 1;
const UNAVAILABLE: u8 = 2;

pub struct DeliveredBatches {
    /// Quoted, schema-qualified when the target table is.
    table: String,
    state: AtomicU8,
    pruned: Mutex<Option<Instant>>,
}

impl DeliveredBatches {
    /// The table beside `target` (`schema.table` or `table`).
    pub fn beside(target: &str) -> Self {
        let table = match target.rsplit_once('.') {
            Some((schema, _)) => format!("{}.{}", super::quote_ident(schema), TABLE),
            None => TABLE.to_owned(),
        };
        Self {
            table,
            state: AtomicU8::new(UNKNOWN),
            pruned: Mutex::new(None),
        }
    }

    /// Creates the table if need be; false when it cannot be used (loads are then at least
    /// once). A connection error is returned: the batch is retried.
    pub async fn ensure(&self, client: &Client) -> Result<bool, tokio_postgres::Error> {
        match self.state.load(Ordering::Acquire) {
            READY => return Ok(true),
            UNAVAILABLE => return Ok(false),
            _ => {}
        }
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {} (batch text PRIMARY KEY, delivered_at timestamptz NOT NULL DEFAULT now())",
            self.table
        );
        match client.batch_execute(&ddl).await {
            Ok(()) => {
                self.state.store(READY, Ordering::Release);
                Ok(true)
            }
            Err(e) if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => {
                tracing::warn!(table = %self.table, error = %e, "cannot create the table of delivered batches: loads are at least once (a crash can load rows twice)");
                self.state.store(UNAVAILABLE, Ordering::Release);
                Ok(false)
            }
            // Two streams creating it at once: the loser's unique violation means it exists.
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                self.state.store(READY, Ordering::Release);
                Ok(true)
            }
            Err(e) => Err(e),
        }
    }

    /// Claims `batch` in `tx`; false when a committed transaction already loaded it.
    pub async fn claim(
        &self,
        tx: &Transaction<'_>,
        batch: &str,
    ) -> Result<bool, tokio_postgres::Error> {
        let sql = format!(
            "INSERT INTO {} (batch) VALUES ($1) ON CONFLICT DO NOTHING",
            self.table
        );
        Ok(tx.execute(&sql, &[&batch]).await? == 1)
    }

    /// Deletes day-old rows, at most hourly; failures only delay it.
    pub async fn prune(&self, client: &Client) {
        {
            let mut pruned = self.pruned.lock().unwrap_or_else(|e| e.into_inner());
            if pruned.is_some_and(|at| at.elapsed() < PRUNE_EVERY) {
                return;
            }
            *pruned = Some(Instant::now());
        }
        let sql = format!(
            "DELETE FROM {} WHERE delivered_at < now() - interval '1 day'",
            self.table
        );
        if let Err(e) = client.batch_execute(&sql).await {
            tracing::warn!(table = %self.table, error = %e, "pruning the table of delivered batches failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_sits_in_the_target_tables_schema() {
        assert_eq!(
            DeliveredBatches::beside("analytics.events").table,
            "\"analytics\".hydrant_delivered_batches"
        );
        assert_eq!(
            DeliveredBatches::beside("events").table,
            "hydrant_delivered_batches"
        );
    }
}
