//! Building the destination a spec names, with its error-output and backup bucket.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use super::Destination;
use super::backup::S3Output;
use super::http_endpoint::HttpEndpointDestination;
use super::object::ObjectDestination;
use super::opensearch::OpenSearchDestination;
use super::postgresql::PostgresqlDestination;
use super::redshift::RedshiftDestination;
use super::splunk::SplunkDestination;
use crate::metrics::Metrics;
use crds::{Destination as Spec, HttpBackupMode, OpenSearchBackupMode, SplunkBackupMode};

/// A destination ready to run.
pub struct Built {
    pub destination: Arc<dyn Destination>,
    pub s3_output: Option<Arc<S3Output>>,
    /// Source-record backup (`s3BackupMode: Enabled` on an S3 destination).
    pub source_backup: Option<Arc<S3Output>>,
}

pub fn build(
    spec: &Spec,
    stream: &str,
    version_id: &str,
    secrets_dir: &Path,
    stream_arn: &str,
    log_id: uuid::Uuid,
    metrics: &Metrics,
) -> anyhow::Result<Built> {
    let s3_output = |s3, all| -> anyhow::Result<Option<Arc<S3Output>>> {
        let out = S3Output::build(s3, all, stream, version_id, secrets_dir)
            .context("configuring s3Configuration (error output and backup)")?;
        Ok(Some(Arc::new(out)))
    };
    let built = match spec {
        Spec::S3(_) | Spec::Local(_) => Built {
            destination: Arc::new(ObjectDestination::build(
                spec,
                stream,
                version_id,
                secrets_dir,
            )?),
            source_backup: match spec {
                Spec::S3(s3) if s3.s3_backup_mode == crds::SourceBackupMode::Enabled => s3
                    .s3_backup_configuration
                    .as_ref()
                    .map(|b| S3Output::build(&b.as_s3(), true, stream, version_id, secrets_dir))
                    .transpose()
                    .context("configuring s3BackupConfiguration")?
                    .map(Arc::new),
                _ => None,
            },
            // Processing failures go to the destination's own errorOutputPrefix.
            s3_output: Some(Arc::new(S3Output::from_objects(ObjectDestination::build(
                spec,
                stream,
                version_id,
                secrets_dir,
            )?))),
        },
        Spec::HttpEndpoint(h) => Built {
            destination: Arc::new(HttpEndpointDestination::build(
                h,
                stream_arn,
                secrets_dir,
                log_id,
            )?),
            source_backup: None,
            s3_output: s3_output(
                &h.s3_configuration,
                h.s3_backup_mode == HttpBackupMode::AllData,
            )?,
        },
        Spec::Postgresql(pg) => Built {
            destination: Arc::new(PostgresqlDestination::build(pg, secrets_dir)?),
            source_backup: None,
            s3_output: s3_output(
                &pg.s3_configuration,
                pg.s3_backup_mode == HttpBackupMode::AllData,
            )?,
        },
        Spec::OpenSearch(os) => Built {
            destination: Arc::new(OpenSearchDestination::build(os, secrets_dir, log_id)?),
            source_backup: None,
            s3_output: s3_output(
                &os.s3_configuration,
                os.s3_backup_mode == OpenSearchBackupMode::AllDocuments,
            )?,
        },
        Spec::Splunk(sp) => Built {
            destination: Arc::new(SplunkDestination::build(
                sp,
                secrets_dir,
                metrics.ack_latency.clone(),
            )?),
            source_backup: None,
            s3_output: s3_output(
                &sp.s3_configuration,
                sp.s3_backup_mode == SplunkBackupMode::AllEvents,
            )?,
        },
        Spec::Redshift(r) => Built {
            destination: Arc::new(RedshiftDestination::build(
                r,
                stream,
                version_id,
                secrets_dir,
            )?),
            // COPY failures list skipped objects under errors/; records that fail processing
            // go to the intermediate bucket's error prefix as failed-record JSON.
            s3_output: s3_output(&r.s3_configuration, false)?,
            source_backup: None,
        },
    };
    Ok(built)
}
