use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A HorizontalPodAutoscaler for the stream's pods (CPU utilisation).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "self.minReplicas <= self.maxReplicas", "message": "minReplicas must not exceed maxReplicas"}]))]
pub struct Autoscaling {
    #[serde(default = "default_min")]
    #[schemars(range(min = 1, max = 1000))]
    pub min_replicas: i32,
    #[schemars(range(min = 1, max = 1000))]
    pub max_replicas: i32,
    #[serde(default = "default_cpu", rename = "targetCPUUtilizationPercentage")]
    #[schemars(range(min = 1, max = 100))]
    pub target_cpu_utilization_percentage: i32,
}

fn default_min() -> i32 {
    1
}

fn default_cpu() -> i32 {
    70
}
