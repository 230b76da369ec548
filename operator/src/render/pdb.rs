//! A PodDisruptionBudget: voluntary disruptions take one pod at a time (each drains on SIGTERM).

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{RenderError, child_meta, labels, stream_name};
use crds::DeliveryStream;

pub fn render(stream: &DeliveryStream) -> Result<PodDisruptionBudget, RenderError> {
    let name = stream_name(stream)?;
    Ok(PodDisruptionBudget {
        metadata: child_meta(stream, name.to_owned())?,
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(labels::selector(name)),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    })
}
