//! A PodDisruptionBudget: voluntary disruptions (evictions by `kubectl drain`, cluster
//! autoscalers) take one pod at a time, each draining on SIGTERM, and never the stream's last.

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{RenderError, child_meta, labels, stream_name};
use crds::DeliveryStream;

pub fn render(stream: &DeliveryStream) -> Result<PodDisruptionBudget, RenderError> {
    let name = stream_name(stream)?;
    // A budget holds one of the two bounds. With two pods or more, "one unavailable at a time"
    // also keeps one running; a single pod needs "at least one available", which makes a node
    // drain wait until the stream is scaled up (or its pod is deleted by hand).
    let (min_available, max_unavailable) = if least_replicas(stream) >= 2 {
        (None, Some(IntOrString::Int(1)))
    } else {
        (Some(IntOrString::Int(1)), None)
    };
    Ok(PodDisruptionBudget {
        metadata: child_meta(stream, name.to_owned())?,
        spec: Some(PodDisruptionBudgetSpec {
            min_available,
            max_unavailable,
            selector: Some(LabelSelector {
                match_labels: Some(labels::selector(name)),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    })
}

/// The fewest pods the stream runs: the autoscaler's floor, or the fixed count.
fn least_replicas(stream: &DeliveryStream) -> i32 {
    match &stream.spec.autoscaling {
        Some(a) => a.min_replicas,
        None => stream.spec.replicas.unwrap_or(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::tests::{S3, stream};

    fn bounds(spec_yaml: &str) -> (Option<IntOrString>, Option<IntOrString>) {
        let pdb = render(&stream(&format!("{spec_yaml}{S3}"))).expect("pdb");
        let spec = pdb.spec.expect("spec");
        (spec.min_available, spec.max_unavailable)
    }

    #[test]
    fn the_budget_takes_one_pod_at_a_time_and_never_the_last() {
        let one = Some(IntOrString::Int(1));
        assert_eq!(bounds(""), (one.clone(), None));
        assert_eq!(bounds("  replicas: 1\n"), (one.clone(), None));
        assert_eq!(bounds("  replicas: 3\n"), (None, one.clone()));
        assert_eq!(
            bounds("  autoscaling: {minReplicas: 1, maxReplicas: 5}\n"),
            (one.clone(), None)
        );
        assert_eq!(
            bounds("  autoscaling: {minReplicas: 2, maxReplicas: 5}\n"),
            (None, one)
        );
    }
}
