//! Amazon Redshift (docs/destinations.md, "Redshift"): each batch is staged as an object in the intermediate
//! bucket (the S3 destination's code, naming and compression), listed in a manifest under
//! `<prefix>manifests/`, and loaded with `COPY ... FROM '<manifest>' ... MANIFEST <options>` over
//! the PostgreSQL wire protocol. Staging happens once per batch; only the COPY is retried. When
//! the retry duration runs out, a manifest of the skipped objects goes to `<prefix>errors/` for a
//! manual backfill.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::json;
use tokio::sync::Mutex;

use super::object_writer::{Naming, ObjectWriter};
use super::pg_connect::PgTarget;
use super::{DeliveryError, Destination, Outcome};
use crate::record::{Batch, Failure};
use crate::support::secrets;

pub struct RedshiftDestination {
    staging: ObjectWriter,
    bucket: String,
    prefix: String,
    target: PgTarget,
    copy: CopySql,
    /// Batch (first sequence number) → its staged object and manifest keys.
    staged: Mutex<HashMap<u64, Staged>>,
}

#[derive(Clone)]
struct Staged {
    object: String,
    manifest: String,
}

/// The parts of the COPY statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySql {
    pub table: String,
    pub columns: Option<String>,
    pub role_arn: Option<String>,
    pub options: Option<String>,
}

impl CopySql {
    /// `COPY <table> (<columns>) FROM 's3://<bucket>/<manifest>' CREDENTIALS
    /// 'aws_iam_role=<arn>' MANIFEST <options>`.
    pub fn statement(&self, bucket: &str, manifest_key: &str) -> String {
        let mut sql = format!("COPY {}", self.table.trim());
        if let Some(cols) = self.columns.as_deref().filter(|c| !c.trim().is_empty()) {
            sql.push_str(&format!(" ({})", cols.trim()));
        }
        sql.push_str(&format!(
            " FROM '{}'",
            literal(&format!("s3://{bucket}/{manifest_key}"))
        ));
        if let Some(arn) = &self.role_arn {
            sql.push_str(&format!(" CREDENTIALS 'aws_iam_role={}'", literal(arn)));
        }
        sql.push_str(" MANIFEST");
        if let Some(options) = self.options.as_deref().filter(|o| !o.trim().is_empty()) {
            sql.push(' ');
            sql.push_str(options.trim());
        }
        sql
    }
}

fn literal(s: &str) -> String {
    s.replace('\'', "''")
}

/// A Redshift manifest listing `urls`, every one mandatory.
pub fn manifest(urls: &[String]) -> Vec<u8> {
    let entries: Vec<_> = urls
        .iter()
        .map(|u| json!({"url": u, "mandatory": true}))
        .collect();
    json!({ "entries": entries }).to_string().into_bytes()
}

/// `jdbc:redshift://host:port/db` or `jdbc:postgresql://host:port/db` → host, port, database.
pub fn parse_jdbc(url: &str) -> Option<(String, u16, String)> {
    let rest = url
        .strip_prefix("jdbc:redshift://")
        .or_else(|| url.strip_prefix("jdbc:postgresql://"))?;
    let rest = rest.split(['?', ';']).next()?;
    let (authority, db) = rest.split_once('/')?;
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (authority, 5439),
    };
    (!host.is_empty() && !db.is_empty()).then(|| (host.to_owned(), port, db.to_owned()))
}

impl RedshiftDestination {
    pub fn build(
        spec: &crds::RedshiftDestination,
        naming: Naming<'_>,
        secrets_dir: &Path,
    ) -> anyhow::Result<Self> {
        let (host, port, db) = parse_jdbc(&spec.cluster_jdbc_url).ok_or_else(|| {
            anyhow::anyhow!(
                "clusterJdbcUrl `{}` is not jdbc:redshift://host:port/database",
                spec.cluster_jdbc_url
            )
        })?;
        let mut config = tokio_postgres::Config::new();
        config
            .host(host)
            .port(port)
            .dbname(db)
            .user(secrets::read(
                secrets_dir,
                &spec.credentials_secret,
                "username",
            )?)
            .password(secrets::read(
                secrets_dir,
                &spec.credentials_secret,
                "password",
            )?)
            .application_name("hydrant")
            .connect_timeout(Duration::from_secs(10));
        let s3 = &spec.s3_configuration;
        Ok(Self {
            staging: ObjectWriter::s3(s3, naming, secrets_dir)?,
            bucket: s3.location.bucket.clone(),
            prefix: s3.delivery.prefix.clone().unwrap_or_default(),
            target: PgTarget::new(config, secrets_dir, &spec.credentials_secret)?,
            copy: CopySql {
                table: spec.copy_command.data_table_name.clone(),
                columns: spec.copy_command.data_table_columns.clone(),
                role_arn: spec.role_arn.clone(),
                options: spec.copy_command.copy_options.clone(),
            },
            staged: Mutex::new(HashMap::new()),
        })
    }

    /// Stages the batch (once) and returns its keys.
    async fn stage(&self, batch: &Batch) -> Result<Staged, DeliveryError> {
        if let Some(s) = self.staged.lock().await.get(&batch.first_seq) {
            return Ok(s.clone());
        }
        let object = self.staging.write(batch).await?;
        let name = object.rsplit('/').next().unwrap_or(&object);
        let manifest_key = format!("{}manifests/{name}", self.prefix);
        let body = manifest(&[format!("s3://{}/{object}", self.bucket)]);
        self.staging
            .put_raw(manifest_key.clone(), body.into(), false)
            .await?;
        let staged = Staged {
            object,
            manifest: manifest_key,
        };
        self.staged
            .lock()
            .await
            .insert(batch.first_seq, staged.clone());
        Ok(staged)
    }

    async fn load(&self, batch: &Batch) -> Result<Outcome, DeliveryError> {
        let staged = self.stage(batch).await?;
        let sql = self.copy.statement(&self.bucket, &staged.manifest);
        let result = async { self.target.connect().await?.batch_execute(&sql).await }.await;
        match result {
            Ok(()) => {
                self.staged.lock().await.remove(&batch.first_seq);
                tracing::debug!(manifest = staged.manifest, "COPY loaded the batch");
                Ok(Outcome::Delivered)
            }
            Err(e) => Ok(Outcome::RetryAll(failure(&e))),
        }
    }
}

/// Firehose's Redshift error codes (docs/destinations.md, "Redshift") from the database error.
fn failure(e: &tokio_postgres::Error) -> Failure {
    use tokio_postgres::error::SqlState;
    let code = match e.code() {
        None => "Redshift.ConnectionFailed",
        Some(c) if *c == SqlState::UNDEFINED_TABLE => "Redshift.TableNotFound",
        Some(c) if *c == SqlState::UNDEFINED_COLUMN => "Redshift.ColumnNotFound",
        Some(c) if *c == SqlState::SYNTAX_ERROR => "Redshift.SyntaxError",
        Some(c) if *c == SqlState::INVALID_PASSWORD => "Redshift.AuthenticationFailed",
        Some(c) if *c == SqlState::INSUFFICIENT_PRIVILEGE => "Redshift.InsufficientPrivilege",
        Some(c) if *c == SqlState::INVALID_CATALOG_NAME => "Redshift.DatabaseNotFound",
        Some(c) if *c == SqlState::READ_ONLY_SQL_TRANSACTION => "Redshift.ReadOnlyCluster",
        Some(c) if *c == SqlState::DISK_FULL => "Redshift.DiskFull",
        Some(_) => "Redshift.DataLoadFailed",
    };
    let message = match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => crate::support::error_text::describe(e),
    };
    Failure::new(code, message)
}

impl Destination for RedshiftDestination {
    fn deliver<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<Outcome, DeliveryError>> {
        self.load(batch).boxed()
    }

    /// The records are already staged: list the skipped object under `errors/` instead of
    /// copying them into error-output JSON.
    fn write_failed<'a>(
        &'a self,
        batch: &'a Batch,
        _failed: &'a [(usize, Failure)],
    ) -> Option<BoxFuture<'a, Result<(), DeliveryError>>> {
        Some(
            async move {
                let staged = self.stage(batch).await?;
                let name = staged.object.rsplit('/').next().unwrap_or(&staged.object);
                let key = format!("{}errors/manifests/{name}", self.prefix);
                let body = manifest(&[format!("s3://{}/{}", self.bucket, staged.object)]);
                self.staging
                    .put_raw(key.clone(), body.into(), false)
                    .await?;
                self.staged.lock().await.remove(&batch.first_seq);
                tracing::warn!(key, "COPY kept failing; wrote the skipped-objects manifest");
                Ok(())
            }
            .boxed(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_statement_as_firehose_builds_it() {
        let copy = CopySql {
            table: "events".into(),
            columns: Some("id,ts,body".into()),
            role_arn: Some("arn:aws:iam::123456789012:role/firehose".into()),
            options: Some("json 'auto' gzip".into()),
        };
        assert_eq!(
            copy.statement("stage", "in/manifests/s-1-2026-11-26-00-00-00-uuid.gz"),
            "COPY events (id,ts,body) FROM 's3://stage/in/manifests/s-1-2026-11-26-00-00-00-uuid.gz' CREDENTIALS 'aws_iam_role=arn:aws:iam::123456789012:role/firehose' MANIFEST json 'auto' gzip"
        );
        let bare = CopySql {
            table: "t".into(),
            columns: None,
            role_arn: None,
            options: None,
        };
        assert_eq!(
            bare.statement("b", "it's"),
            "COPY t FROM 's3://b/it''s' MANIFEST"
        );
    }

    #[test]
    fn manifests_and_jdbc_urls() {
        let m: serde_json::Value =
            serde_json::from_slice(&manifest(&["s3://b/k1".into(), "s3://b/k2".into()])).unwrap();
        assert_eq!(
            m,
            json!({"entries": [{"url": "s3://b/k1", "mandatory": true}, {"url": "s3://b/k2", "mandatory": true}]})
        );
        assert_eq!(
            parse_jdbc("jdbc:redshift://ex.abc.us-east-1.redshift.amazonaws.com:5439/dev"),
            Some((
                "ex.abc.us-east-1.redshift.amazonaws.com".into(),
                5439,
                "dev".into()
            ))
        );
        assert_eq!(
            parse_jdbc("jdbc:postgresql://127.0.0.1:5432/db?ssl=true"),
            Some(("127.0.0.1".into(), 5432, "db".into()))
        );
        assert_eq!(
            parse_jdbc("jdbc:redshift://h/db"),
            Some(("h".into(), 5439, "db".into()))
        );
        assert_eq!(parse_jdbc("postgres://h/db"), None);
    }
}
