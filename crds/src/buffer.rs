use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The write-ahead log that holds every acknowledged record until it is delivered.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BufferSpec {
    /// Directory of the log's segment files. In a pod this is an `emptyDir`.
    #[serde(default = "default_directory")]
    #[schemars(length(min = 1, max = 4096))]
    pub directory: String,
    /// Bound on the log's size on disk. Past it, puts get `ServiceUnavailableException`
    /// ("Slow down.", HTTP 503) until delivery frees space.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: Quantity,
    /// `fsync`: a put is acknowledged only after its records are fsync'd. `none`: acknowledged
    /// once written to the OS, faster but a machine crash can lose acknowledged records.
    #[serde(default)]
    pub durability: Durability,
}

impl Default for BufferSpec {
    fn default() -> Self {
        Self {
            directory: default_directory(),
            max_bytes: default_max_bytes(),
            durability: Durability::default(),
        }
    }
}

fn default_directory() -> String {
    "/var/lib/hydrant/wal".to_owned()
}

fn default_max_bytes() -> Quantity {
    Quantity("2Gi".to_owned())
}

/// When a put is acknowledged.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Durability {
    /// After the fsync that covers the put's records (group commit).
    #[default]
    Fsync,
    /// After the write to the OS, without fsync.
    None,
}
