//! Status, computed from what the operator observed (pure), with Kubernetes condition semantics:
//! `lastTransitionTime` moves only when a condition's status changes.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};

use crds::{Condition, DeliveryHealthStatus, DeliveryStream, DeliveryStreamStatus, DrainStatus};

/// What a reconcile learned.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The object running the pods, as applied or read; None before it exists.
    pub workload: Option<WorkloadState>,
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
    /// Claims being drained (streams on claims only).
    pub drains: Vec<DrainStatus>,
    /// Why the rollout is paused (streams on `emptyDir` only).
    pub rollout_held: Option<String>,
}

/// The Deployment or StatefulSet running the stream's pods.
#[derive(Debug, Clone)]
pub enum WorkloadState {
    Deployment(Deployment),
    StatefulSet(StatefulSet),
}

impl WorkloadState {
    /// Pods the workload runs now (terminating ones included).
    pub fn current_replicas(&self) -> i32 {
        self.replica_counts().current
    }

    /// Ordinals below this belong to a StatefulSet's pods (the count its spec asks for, which
    /// an HPA may have set); None for a Deployment.
    pub fn claimed_ordinals(&self) -> Option<u32> {
        match self {
            Self::Deployment(_) => None,
            Self::StatefulSet(s) => {
                let replicas = s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                Some(u32::try_from(replicas).unwrap_or(0))
            }
        }
    }

    /// Whether its spec asks for zero pods.
    pub fn scaled_to_zero(&self) -> bool {
        let replicas = match self {
            Self::Deployment(d) => d.spec.as_ref().and_then(|s| s.replicas),
            Self::StatefulSet(s) => s.spec.as_ref().and_then(|s| s.replicas),
        };
        replicas == Some(0)
    }

    fn replica_counts(&self) -> Replicas {
        match self {
            Self::Deployment(d) => {
                let status = d.status.clone().unwrap_or_default();
                Replicas::from_counts(
                    d.spec.as_ref().and_then(|s| s.replicas),
                    d.metadata.generation,
                    status.observed_generation,
                    status.replicas,
                    status.updated_replicas,
                    status.ready_replicas,
                )
            }
            Self::StatefulSet(s) => {
                let status = s.status.clone().unwrap_or_default();
                Replicas::from_counts(
                    s.spec.as_ref().and_then(|s| s.replicas),
                    s.metadata.generation,
                    status.observed_generation,
                    Some(status.replicas),
                    status.updated_replicas,
                    status.ready_replicas,
                )
            }
        }
    }
}

/// The workload's replica counts; all zero (and not up to date) before it exists.
#[derive(Debug, Clone, Copy, Default)]
struct Replicas {
    desired: i32,
    current: i32,
    ready: i32,
    up_to_date: bool,
}

impl Replicas {
    /// From a workload's spec and status fields (the same for both kinds); with no replica
    /// count in the spec (an HPA owns it), the current count is the desired one.
    fn from_counts(
        spec_replicas: Option<i32>,
        generation: Option<i64>,
        observed_generation: Option<i64>,
        current: Option<i32>,
        updated: Option<i32>,
        ready: Option<i32>,
    ) -> Replicas {
        let current = current.unwrap_or(0);
        let desired = spec_replicas.unwrap_or(current);
        let updated = updated.unwrap_or(0);
        let up_to_date = observed_generation.unwrap_or(0) >= generation.unwrap_or(0)
            && updated >= desired
            && current <= desired;
        Replicas {
            desired,
            current,
            ready: ready.unwrap_or(0),
            up_to_date,
        }
    }
}

/// A condition's value, before its transition time is known.
struct Verdict<'a> {
    status: bool,
    reason: &'a str,
    message: String,
}

/// A condition of kind `kind`; its `lastTransitionTime` is kept from `previous` unless its status
/// changed.
fn condition(
    previous: &[Condition],
    kind: &str,
    verdict: Verdict<'_>,
    generation: Option<i64>,
    now: &str,
) -> Condition {
    let status = if verdict.status { "True" } else { "False" }.to_owned();
    let last_transition_time = previous
        .iter()
        .find(|c| c.r#type == kind && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.to_owned());
    Condition {
        r#type: kind.to_owned(),
        status,
        reason: verdict.reason.to_owned(),
        message: verdict.message,
        last_transition_time,
        observed_generation: generation,
    }
}

/// The status to report. `now` (RFC 3339) is used only for conditions that transition.
pub fn compute(stream: &DeliveryStream, observed: &Observed, now: &str) -> DeliveryStreamStatus {
    let previous = stream.status.clone().unwrap_or_default();
    let generation = stream.metadata.generation;
    let replicas = observed
        .workload
        .as_ref()
        .map(WorkloadState::replica_counts)
        .unwrap_or_default();
    let ready = is_ready(observed, replicas);
    let prev = &previous.conditions;
    DeliveryStreamStatus {
        observed_generation: generation,
        delivery_stream_status: Some(phase(observed, ready, &previous).to_owned()),
        version_id: Some(observed.version_id.clone()),
        spec_hash: Some(observed.spec_hash.clone()),
        destination: Some(stream.spec.destination.kind().to_owned()),
        endpoint: observed.endpoint.clone(),
        replicas: Some(replicas.current),
        ready_replicas: Some(replicas.ready),
        selector: Some(observed.selector.clone()),
        conditions: vec![
            condition(
                prev,
                "Ready",
                ready_verdict(observed, replicas, ready),
                generation,
                now,
            ),
            condition(
                prev,
                "Progressing",
                progressing_verdict(observed, replicas),
                generation,
                now,
            ),
            condition(
                prev,
                "Degraded",
                degraded_verdict(observed),
                generation,
                now,
            ),
            condition(
                prev,
                "Draining",
                draining_verdict(&observed.drains),
                generation,
                now,
            ),
        ],
        delivery: observed.delivery.clone(),
        drains: observed.drains.clone(),
    }
}

/// Ready: a valid spec, nothing to wait for, and every desired replica rolled out and ready.
fn is_ready(observed: &Observed, replicas: Replicas) -> bool {
    observed.invalid.is_none()
        && observed.waiting.is_none()
        && observed.workload.is_some()
        && replicas.up_to_date
        && replicas.ready >= replicas.desired
        && replicas.desired > 0
}

/// The Firehose-style `deliveryStreamStatus`.
fn phase(observed: &Observed, ready: bool, previous: &DeliveryStreamStatus) -> &'static str {
    if observed.deleting {
        "DELETING"
    } else if observed.invalid.is_some() {
        "CREATING_FAILED"
    } else if ready || previous.delivery_stream_status.as_deref() == Some("ACTIVE") {
        // Like Firehose, a stream stays ACTIVE through updates once it has been active.
        "ACTIVE"
    } else {
        "CREATING"
    }
}

/// The Ready condition: why the stream is or is not ready, the spec's problem first.
fn ready_verdict(observed: &Observed, replicas: Replicas, ready: bool) -> Verdict<'_> {
    let counts = format!("{}/{} replicas ready", replicas.ready, replicas.desired);
    let (reason, message) = if let Some(msg) = &observed.invalid {
        ("InvalidSpec", msg.clone())
    } else if let Some((reason, msg)) = &observed.waiting {
        (reason.as_str(), msg.clone())
    } else if ready {
        ("AllReplicasReady", counts)
    } else {
        ("ReplicasNotReady", counts)
    };
    Verdict {
        status: ready,
        reason,
        message,
    }
}

/// The Progressing condition: true while the workload (Deployment or StatefulSet) rolls out a valid spec.
fn progressing_verdict(observed: &Observed, replicas: Replicas) -> Verdict<'static> {
    let progressing =
        observed.invalid.is_none() && observed.workload.is_some() && !replicas.up_to_date;
    let (reason, message) = if observed.invalid.is_some() {
        ("InvalidSpec", String::new())
    } else if let Some(why) = observed.rollout_held.clone().filter(|_| progressing) {
        ("RolloutHeld", why)
    } else if progressing {
        (
            "RollingOut",
            "the pods are rolling out the current spec".to_owned(),
        )
    } else {
        ("RolloutComplete", String::new())
    };
    Verdict {
        status: progressing,
        reason,
        message,
    }
}

/// The Degraded condition: an invalid spec, something to wait for, or delivery failing (the
/// pods' last error), in that order.
fn degraded_verdict(observed: &Observed) -> Verdict<'_> {
    let failing = observed
        .delivery
        .as_ref()
        .and_then(|d| d.last_error.clone())
        .filter(|e| !e.is_empty());
    let (status, reason, message) = if let Some(msg) = &observed.invalid {
        (true, "InvalidSpec", msg.clone())
    } else if let Some((reason, msg)) = &observed.waiting {
        (true, reason.as_str(), msg.clone())
    } else if let Some(err) = failing {
        (true, "DeliveryFailing", err)
    } else {
        (false, "DeliveringNormally", String::new())
    };
    Verdict {
        status,
        reason,
        message,
    }
}

/// The Draining condition: true while claims of pods that no longer run are being drained; a
/// Job that gave up is named first.
fn draining_verdict(drains: &[DrainStatus]) -> Verdict<'static> {
    let named = |phase: Option<&str>| {
        drains
            .iter()
            .filter(|d| phase.is_none_or(|p| d.phase == p))
            .map(|d| d.claim.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let failed = named(Some("Failed"));
    let (reason, message) = if !failed.is_empty() {
        (
            "DrainFailed",
            format!(
                "the drain Job of {failed} failed; its claim is kept (delete the Job to retry)"
            ),
        )
    } else if !drains.is_empty() {
        (
            "DrainingClaims",
            format!("delivering what is left on {}", named(None)),
        )
    } else {
        ("NoDrains", String::new())
    };
    Verdict {
        status: !drains.is_empty(),
        reason,
        message,
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
