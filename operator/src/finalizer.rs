//! This operator's finalizer on a DeliveryStream: it keeps a deleted stream (DELETING) until its
//! pods have drained. Added and removed by one merge patch each, counted as one write.

use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};

use crate::config::FINALIZER;
use crate::controller::{Context, Error};
use crds::DeliveryStream;

pub(crate) fn has_finalizer(stream: &DeliveryStream) -> bool {
    stream.finalizers().iter().any(|f| f == FINALIZER)
}

/// Adds (`present`) or removes this operator's finalizer, keeping every other one in the order
/// read, and counts the write.
///
/// A merge patch replaces the whole `metadata.finalizers` list, so the new list is computed from
/// `stream` as read. The patch carries no resourceVersion: a finalizer another controller added
/// after that read would be dropped.
pub(crate) async fn set_finalizer(
    stream: &DeliveryStream,
    ctx: &Context,
    streams: &Api<DeliveryStream>,
    name: &str,
    present: bool,
) -> Result<(), Error> {
    let finalizers = finalizers_with(stream, present);
    streams
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"finalizers": finalizers}})),
        )
        .await?;
    ctx.metrics.writes.with_label_values(&["finalizer"]).inc();
    Ok(())
}

/// The stream's finalizers with ours appended (`present`) or left out.
fn finalizers_with(stream: &DeliveryStream, present: bool) -> Vec<String> {
    let mut finalizers: Vec<String> = stream
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    if present {
        finalizers.push(FINALIZER.to_owned());
    }
    finalizers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_finalizer_list_keeps_the_others_in_order() {
        let mut stream = crate::render::tests::stream("  destination:\n    local: {}\n");
        stream.metadata.finalizers = Some(vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(finalizers_with(&stream, true), ["a", "b", FINALIZER]);
        stream.metadata.finalizers =
            Some(vec!["a".to_owned(), FINALIZER.to_owned(), "b".to_owned()]);
        assert_eq!(finalizers_with(&stream, false), ["a", "b"]);
    }
}
