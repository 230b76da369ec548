//! Reading and scaling the object that runs a stream's pods — a Deployment, or a StatefulSet
//! when the logs are on claims — whichever kind the stream's storage names.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};

use crate::render::Workload;
use crate::status::WorkloadState;
use crds::DeliveryStream;

/// The stream's workload as stored, if it exists.
pub async fn read(
    client: &Client,
    stream: &DeliveryStream,
    ns: &str,
    name: &str,
) -> Result<Option<WorkloadState>, kube::Error> {
    Ok(match Workload::kind_for(stream) {
        "StatefulSet" => Api::<StatefulSet>::namespaced(client.clone(), ns)
            .get_opt(name)
            .await?
            .map(WorkloadState::StatefulSet),
        _ => Api::<Deployment>::namespaced(client.clone(), ns)
            .get_opt(name)
            .await?
            .map(WorkloadState::Deployment),
    })
}

/// Sets the workload's replicas to zero under `manager` (its pods then drain on SIGTERM).
pub async fn scale_to_zero(
    client: &Client,
    state: &WorkloadState,
    ns: &str,
    name: &str,
    manager: &str,
) -> Result<(), kube::Error> {
    let params = PatchParams::apply(manager).force();
    let scale = |kind: &str| {
        serde_json::json!({
            "apiVersion": "apps/v1",
            "kind": kind,
            "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": 0},
        })
    };
    match state {
        WorkloadState::Deployment(_) => {
            Api::<Deployment>::namespaced(client.clone(), ns)
                .patch(name, &params, &Patch::Apply(&scale("Deployment")))
                .await?;
        }
        WorkloadState::StatefulSet(_) => {
            Api::<StatefulSet>::namespaced(client.clone(), ns)
                .patch(name, &params, &Patch::Apply(&scale("StatefulSet")))
                .await?;
        }
    }
    Ok(())
}
