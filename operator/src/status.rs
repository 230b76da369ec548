//! Status, computed from what the operator observed (pure), with Kubernetes condition semantics:
//! `lastTransitionTime` moves only when a condition's status changes.

use k8s_openapi::api::apps::v1::Deployment;

use crds::{Condition, DeliveryHealthStatus, DeliveryStream, DeliveryStreamStatus};

/// What a reconcile learned.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub deployment: Option<Deployment>,
    /// Why the spec cannot work (CREATING_FAILED), with the field it concerns.
    pub invalid: Option<String>,
    /// A problem that may resolve by itself (a Secret not created yet).
    pub waiting: Option<(String, String)>,
    pub delivery: Option<DeliveryHealthStatus>,
    pub version_id: String,
    pub spec_hash: String,
    pub endpoint: Option<String>,
    pub selector: String,
    pub deleting: bool,
}

/// Replica counts of the Deployment: (desired, current, ready, up to date).
fn replica_counts(d: &Deployment) -> (i32, i32, i32, bool) {
    let desired = d.spec.as_ref().and_then(|s| s.replicas);
    let status = d.status.clone().unwrap_or_default();
    let desired = desired.unwrap_or(status.replicas.unwrap_or(0));
    let generation = d.metadata.generation.unwrap_or(0);
    let observed = status.observed_generation.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    let current = status.replicas.unwrap_or(0);
    let up_to_date = observed >= generation && updated >= desired && current <= desired;
    (
        desired,
        current,
        status.ready_replicas.unwrap_or(0),
        up_to_date,
    )
}

fn condition(
    previous: &[Condition],
    kind: &str,
    status: bool,
    reason: &str,
    message: String,
    generation: Option<i64>,
    now: &str,
) -> Condition {
    let status = if status { "True" } else { "False" }.to_owned();
    let last_transition_time = previous
        .iter()
        .find(|c| c.r#type == kind && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.to_owned());
    Condition {
        r#type: kind.to_owned(),
        status,
        reason: reason.to_owned(),
        message,
        last_transition_time,
        observed_generation: generation,
    }
}

/// The status to report. `now` (RFC 3339) is used only for conditions that transition.
pub fn compute(stream: &DeliveryStream, observed: &Observed, now: &str) -> DeliveryStreamStatus {
    let previous = stream.status.clone().unwrap_or_default();
    let generation = stream.metadata.generation;
    let (desired, current, ready_count, up_to_date) = observed
        .deployment
        .as_ref()
        .map(replica_counts)
        .unwrap_or((0, 0, 0, false));
    let ready = observed.invalid.is_none()
        && observed.waiting.is_none()
        && observed.deployment.is_some()
        && up_to_date
        && ready_count >= desired
        && desired > 0;
    let phase = if observed.deleting {
        "DELETING"
    } else if observed.invalid.is_some() {
        "CREATING_FAILED"
    } else if ready || previous.delivery_stream_status.as_deref() == Some("ACTIVE") {
        // Like Firehose, a stream stays ACTIVE through updates once it has been active.
        "ACTIVE"
    } else {
        "CREATING"
    };
    let (ready_reason, ready_message) = if let Some(msg) = &observed.invalid {
        ("InvalidSpec", msg.clone())
    } else if let Some((reason, msg)) = &observed.waiting {
        (reason.as_str(), msg.clone())
    } else if ready {
        (
            "AllReplicasReady",
            format!("{ready_count}/{desired} replicas ready"),
        )
    } else {
        (
            "ReplicasNotReady",
            format!("{ready_count}/{desired} replicas ready"),
        )
    };
    let progressing = observed.invalid.is_none() && observed.deployment.is_some() && !up_to_date;
    let (progress_reason, progress_message) = if observed.invalid.is_some() {
        ("InvalidSpec", String::new())
    } else if progressing {
        (
            "RollingOut",
            "the Deployment is rolling out the current spec".to_owned(),
        )
    } else {
        ("RolloutComplete", String::new())
    };
    let failing = observed
        .delivery
        .as_ref()
        .and_then(|d| d.last_error.clone())
        .filter(|e| !e.is_empty());
    let (degraded, degraded_reason, degraded_message) = if let Some(msg) = &observed.invalid {
        (true, "InvalidSpec", msg.clone())
    } else if let Some((reason, msg)) = &observed.waiting {
        (true, reason.as_str(), msg.clone())
    } else if let Some(err) = failing {
        (true, "DeliveryFailing", err)
    } else {
        (false, "DeliveringNormally", String::new())
    };
    let prev = &previous.conditions;
    DeliveryStreamStatus {
        observed_generation: generation,
        delivery_stream_status: Some(phase.to_owned()),
        version_id: Some(observed.version_id.clone()),
        spec_hash: Some(observed.spec_hash.clone()),
        destination: Some(stream.spec.destination.kind().to_owned()),
        endpoint: observed.endpoint.clone(),
        replicas: Some(current),
        ready_replicas: Some(ready_count),
        selector: Some(observed.selector.clone()),
        conditions: vec![
            condition(
                prev,
                "Ready",
                ready,
                ready_reason,
                ready_message,
                generation,
                now,
            ),
            condition(
                prev,
                "Progressing",
                progressing,
                progress_reason,
                progress_message,
                generation,
                now,
            ),
            condition(
                prev,
                "Degraded",
                degraded,
                degraded_reason,
                degraded_message,
                generation,
                now,
            ),
        ],
        delivery: observed.delivery.clone(),
    }
}

/// The next VersionId: unchanged for the same spec, +1 for a new one (Firehose's rule).
pub fn next_version(stream: &DeliveryStream, spec_hash: &str) -> String {
    let previous = stream.status.clone().unwrap_or_default();
    match (previous.version_id, previous.spec_hash) {
        (Some(v), Some(h)) if h == spec_hash => v,
        (Some(v), _) => v.parse::<u64>().map(|n| n + 1).unwrap_or(1).to_string(),
        (None, _) => "1".to_owned(),
    }
}
