//! The Deployment that runs a stream's pods when their logs are on `emptyDir` volumes.

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{RenderError, child_meta, labels, replicas, stream_name};
use crds::DeliveryStream;

/// The Deployment of `stream`'s pods around `template`; `hold` pauses its rollout (scaling
/// still works while paused).
pub fn render(
    stream: &DeliveryStream,
    template: PodTemplateSpec,
    hold: bool,
) -> Result<Deployment, RenderError> {
    let name = stream_name(stream)?;
    Ok(Deployment {
        metadata: child_meta(stream, name.to_owned())?,
        spec: Some(DeploymentSpec {
            replicas: replicas(stream),
            selector: LabelSelector {
                match_labels: Some(labels::selector(name)),
                ..LabelSelector::default()
            },
            strategy: Some(surge_one_at_a_time()),
            // Left out unless held: the field then returns to its default (false).
            paused: hold.then_some(true),
            template,
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    })
}

/// One extra pod at a time and none taken away before its replacement is ready: delivery
/// capacity never drops during a rollout.
fn surge_one_at_a_time() -> DeploymentStrategy {
    DeploymentStrategy {
        type_: Some("RollingUpdate".to_owned()),
        rolling_update: Some(RollingUpdateDeployment {
            max_surge: Some(IntOrString::Int(1)),
            max_unavailable: Some(IntOrString::Int(0)),
        }),
    }
}
