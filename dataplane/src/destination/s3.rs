//! The S3 and local-directory destinations: one compressed object per batch (or per
//! partition), or one Parquet object when format conversion is on.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;

use super::object_writer::{BuildError, Naming, ObjectWriter};
use super::{DeliveryError, Destination, Outcome, RecordOutcome};
use crate::convert::Converter;
use crate::record::Batch;
use crds::{Destination as DestinationSpec, ObjectDelivery};

/// Delivers batches as objects.
pub struct ObjectDestination {
    objects: ObjectWriter,
    /// JSON → Parquet, when format conversion is enabled.
    conversion: Option<Arc<Converter>>,
}

impl ObjectDestination {
    /// Builds the S3 or local destination; `secrets_dir/<name>/<key>` holds mounted Secrets.
    pub fn build(
        spec: &DestinationSpec,
        naming: Naming<'_>,
        secrets_dir: &std::path::Path,
    ) -> Result<Self, BuildError> {
        let delivery = spec
            .object_delivery()
            .ok_or(BuildError::NotObject(spec.kind()))?;
        Ok(Self {
            objects: ObjectWriter::build(spec, naming, secrets_dir)?,
            conversion: converter(delivery)?,
        })
    }
}

fn converter(d: &ObjectDelivery) -> Result<Option<Arc<Converter>>, BuildError> {
    match d.data_format_conversion_configuration.as_deref() {
        Some(c) if c.enabled => Converter::build(c)
            .map(|c| Some(Arc::new(c)))
            .map_err(|e| BuildError::Conversion(e.to_string())),
        _ => Ok(None),
    }
}

impl Destination for ObjectDestination {
    fn error_fields(
        &self,
        batch: &Batch,
        index: usize,
        fields: &mut serde_json::Map<String, serde_json::Value>,
    ) {
        let r = batch.records[index];
        fields.insert("sequenceNumber".into(), r.seq.to_string().into());
        fields.insert("subSequenceNumber".into(), r.sub.into());
    }

    fn deliver<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<Outcome, DeliveryError>> {
        async move {
            let Some(converter) = &self.conversion else {
                self.objects.write(batch).await?;
                return Ok(Outcome::Delivered);
            };
            let (c, b) = (converter.clone(), batch.clone());
            let converted = tokio::task::spawn_blocking(move || c.convert(&b))
                .await
                .map_err(|e| DeliveryError::Task(e.to_string()))?;
            if let Some(parquet) = converted.parquet {
                let key = self.objects.key(batch);
                self.objects.put_raw(key, parquet.into(), false).await?;
            }
            if converted.failed.is_empty() {
                return Ok(Outcome::Delivered);
            }
            let mut outcomes = vec![RecordOutcome::Delivered; batch.len()];
            for (i, f) in converted.failed {
                outcomes[i] = RecordOutcome::Reject(f);
            }
            Ok(Outcome::PerRecord(outcomes))
        }
        .boxed()
    }
}
