//! Every destination kind in one place: what it is ([`profile`]: its metrics label,
//! error-output type and retry policy) and how it is built from its spec ([`build`]), with its
//! error-output and backup bucket. A new destination adds its own file and one arm to each
//! match here.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::Destination;
use super::http_endpoint::HttpEndpointDestination;
use super::object_writer::{Naming, ObjectWriter};
use super::opensearch::OpenSearchDestination;
use super::postgresql::PostgresqlDestination;
use super::redshift::RedshiftDestination;
use super::s3::ObjectDestination;
use super::s3_output::S3Output;
use super::splunk::SplunkDestination;
use crate::support::retry::RetryPolicy;
use crds::{Destination as Spec, HttpBackupMode, OpenSearchBackupMode, SplunkBackupMode};

/// What delivery needs to know of a destination kind, whatever its instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// The `destination` metrics label.
    pub kind: &'static str,
    /// The `!{firehose:error-output-type}` of records delivery gives up on.
    pub error_output_type: &'static str,
    pub retry: RetryPolicy,
}

/// The profile of the destination `spec` names. Object stores retry forever, so only records
/// that do not fit the conversion schema reach their error output from delivery itself; the
/// others retry for `retryOptions.durationInSeconds`, backing off to their own cap.
pub fn profile(spec: &Spec) -> Profile {
    let seconds = |max: u64, retry: &crds::RetryOptions| {
        RetryPolicy::for_duration(
            retry.duration_in_seconds,
            Duration::from_secs(1),
            Duration::from_secs(max),
        )
    };
    let (error_output_type, retry) = match spec {
        Spec::S3(_) | Spec::Local(_) => ("format-conversion-failed", RetryPolicy::forever()),
        Spec::HttpEndpoint(d) => ("http-endpoint-failed", seconds(120, &d.retry_options)),
        Spec::OpenSearch(d) => (
            "AmazonOpenSearchService-failed",
            seconds(60, &d.retry_options),
        ),
        Spec::Splunk(d) => ("splunk-failed", seconds(60, &d.retry_options)),
        Spec::Postgresql(d) => ("postgresql-failed", seconds(60, &d.retry_options)),
        Spec::Redshift(d) => ("redshift-failed", seconds(300, &d.retry_options)),
    };
    Profile {
        kind: spec.kind(),
        error_output_type,
        retry,
    }
}

/// What building a destination needs beyond its spec.
pub struct BuildContext<'a> {
    pub stream: &'a str,
    pub version_id: &'a str,
    pub secrets_dir: &'a Path,
    pub stream_arn: &'a str,
    /// The log's durable identity: document and request ids are built from it.
    pub log_id: uuid::Uuid,
    /// Splunk's indexer-acknowledgement latency.
    pub ack_latency: prometheus::Histogram,
}

impl BuildContext<'_> {
    fn naming(&self) -> Naming<'_> {
        Naming {
            stream: self.stream,
            version_id: self.version_id,
            log_id: self.log_id,
        }
    }
}

/// A destination ready to run.
pub struct Built {
    pub destination: Arc<dyn Destination>,
    pub s3_output: Option<Arc<S3Output>>,
    /// Source-record backup (`s3BackupMode: Enabled` on an S3 destination).
    pub source_backup: Option<Arc<S3Output>>,
}

pub fn build(spec: &Spec, cx: &BuildContext<'_>) -> anyhow::Result<Built> {
    let secrets_dir = cx.secrets_dir;
    let naming = cx.naming();
    let beside = |destination: Arc<dyn Destination>, s3, all| -> anyhow::Result<Built> {
        let out = S3Output::build(s3, all, naming, secrets_dir)
            .context("configuring s3Configuration (error output and backup)")?;
        Ok(Built {
            destination,
            s3_output: Some(Arc::new(out)),
            source_backup: None,
        })
    };
    match spec {
        Spec::S3(_) | Spec::Local(_) => Ok(Built {
            destination: Arc::new(ObjectDestination::build(spec, naming, secrets_dir)?),
            source_backup: source_backup(spec, cx)?,
            // Processing failures go to the destination's own errorOutputPrefix.
            s3_output: Some(Arc::new(S3Output::from_objects(ObjectWriter::build(
                spec,
                naming,
                secrets_dir,
            )?))),
        }),
        Spec::HttpEndpoint(h) => beside(
            Arc::new(HttpEndpointDestination::build(
                h,
                cx.stream_arn,
                secrets_dir,
                cx.log_id,
            )?),
            &h.s3_configuration,
            h.s3_backup_mode == HttpBackupMode::AllData,
        ),
        Spec::Postgresql(pg) => beside(
            Arc::new(PostgresqlDestination::build(pg, secrets_dir, cx.log_id)?),
            &pg.s3_configuration,
            pg.s3_backup_mode == HttpBackupMode::AllData,
        ),
        Spec::OpenSearch(os) => beside(
            Arc::new(OpenSearchDestination::build(os, secrets_dir, cx.log_id)?),
            &os.s3_configuration,
            os.s3_backup_mode == OpenSearchBackupMode::AllDocuments,
        ),
        Spec::Splunk(sp) => beside(
            Arc::new(SplunkDestination::build(
                sp,
                secrets_dir,
                cx.ack_latency.clone(),
            )?),
            &sp.s3_configuration,
            sp.s3_backup_mode == SplunkBackupMode::AllEvents,
        ),
        // COPY failures list skipped objects under errors/; records that fail processing go
        // to the intermediate bucket's error prefix as failed-record JSON.
        Spec::Redshift(r) => beside(
            Arc::new(RedshiftDestination::build(r, naming, secrets_dir)?),
            &r.s3_configuration,
            false,
        ),
    }
}

/// The bucket of `s3BackupMode: Enabled` on an S3 destination.
fn source_backup(spec: &Spec, cx: &BuildContext<'_>) -> anyhow::Result<Option<Arc<S3Output>>> {
    let Spec::S3(s3) = spec else {
        return Ok(None);
    };
    if s3.s3_backup_mode != crds::SourceBackupMode::Enabled {
        return Ok(None);
    }
    let Some(backup) = &s3.s3_backup_configuration else {
        return Ok(None);
    };
    let out = S3Output::build(&backup.as_s3(), true, cx.naming(), cx.secrets_dir)
        .context("configuring s3BackupConfiguration")?;
    Ok(Some(Arc::new(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> Spec {
        serde_saphyr::from_str(yaml).expect("destination spec")
    }

    #[test]
    fn object_stores_retry_forever_and_the_others_for_their_duration() {
        let local = profile(&spec("local: {}"));
        assert_eq!(local.kind, "local");
        assert_eq!(local.retry.duration, None);
        assert_eq!(local.error_output_type, "format-conversion-failed");
        let http = profile(&spec(
            "httpEndpoint:\n  endpointConfiguration: {url: 'https://example.com'}\n  \
             retryOptions: {durationInSeconds: 60}\n  s3Configuration: {bucket: errors}\n",
        ));
        assert_eq!(http.kind, "http_endpoint");
        assert_eq!(http.error_output_type, "http-endpoint-failed");
        assert_eq!(http.retry.duration, Some(Duration::from_secs(60)));
        assert_eq!(http.retry.max, Duration::from_secs(120));
    }
}
