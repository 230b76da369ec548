//! A HorizontalPodAutoscaler when `spec.autoscaling` is set (the workload then omits `replicas`).

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};

use super::{RenderError, child_meta, stream_name};
use crds::DeliveryStream;

pub fn render(stream: &DeliveryStream) -> Result<Option<HorizontalPodAutoscaler>, RenderError> {
    let Some(auto) = &stream.spec.autoscaling else {
        return Ok(None);
    };
    let name = stream_name(stream)?;
    Ok(Some(HorizontalPodAutoscaler {
        metadata: child_meta(stream, name.to_owned())?,
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".to_owned()),
                kind: super::Workload::kind_for(stream).to_owned(),
                name: name.to_owned(),
            },
            min_replicas: Some(auto.min_replicas),
            max_replicas: auto.max_replicas,
            metrics: Some(vec![MetricSpec {
                type_: "Resource".to_owned(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".to_owned(),
                    target: MetricTarget {
                        type_: "Utilization".to_owned(),
                        average_utilization: Some(auto.target_cpu_utilization_percentage),
                        ..MetricTarget::default()
                    },
                }),
                ..MetricSpec::default()
            }]),
            ..HorizontalPodAutoscalerSpec::default()
        }),
        ..HorizontalPodAutoscaler::default()
    }))
}
