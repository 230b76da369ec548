//! PostgreSQL (or any PostgreSQL-wire database with `COPY ... FROM STDIN`): each batch is one
//! transaction holding one COPY. A row the database refuses (a data error) is isolated by
//! bisection under savepoints, so only that row goes to the error output and the rest commit.
//! The transaction also records the batch as delivered ([`delivered`]), so a batch replayed
//! after a crash loads nothing twice.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, SinkExt};
use tokio::sync::Mutex;
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

mod delivered;
mod rows;

use super::object_identity::{Lane, ObjectIdentity};
use super::pg_connect::PgTarget;
use super::{DeliveryError, Destination, Outcome, RecordOutcome};
use crate::record::{Batch, Failure};
use crate::support::error_text::describe;
use crate::support::secrets;
use crds::RecordFormat;
use delivered::DeliveredBatches;
use rows::{csv_row, json_row};

pub struct PostgresqlDestination {
    target: PgTarget,
    copy_sql: String,
    columns: Vec<String>,
    format: RecordFormat,
    /// Idle connections; a delivery takes one or opens one.
    idle: Mutex<Vec<Client>>,
    delivered: DeliveredBatches,
    log_id: uuid::Uuid,
}

impl PostgresqlDestination {
    pub fn build(
        spec: &crds::PostgresqlDestination,
        secrets_dir: &Path,
        log_id: uuid::Uuid,
    ) -> anyhow::Result<Self> {
        let secret = &spec.connection_secret;
        let config = match secrets::read_optional(secrets_dir, secret, "uri")? {
            Some(uri) => uri.parse::<tokio_postgres::Config>()?,
            None => {
                let mut c = tokio_postgres::Config::new();
                c.host(secrets::read(secrets_dir, secret, "host")?);
                if let Some(port) = secrets::read_optional(secrets_dir, secret, "port")? {
                    c.port(port.trim().parse()?);
                }
                c.dbname(secrets::read(secrets_dir, secret, "dbname")?);
                c.user(secrets::read(secrets_dir, secret, "user")?);
                if let Some(password) = secrets::read_optional(secrets_dir, secret, "password")? {
                    c.password(password);
                }
                c
            }
        };
        let mut config = config;
        config
            .application_name("hydrant")
            .connect_timeout(Duration::from_secs(10));
        Ok(Self {
            target: PgTarget::new(config, secrets_dir, secret)?,
            copy_sql: copy_sql(&spec.table, &spec.columns),
            columns: spec.columns.clone(),
            format: spec.format,
            idle: Mutex::new(Vec::new()),
            delivered: DeliveredBatches::beside(&spec.table),
            log_id,
        })
    }

    async fn connect(&self) -> Result<Client, Failure> {
        if let Some(client) = self.idle.lock().await.pop()
            && !client.is_closed()
        {
            return Ok(client);
        }
        self.target
            .connect()
            .await
            .map_err(|e| Failure::new("PostgreSQL.ConnectionFailed", describe(&e)))
    }

    async fn load(&self, batch: &Batch) -> Outcome {
        // Rows first: a record that cannot become a row is rejected without touching the
        // database.
        let mut outcomes = vec![RecordOutcome::Delivered; batch.len()];
        let mut rows: Vec<(usize, std::ops::Range<usize>)> = Vec::with_capacity(batch.len());
        let mut data = Vec::with_capacity(batch.record_bytes() as usize + batch.len() * 4);
        for (i, outcome) in outcomes.iter_mut().enumerate() {
            let start = data.len();
            let result = match self.format {
                RecordFormat::Json => json_row(batch.record(i), &self.columns, &mut data),
                RecordFormat::Csv => csv_row(batch.record(i), &mut data),
            };
            match result {
                Ok(()) => rows.push((i, start..data.len())),
                Err(f) => {
                    data.truncate(start);
                    *outcome = RecordOutcome::Reject(f);
                }
            }
        }
        if rows.is_empty() {
            return Outcome::PerRecord(outcomes);
        }
        let data = Bytes::from(data);
        let mut client = match self.connect().await {
            Ok(c) => c,
            Err(f) => return Outcome::RetryAll(f),
        };
        let claim = match self.delivered.ensure(&client).await {
            Ok(true) => Some(
                ObjectIdentity::of_batch(self.log_id, Lane::Delivery, batch)
                    .uuid()
                    .to_string(),
            ),
            Ok(false) => None,
            Err(e) => return Outcome::RetryAll(failure(&e)),
        };
        let load = Load {
            data: &data,
            rows: &rows,
            claim: claim.as_deref(),
        };
        match self.transaction(&mut client, &load, &mut outcomes).await {
            Ok(()) => {
                self.delivered.prune(&client).await;
                self.idle.lock().await.push(client);
                if outcomes.iter().all(|o| *o == RecordOutcome::Delivered) {
                    Outcome::Delivered
                } else {
                    Outcome::PerRecord(outcomes)
                }
            }
            Err(e) => Outcome::RetryAll(failure(&e)),
        }
    }

    /// One transaction holding one COPY; on a data error, the transaction again with the rows
    /// bisected under savepoints.
    async fn transaction(
        &self,
        client: &mut Client,
        load: &Load<'_>,
        outcomes: &mut [RecordOutcome],
    ) -> Result<(), tokio_postgres::Error> {
        let tx = client.transaction().await?;
        if !self.claim(&tx, load).await? {
            return tx.commit().await;
        }
        match self.copy(&tx, load.data, load.rows).await {
            Ok(()) => tx.commit().await,
            Err(e) if is_data_error(&e) => {
                tx.rollback().await?;
                self.bisect(client, load, outcomes).await
            }
            Err(e) => Err(e),
        }
    }

    /// Records the batch as delivered in `tx`; false when it was loaded before (a replay).
    async fn claim(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        load: &Load<'_>,
    ) -> Result<bool, tokio_postgres::Error> {
        let Some(batch) = load.claim else {
            return Ok(true);
        };
        let first = self.delivered.claim(tx, batch).await?;
        if !first {
            tracing::info!(batch, "batch loaded before a restart: not loaded again");
        }
        Ok(first)
    }

    /// Isolates the refused rows: each part under a savepoint; a failing part is split in two
    /// until the single refused rows remain, which are rejected.
    async fn bisect(
        &self,
        client: &mut Client,
        load: &Load<'_>,
        outcomes: &mut [RecordOutcome],
    ) -> Result<(), tokio_postgres::Error> {
        let (data, rows) = (load.data, load.rows);
        let tx = client.transaction().await?;
        if !self.claim(&tx, load).await? {
            return tx.commit().await;
        }
        let (a, b) = rows.split_at(rows.len() / 2);
        let mut stack = vec![b, a];
        let mut savepoint = 0u32;
        while let Some(part) = stack.pop() {
            if part.is_empty() {
                continue;
            }
            savepoint += 1;
            let name = format!("hydrant_{savepoint}");
            tx.batch_execute(&format!("SAVEPOINT {name}")).await?;
            match self.copy(&tx, data, part).await {
                Ok(()) => {
                    tx.batch_execute(&format!("RELEASE SAVEPOINT {name}"))
                        .await?
                }
                Err(e) if is_data_error(&e) => {
                    tx.batch_execute(&format!("ROLLBACK TO SAVEPOINT {name}"))
                        .await?;
                    if part.len() == 1 {
                        outcomes[part[0].0] = RecordOutcome::Reject(failure(&e));
                    } else {
                        let (a, b) = part.split_at(part.len() / 2);
                        stack.push(b);
                        stack.push(a);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        tx.commit().await
    }

    async fn copy(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        data: &Bytes,
        rows: &[(usize, std::ops::Range<usize>)],
    ) -> Result<(), tokio_postgres::Error> {
        let sink = tx.copy_in::<_, Bytes>(&self.copy_sql).await?;
        let mut sink = std::pin::pin!(sink);
        // Contiguous rows go as one chunk.
        let mut i = 0;
        while i < rows.len() {
            let start = rows[i].1.start;
            let mut end = rows[i].1.end;
            i += 1;
            while i < rows.len() && rows[i].1.start == end && end - start < (1 << 20) {
                end = rows[i].1.end;
                i += 1;
            }
            sink.feed(data.slice(start..end)).await?;
        }
        sink.as_mut().finish().await?;
        Ok(())
    }
}

/// `COPY <table> (<columns>) FROM STDIN WITH (FORMAT csv)`, identifiers quoted.
/// One batch's load: the CSV rows and, when loads are exactly once, the batch's identity.
struct Load<'a> {
    data: &'a Bytes,
    rows: &'a [(usize, std::ops::Range<usize>)],
    claim: Option<&'a str>,
}

pub fn copy_sql(table: &str, columns: &[String]) -> String {
    let table = table
        .split('.')
        .map(quote_ident)
        .collect::<Vec<_>>()
        .join(".");
    let columns = columns
        .iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ");
    format!("COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)")
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A refusal of the data (not of the connection, the table or the permissions).
fn is_data_error(e: &tokio_postgres::Error) -> bool {
    e.code()
        .is_some_and(|c| c.code().starts_with("22") || c.code().starts_with("23"))
}

/// Firehose-style code for a database error (after Redshift's codes).
fn failure(e: &tokio_postgres::Error) -> Failure {
    let code = match e.code() {
        None => "PostgreSQL.ConnectionFailed",
        Some(c) if *c == SqlState::UNDEFINED_TABLE => "PostgreSQL.TableNotFound",
        Some(c) if *c == SqlState::UNDEFINED_COLUMN => "PostgreSQL.ColumnNotFound",
        Some(c) if *c == SqlState::BAD_COPY_FILE_FORMAT => "PostgreSQL.ColumnMismatch",
        Some(c) if *c == SqlState::INSUFFICIENT_PRIVILEGE => "PostgreSQL.InsufficientPrivilege",
        Some(c) if *c == SqlState::INVALID_PASSWORD => "PostgreSQL.AuthenticationFailed",
        Some(c) if *c == SqlState::INVALID_CATALOG_NAME => "PostgreSQL.DatabaseNotFound",
        Some(c) if *c == SqlState::READ_ONLY_SQL_TRANSACTION => "PostgreSQL.ReadOnly",
        Some(c) if *c == SqlState::DISK_FULL => "PostgreSQL.DiskFull",
        Some(c) if c.code().starts_with("22") || c.code().starts_with("23") => {
            "PostgreSQL.DataLoadFailed"
        }
        Some(_) => "PostgreSQL.Error",
    };
    let message = match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => describe(e),
    };
    Failure::new(code, message)
}

impl Destination for PostgresqlDestination {
    fn deliver<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<Outcome, DeliveryError>> {
        async move { Ok(self.load(batch).await) }.boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sql_quotes_identifiers() {
        assert_eq!(
            copy_sql("analytics.events", &["id".into(), "Body \"x\"".into()]),
            "COPY \"analytics\".\"events\" (\"id\", \"Body \"\"x\"\"\") FROM STDIN WITH (FORMAT csv)"
        );
    }
}
