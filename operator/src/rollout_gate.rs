//! The rollout gate of streams whose pods keep their logs on `emptyDir`: a replaced pod takes
//! its log with it, so a rollout may only replace a pod that can deliver what it holds. The
//! operator pauses the Deployment while delivery is failing (a pod replaced then would be killed
//! at its grace period with its backlog) and while a replaced pod is still delivering (so pods
//! go one at a time, each once it has emptied its log). Streams on claims need no gate: the
//! next pod of the same ordinal reopens the log.

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use crds::{DeliveryHealthStatus, DeliveryStream};

/// Why the stream's rollout must wait now, if it must. Pure.
pub fn hold_reason(
    stream: &DeliveryStream,
    pods: &[Pod],
    delivery: Option<&DeliveryHealthStatus>,
) -> Option<String> {
    if stream.spec.buffer.storage.claim().is_some() {
        return None;
    }
    if let Some(error) = delivery
        .and_then(|d| d.last_error.as_deref())
        .filter(|e| !e.is_empty())
    {
        return Some(format!(
            "delivery is failing ({error}); a pod replaced now would lose what its emptyDir holds, so the rollout resumes once delivery recovers"
        ));
    }
    let draining: Vec<String> = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_some())
        .map(ResourceExt::name_any)
        .collect();
    (!draining.is_empty()).then(|| {
        format!(
            "pod {} is still delivering what it holds; the next pod is replaced once it has exited",
            draining.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::tests::{ON_CLAIMS, S3, stream};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn failing() -> DeliveryHealthStatus {
        DeliveryHealthStatus {
            last_error: Some("connection refused".to_owned()),
            ..DeliveryHealthStatus::default()
        }
    }

    fn terminating(name: &str) -> Pod {
        let mut pod = Pod::default();
        pod.metadata.name = Some(name.to_owned());
        pod.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::now()));
        pod
    }

    #[test]
    fn a_rollout_on_empty_dir_waits_for_delivery_and_for_draining_pods() {
        let s = stream(S3);
        assert_eq!(hold_reason(&s, &[Pod::default()], None), None);
        assert_eq!(
            hold_reason(&s, &[], Some(&DeliveryHealthStatus::default())),
            None
        );
        let why = hold_reason(&s, &[], Some(&failing())).expect("held");
        assert!(why.contains("connection refused"), "{why}");
        let why = hold_reason(&s, &[terminating("clicks-abc")], None).expect("held");
        assert!(why.contains("clicks-abc"), "{why}");
    }

    #[test]
    fn a_rollout_on_claims_is_never_held() {
        let s = stream(&format!("{ON_CLAIMS}{S3}"));
        assert_eq!(
            hold_reason(&s, &[terminating("clicks-0")], Some(&failing())),
            None
        );
    }
}
