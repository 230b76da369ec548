//! Drains: the claims of a stream's pods that no longer run — ordinals at or above the
//! StatefulSet's replica count after a scale-down, or every claim of a stream being deleted —
//! may still hold acknowledged records. Each gets a drain Job; the claim is deleted only after
//! its Job succeeds, and only while no pod of that ordinal uses it.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, PodTemplateSpec};
use kube::api::{DeleteParams, ListParams, PostParams, Preconditions, PropagationPolicy};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Api, Client, Resource, ResourceExt};
use thiserror::Error;

use crate::render::{RenderError, drain_job, labels};
use crds::{DeliveryStream, DrainStatus};

#[derive(Debug, Error)]
pub enum DrainError {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("rendering a drain Job: {0}")]
    Render(#[from] RenderError),
}

/// A claim of the stream, as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimSeen {
    pub name: String,
    pub ordinal: u32,
    pub uid: Option<String>,
    pub deleting: bool,
}

/// A drain Job of the stream, as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSeen {
    pub name: String,
    pub claim: String,
    pub succeeded: bool,
    pub failed: bool,
    pub created: Option<String>,
}

/// What the cluster holds for one stream.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub claims: Vec<ClaimSeen>,
    /// Claims mounted by a data-plane pod that has not ended (running or terminating).
    pub mounted: BTreeSet<String>,
    pub jobs: Vec<JobSeen>,
}

/// One change to make.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Start the drain Job of this ordinal.
    Start(u32),
    /// The Job succeeded: delete the claim (and then the Job).
    DeleteClaim { claim: String, uid: Option<String> },
    /// Delete a Job whose work is done or taken over by a pod; `taken_over` says the latter.
    RemoveJob { job: String, taken_over: bool },
}

/// The steps and the status to report for stream `name`, given what exists and that ordinals
/// below `in_use` belong to the StatefulSet. Pure.
pub fn plan(name: &str, seen: &Seen, in_use: u32) -> (Vec<Step>, Vec<DrainStatus>) {
    let jobs: BTreeMap<&str, &JobSeen> = seen.jobs.iter().map(|j| (j.claim.as_str(), j)).collect();
    let mut steps = Vec::new();
    let mut report = Vec::new();
    for claim in &seen.claims {
        if claim.ordinal < in_use || claim.deleting {
            continue;
        }
        let job = jobs.get(claim.name.as_str());
        let status = |phase: &str| DrainStatus {
            claim: claim.name.clone(),
            job: job.map(|j| j.name.clone()),
            phase: phase.to_owned(),
            start_time: job.and_then(|j| j.created.clone()),
        };
        if seen.mounted.contains(&claim.name) {
            // Its pod is still terminating (or a pod of that ordinal is back): not ours yet.
            report.push(status("WaitingForPod"));
            continue;
        }
        match job {
            None => {
                steps.push(Step::Start(claim.ordinal));
                report.push(DrainStatus {
                    job: Some(drain_job::name(name, claim.ordinal)),
                    ..status("Running")
                });
            }
            Some(j) if j.succeeded => {
                steps.push(Step::DeleteClaim {
                    claim: claim.name.clone(),
                    uid: claim.uid.clone(),
                });
                report.push(status("Succeeded"));
            }
            Some(j) if j.failed => report.push(status("Failed")),
            Some(_) => report.push(status("Running")),
        }
    }
    let live: BTreeMap<&str, &ClaimSeen> = seen
        .claims
        .iter()
        .filter(|c| !c.deleting)
        .map(|c| (c.name.as_str(), c))
        .collect();
    for job in &seen.jobs {
        match live.get(job.claim.as_str()) {
            // The claim is gone (drained and deleted): the Job has nothing left to do.
            None => steps.push(Step::RemoveJob {
                job: job.name.clone(),
                taken_over: false,
            }),
            // A pod of that ordinal runs again and delivers the log itself.
            Some(c) if c.ordinal < in_use => steps.push(Step::RemoveJob {
                job: job.name.clone(),
                taken_over: !job.succeeded,
            }),
            Some(_) => {}
        }
    }
    (steps, report)
}

/// Lists what exists, carries out the plan, and returns the drains to report. Without a
/// `template` (the spec cannot be rendered) no new Job starts.
pub async fn reconcile(
    client: &Client,
    recorder: &Recorder,
    stream: &DeliveryStream,
    template: Option<&PodTemplateSpec>,
    in_use: u32,
) -> Result<Vec<DrainStatus>, DrainError> {
    let ns = crate::render::namespace(stream)?;
    let name = crate::render::stream_name(stream)?;
    let seen = list(client, ns, name).await?;
    let (steps, mut report) = plan(name, &seen, in_use);
    let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
    let object = stream.object_ref(&());
    for step in steps {
        match step {
            Step::Start(ordinal) => {
                let claim = drain_job::claim_name(name, ordinal);
                let Some(template) = template else {
                    // The spec no longer renders: no Job can be made for it yet.
                    if let Some(r) = report.iter_mut().find(|r| r.claim == claim) {
                        r.phase = "WaitingForSpec".to_owned();
                        r.job = None;
                    }
                    continue;
                };
                let job = drain_job::render(stream, template, ordinal)?;
                let job_name = job.name_any();
                match jobs.create(&PostParams::default(), &job).await {
                    Ok(_) => {}
                    // Created by an earlier reconcile whose list this one did not see yet.
                    Err(kube::Error::Api(e)) if e.code == 409 => {}
                    Err(e) => return Err(e.into()),
                }
                note(recorder, &object, EventType::Normal, "DrainStarted", format!(
                    "claim {claim} holds the log of pod {name}-{ordinal}, which no longer runs: Job {job_name} delivers it"
                ))
                .await;
            }
            Step::DeleteClaim { claim, uid } => {
                let params = DeleteParams {
                    preconditions: Some(Preconditions {
                        uid,
                        resource_version: None,
                    }),
                    ..DeleteParams::default()
                };
                match claims.delete(&claim, &params).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
                    Err(e) => return Err(e.into()),
                }
                note(recorder, &object, EventType::Normal, "ClaimDrained", format!(
                    "claim {claim} is empty: every record on it was delivered; the claim is deleted"
                ))
                .await;
            }
            Step::RemoveJob { job, taken_over } => {
                let params = DeleteParams {
                    propagation_policy: Some(PropagationPolicy::Background),
                    ..DeleteParams::default()
                };
                match jobs.delete(&job, &params).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(e)) if e.code == 404 => {}
                    Err(e) => return Err(e.into()),
                }
                if taken_over {
                    note(recorder, &object, EventType::Normal, "DrainStopped", format!(
                        "Job {job} stopped: a pod of its ordinal runs again and delivers the log itself"
                    ))
                    .await;
                }
            }
        }
    }
    announce_failures(recorder, stream, &report).await;
    Ok(report)
}

/// A Warning the first time a claim's Job is seen failed.
async fn announce_failures(recorder: &Recorder, stream: &DeliveryStream, report: &[DrainStatus]) {
    let before = stream
        .status
        .as_ref()
        .map(|s| s.drains.as_slice())
        .unwrap_or_default();
    for drain in report.iter().filter(|d| d.phase == "Failed") {
        if before
            .iter()
            .any(|b| b.claim == drain.claim && b.phase == "Failed")
        {
            continue;
        }
        let job = drain.job.clone().unwrap_or_default();
        let message = format!(
            "Job {job} could not drain claim {}: the claim and its records are kept; see the Job's pod log, then delete the Job to retry",
            drain.claim
        );
        note(
            recorder,
            &stream.object_ref(&()),
            EventType::Warning,
            "DrainFailed",
            message,
        )
        .await;
    }
}

/// Publishes an Event on the stream; a failure to publish is logged, not fatal.
pub async fn note(
    recorder: &Recorder,
    object: &k8s_openapi::api::core::v1::ObjectReference,
    type_: EventType,
    reason: &str,
    message: String,
) {
    let event = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(message),
        action: "Drain".to_owned(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&event, object).await {
        tracing::warn!(error = %e, "publishing an event failed");
    }
}

/// The stream's claims, the claims its data-plane pods mount, and its drain Jobs.
async fn list(client: &Client, ns: &str, name: &str) -> Result<Seen, kube::Error> {
    let owned = format!(
        "{}={name},{}=hydrant-operator",
        labels::STREAM,
        labels::MANAGED_BY
    );
    let claims = Api::<PersistentVolumeClaim>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(&owned))
        .await?
        .items
        .into_iter()
        .filter_map(|c| {
            let ordinal = drain_job::claim_ordinal(name, &c.name_any())?;
            Some(ClaimSeen {
                name: c.name_any(),
                ordinal,
                uid: c.metadata.uid.clone(),
                deleting: c.metadata.deletion_timestamp.is_some(),
            })
        })
        .collect();
    let pods = Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(&labels::selector_string(name)))
        .await?;
    let mounted = pods
        .items
        .iter()
        .filter(|p| !has_ended(p))
        .flat_map(|p| p.spec.iter().flat_map(|s| s.volumes.iter().flatten()))
        .filter_map(|v| v.persistent_volume_claim.as_ref())
        .map(|c| c.claim_name.clone())
        .collect();
    let jobs = Api::<Job>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(&drain_job::selector_string(name)))
        .await?
        .items
        .into_iter()
        .filter_map(|j| {
            let claim = j.labels().get(drain_job::CLAIM_LABEL)?.clone();
            let status = j.status.clone().unwrap_or_default();
            Some(JobSeen {
                name: j.name_any(),
                claim,
                succeeded: status.succeeded.unwrap_or(0) > 0,
                failed: status
                    .conditions
                    .iter()
                    .flatten()
                    .any(|c| c.type_ == "Failed" && c.status == "True"),
                created: j
                    .metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| t.0.to_string()),
            })
        })
        .collect();
    Ok(Seen {
        claims,
        mounted,
        jobs,
    })
}

/// A pod that has ended no longer holds its claim.
fn has_ended(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

#[cfg(test)]
mod tests;
