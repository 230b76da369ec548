//! Object delivery: one compressed object per batch, named as Firehose names them, to any
//! S3-compatible store or to a local directory.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{
    Attribute, Attributes, ClientOptions, ObjectStore, PutMultipartOptions, PutOptions, PutPayload,
    RetryConfig, WriteMultipart,
};
use thiserror::Error;

use super::naming::ObjectNamer;
use super::{Batch, DeliveryError, Destination};
use crate::encode;
use crds::{CompressionFormat, Destination as DestinationSpec};

/// Objects at least this large are written with multipart upload.
const MULTIPART_THRESHOLD: usize = 16 << 20;
const PART_SIZE: usize = 8 << 20;

/// Why a destination cannot be built from its spec.
#[derive(Debug, Error)]
pub enum BuildError {
    #[error("object store configuration: {0}")]
    Store(#[from] object_store::Error),
    #[error("object naming: {0}")]
    Naming(#[from] super::naming::NamingError),
    #[error("reading secret {secret}: {source}")]
    Secret {
        secret: String,
        source: std::io::Error,
    },
    #[error("creating directory {0}: {1}")]
    Directory(String, std::io::Error),
}

/// Delivers batches as objects.
pub struct ObjectDestination {
    store: Arc<dyn ObjectStore>,
    namer: ObjectNamer,
    format: CompressionFormat,
    kind: &'static str,
    /// S3 stores take Content-Type/Content-Encoding; the local directory cannot.
    attributes: Option<Attributes>,
    /// Local directory root, whose files are fsync'd after writing.
    local_root: Option<PathBuf>,
}

impl ObjectDestination {
    /// Builds the destination; `secrets_dir/<name>/<key>` holds mounted Secrets.
    pub fn build(
        spec: &DestinationSpec,
        stream: &str,
        version_id: &str,
        secrets_dir: &std::path::Path,
    ) -> Result<Self, BuildError> {
        let delivery = spec.delivery();
        let format = delivery.compression_format;
        let extension = match delivery.file_extension.as_deref() {
            Some(ext) if !ext.is_empty() => ext.to_owned(),
            _ => encode::default_extension(format).to_owned(),
        };
        let namer = ObjectNamer::new(
            stream,
            version_id,
            delivery.prefix.as_deref(),
            delivery.error_output_prefix.as_deref(),
            &extension,
        )?;
        match spec {
            DestinationSpec::S3(s3) => {
                // object_store's own retries are kept short: the batcher retries forever with
                // backoff and reports each failure in /status and the metrics.
                let retry = RetryConfig {
                    max_retries: 2,
                    retry_timeout: Duration::from_secs(20),
                    ..RetryConfig::default()
                };
                let client = ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(120));
                let mut builder = AmazonS3Builder::from_env()
                    .with_retry(retry)
                    .with_client_options(client)
                    .with_bucket_name(&s3.bucket)
                    .with_region(&s3.region)
                    .with_virtual_hosted_style_request(!s3.force_path_style);
                if let Some(endpoint) = &s3.endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"));
                }
                if let Some(secret) = &s3.credentials_secret {
                    let read = |key: &str| {
                        std::fs::read_to_string(secrets_dir.join(secret).join(key))
                            .map(|v| v.trim().to_owned())
                            .map_err(|source| BuildError::Secret {
                                secret: format!("{secret}/{key}"),
                                source,
                            })
                    };
                    builder = builder
                        .with_access_key_id(read("accessKeyId")?)
                        .with_secret_access_key(read("secretAccessKey")?);
                }
                let mut attributes = Attributes::new();
                attributes.insert(Attribute::ContentType, "application/octet-stream".into());
                if let Some(enc) = encode::content_encoding(format) {
                    attributes.insert(Attribute::ContentEncoding, enc.into());
                }
                Ok(Self {
                    store: Arc::new(builder.build()?),
                    namer,
                    format,
                    kind: "s3",
                    attributes: Some(attributes),
                    local_root: None,
                })
            }
            DestinationSpec::Local(local) => {
                std::fs::create_dir_all(&local.directory)
                    .map_err(|e| BuildError::Directory(local.directory.clone(), e))?;
                let root = std::fs::canonicalize(&local.directory)
                    .map_err(|e| BuildError::Directory(local.directory.clone(), e))?;
                Ok(Self {
                    store: Arc::new(LocalFileSystem::new_with_prefix(&root)?),
                    namer,
                    format,
                    kind: "local",
                    attributes: None,
                    local_root: Some(root),
                })
            }
        }
    }

    async fn write(&self, batch: &Batch) -> Result<(), DeliveryError> {
        let oldest = Utc
            .timestamp_millis_opt(batch.oldest_arrival_ms as i64)
            .single()
            .unwrap_or_else(Utc::now);
        let key = self.namer.object_key(oldest);
        let entry = key.rsplit('/').next().unwrap_or(&key);
        let entry = entry
            .strip_suffix(encode::default_extension(self.format))
            .unwrap_or(entry)
            .to_owned();
        let encoded = if self.format == CompressionFormat::Uncompressed {
            batch.data.clone()
        } else {
            let data = batch.data.clone();
            let format = self.format;
            tokio::task::spawn_blocking(move || encode::encode(format, &data, &entry))
                .await
                .map_err(|e| DeliveryError::Task(e.to_string()))??
                .into()
        };
        let location = ObjectPath::from(key.as_str());
        let attributes = self.attributes.clone().unwrap_or_default();
        if encoded.len() >= MULTIPART_THRESHOLD && self.local_root.is_none() {
            let upload = self
                .store
                .put_multipart_opts(
                    &location,
                    PutMultipartOptions {
                        attributes,
                        ..Default::default()
                    },
                )
                .await?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
            writer.put(encoded);
            writer.finish().await?;
        } else {
            let options = PutOptions {
                attributes,
                ..Default::default()
            };
            self.store
                .put_opts(&location, PutPayload::from(encoded), options)
                .await?;
        }
        if let Some(root) = &self.local_root {
            sync_local(root.join(&key)).await?;
        }
        tracing::debug!(key, records = batch.records, "delivered object");
        Ok(())
    }
}

/// The local store renames a finished temp file into place but does not fsync; do it, so a
/// checkpointed batch survives a machine crash too.
async fn sync_local(path: PathBuf) -> std::io::Result<()> {
    tokio::task::spawn_blocking(move || {
        std::fs::File::open(&path)?.sync_all()?;
        if let Some(parent) = path.parent() {
            std::fs::File::open(parent)?.sync_all()?;
        }
        Ok(())
    })
    .await
    .map_err(std::io::Error::other)?
}

impl Destination for ObjectDestination {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn deliver<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), DeliveryError>> {
        self.write(batch).boxed()
    }
}
