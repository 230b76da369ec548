//! Writing objects to an S3-compatible bucket or a local directory: named as Firehose names
//! them, compressed as configured, fsync'd when local. The S3 and local destinations, the
//! error output and backups, and Redshift's staging all write through it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{
    Attribute, Attributes, ClientOptions, ObjectStore, PutMultipartOptions, PutOptions, PutPayload,
    RetryConfig, WriteMultipart,
};
use thiserror::Error;

use super::DeliveryError;
use super::object_identity::{Lane, ObjectIdentity};
use super::object_naming::ObjectNamer;
use crate::encode;
use crate::record::{Batch, FailedRecord};
use crate::support::clock::time_of;
use crate::support::secrets;
use crds::{CompressionFormat, Destination as DestinationSpec, ObjectDelivery, S3Destination};

/// Objects at least this large are written with multipart upload.
const MULTIPART_THRESHOLD: usize = 16 << 20;
const PART_SIZE: usize = 8 << 20;

/// Why a bucket or directory cannot be opened from its spec.
#[derive(Debug, Error)]
pub enum BuildError {
    #[error("object store configuration: {0}")]
    Store(#[from] object_store::Error),
    #[error("object naming: {0}")]
    Naming(#[from] super::object_naming::NamingError),
    #[error(transparent)]
    Secret(#[from] crate::support::secrets::SecretError),
    #[error("dataFormatConversionConfiguration: {0}")]
    Conversion(String),
    #[error("a {0} destination does not write objects")]
    NotObject(&'static str),
    #[error("creating directory {0}: {1}")]
    Directory(String, std::io::Error),
}

/// Whose objects a writer names: the stream and its version, and the log the records come
/// from (object names are derived from the records' places in it).
#[derive(Debug, Clone, Copy)]
pub struct Naming<'a> {
    pub stream: &'a str,
    pub version_id: &'a str,
    pub log_id: uuid::Uuid,
}

/// Writes objects to one bucket or directory.
pub struct ObjectWriter {
    store: Arc<dyn ObjectStore>,
    namer: ObjectNamer,
    log_id: uuid::Uuid,
    /// Which objects [`ObjectWriter::write`] writes: delivered ones or backups.
    lane: Lane,
    compression: encode::Compression,
    /// S3 stores take Content-Type/Content-Encoding; the local directory cannot.
    attributes: Option<Attributes>,
    /// Local directory root, whose files are fsync'd after writing.
    local_root: Option<PathBuf>,
}

impl ObjectWriter {
    /// The bucket or directory of an S3 or local destination; `secrets_dir/<name>/<key>` holds
    /// mounted Secrets.
    pub fn build(
        spec: &DestinationSpec,
        naming: Naming<'_>,
        secrets_dir: &std::path::Path,
    ) -> Result<Self, BuildError> {
        match spec {
            DestinationSpec::S3(s3) => Self::s3(s3, naming, secrets_dir),
            DestinationSpec::Local(local) => {
                std::fs::create_dir_all(&local.directory)
                    .map_err(|e| BuildError::Directory(local.directory.clone(), e))?;
                let root = std::fs::canonicalize(&local.directory)
                    .map_err(|e| BuildError::Directory(local.directory.clone(), e))?;
                Ok(Self {
                    store: Arc::new(LocalFileSystem::new_with_prefix(&root)?),
                    namer: namer(&local.delivery, naming)?,
                    log_id: naming.log_id,
                    lane: Lane::Delivery,
                    compression: encode::Compression::of(&local.delivery),
                    attributes: None,
                    local_root: Some(root),
                })
            }
            other => Err(BuildError::NotObject(other.kind())),
        }
    }

    /// An S3-compatible bucket: the S3 destination, or another destination's backup and
    /// error-output bucket (`kind` labels its metrics).
    pub fn s3(
        s3: &S3Destination,
        naming: Naming<'_>,
        secrets_dir: &std::path::Path,
    ) -> Result<Self, BuildError> {
        let compression = encode::Compression::of(&s3.delivery);
        // object_store's own retries are kept short: the batcher retries with backoff and
        // reports each failure in /status and the metrics.
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
            .with_bucket_name(&s3.location.bucket)
            .with_region(&s3.location.region)
            .with_virtual_hosted_style_request(!s3.location.force_path_style);
        if let Some(endpoint) = &s3.location.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if let Some(secret) = &s3.location.credentials_secret {
            builder = builder
                .with_access_key_id(secrets::read(secrets_dir, secret, "accessKeyId")?)
                .with_secret_access_key(secrets::read(secrets_dir, secret, "secretAccessKey")?);
        }
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, "application/octet-stream".into());
        if let Some(enc) = encode::content_encoding(compression.format) {
            attributes.insert(Attribute::ContentEncoding, enc.into());
        }
        Ok(Self {
            store: Arc::new(builder.build()?),
            namer: namer(&s3.delivery, naming)?,
            log_id: naming.log_id,
            lane: Lane::Delivery,
            compression,
            attributes: Some(attributes),
            local_root: None,
        })
    }

    /// The same bucket and names, for backups.
    pub fn for_backups(self) -> Self {
        Self {
            lane: Lane::Backup,
            ..self
        }
    }

    pub fn namer(&self) -> &ObjectNamer {
        &self.namer
    }

    /// The identity naming the object of `batch`'s records this writer writes.
    pub fn identity(&self, batch: &Batch) -> ObjectIdentity {
        ObjectIdentity::of_batch(self.log_id, self.lane, batch)
    }

    /// The identity naming the error-output object of `records`.
    pub fn error_identity(&self, error_type: &str, records: &[FailedRecord]) -> ObjectIdentity {
        ObjectIdentity::of_failed(self.log_id, error_type, records)
    }

    /// The key of the object of `batch`'s records.
    pub fn key(&self, batch: &Batch) -> String {
        self.namer.partition_key(
            time_of(batch.oldest_arrival_ms),
            batch.partition.as_deref(),
            &self.identity(batch),
        )
    }

    /// Writes `data` (uncompressed) under `key`, compressed as configured; returns the key.
    pub async fn put(&self, key: String, data: bytes::Bytes) -> Result<String, DeliveryError> {
        let encoded = self.encode(&key, data).await?;
        self.put_raw(key, encoded, true).await
    }

    async fn encode(&self, key: &str, data: bytes::Bytes) -> Result<bytes::Bytes, DeliveryError> {
        let entry = key.rsplit('/').next().unwrap_or(key);
        let entry = entry
            .strip_suffix(encode::default_extension(self.compression.format))
            .unwrap_or(entry)
            .to_owned();
        let encoded = if self.compression.format == CompressionFormat::Uncompressed {
            data
        } else {
            let compression = self.compression;
            tokio::task::spawn_blocking(move || encode::encode(compression, &data, &entry))
                .await
                .map_err(|e| DeliveryError::Task(e.to_string()))??
                .into()
        };
        Ok(encoded)
    }

    /// Writes `encoded` under `key` as it is. `compressed`: it is in the configured format
    /// (else plain bytes such as a manifest, stored without Content-Encoding).
    pub async fn put_raw(
        &self,
        key: String,
        encoded: bytes::Bytes,
        compressed: bool,
    ) -> Result<String, DeliveryError> {
        let location = ObjectPath::from(key.as_str());
        let mut attributes = self.attributes.clone().unwrap_or_default();
        if !compressed {
            attributes.remove(&Attribute::ContentEncoding);
        }
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
        Ok(key)
    }

    /// Writes the batch as one object under the prefix; returns its key.
    pub async fn write(&self, batch: &Batch) -> Result<String, DeliveryError> {
        let key = self.put(self.key(batch), batch.contiguous()).await?;
        tracing::debug!(key, records = batch.len(), "delivered object");
        Ok(key)
    }
}

fn conversion_enabled(d: &ObjectDelivery) -> bool {
    d.data_format_conversion_configuration
        .as_deref()
        .is_some_and(|c| c.enabled)
}

fn namer(d: &ObjectDelivery, naming: Naming<'_>) -> Result<ObjectNamer, BuildError> {
    let extension = match d.file_extension.as_deref() {
        Some(ext) if !ext.is_empty() => ext.to_owned(),
        _ if conversion_enabled(d) => ".parquet".to_owned(),
        _ => encode::default_extension(d.compression_format).to_owned(),
    };
    Ok(ObjectNamer::new(
        naming.stream,
        naming.version_id,
        d.prefix.as_deref(),
        d.error_output_prefix.as_deref(),
        &extension,
    )?
    .with_error_extension(encode::default_extension(d.compression_format)))
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
