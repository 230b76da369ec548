//! Delivery health from the pods' `/status` endpoints, summed over a stream's pods.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use serde::Deserialize;

use crds::DeliveryHealthStatus;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodStatusReport {
    #[serde(default)]
    backlog_records: i64,
    #[serde(default)]
    backlog_bytes: i64,
    #[serde(default)]
    oldest_undelivered_age_seconds: Option<f64>,
    #[serde(default)]
    destination: PodDestination,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PodDestination {
    #[serde(default)]
    last_success_time: Option<String>,
    #[serde(default)]
    last_error: Option<String>,
    #[serde(default)]
    last_error_time: Option<String>,
}

/// Reads `/status` of every running pod with an IP; None when no pod answered.
pub async fn gather(
    client: &reqwest::Client,
    pods: &[Pod],
    port: i32,
) -> Option<DeliveryHealthStatus> {
    let mut total = DeliveryHealthStatus::default();
    let mut answered = 0;
    for pod in pods {
        let Some(ip) = pod.status.as_ref().and_then(|s| s.pod_ip.clone()) else {
            continue;
        };
        let url = format!("http://{ip}:{port}/status");
        let Ok(Ok(response)) =
            tokio::time::timeout(Duration::from_secs(2), client.get(&url).send()).await
        else {
            continue;
        };
        let Ok(report) = response.json::<PodStatusReport>().await else {
            continue;
        };
        answered += 1;
        total.backlog_records += report.backlog_records;
        total.backlog_bytes += report.backlog_bytes;
        if let Some(age) = report.oldest_undelivered_age_seconds {
            let age = age.round() as i64;
            total.data_freshness_seconds = Some(total.data_freshness_seconds.unwrap_or(0).max(age));
        }
        let d = report.destination;
        // An error newer than the pod's own last success is current (RFC 3339 sorts as text).
        if d.last_error.is_some() && d.last_error_time > d.last_success_time {
            total.last_error = d.last_error;
        }
        if d.last_success_time > total.last_success_time {
            total.last_success_time = d.last_success_time;
        }
    }
    (answered > 0).then_some(total)
}
