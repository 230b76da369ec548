use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The write-ahead log that holds every acknowledged record until it is delivered.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BufferSpec {
    /// Directory of the log's segment files. In a pod it is the volume `storage` names.
    #[serde(default = "default_directory")]
    #[schemars(length(min = 1, max = 4096))]
    pub directory: String,
    /// Bound on the log's size on disk. Past it, puts get `ServiceUnavailableException`
    /// ("Slow down.", HTTP 503) until delivery frees space.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: Quantity,
    /// `fsync`: a put is acknowledged only after its records are fsync'd. `none`: acknowledged
    /// once written to the OS, faster but a machine crash can lose acknowledged records. A
    /// `kinesisStream` or `kafka` source's log is never fsync'd: the source keeps every record
    /// until its position is committed after delivery.
    #[serde(default)]
    pub durability: Durability,
    /// The volume that holds the log in a pod. `emptyDir` (the default) is deleted with its pod:
    /// records a deleted pod could not deliver before it was killed are lost.
    /// `persistentVolumeClaim` gives each pod a claim that outlives it; a `kinesisStream` or
    /// `kafka` source is its own durable buffer and takes `emptyDir` only. Cannot be changed once
    /// set: create a new stream instead.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "spec.buffer.storage cannot change: a log on an emptyDir cannot move to a claim, nor back; create a new stream with the storage you want, move the producers, then delete this one (it drains)"}]))]
    pub storage: BufferStorage,
}

impl Default for BufferSpec {
    fn default() -> Self {
        Self {
            directory: default_directory(),
            max_bytes: default_max_bytes(),
            durability: Durability::default(),
            storage: BufferStorage::default(),
        }
    }
}

/// Bytes of the volume that holds a log bounded by `max_bytes`: the bound, an eighth for what
/// counts against it late (the segment being written, partition spools), and 64 MiB. An
/// `emptyDir` overflowing its limit gets its pod evicted, which loses the log.
pub fn volume_bytes(max_bytes: u64) -> u64 {
    max_bytes + max_bytes / 8 + (64 << 20)
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

/// Where a pod keeps its log. Exactly one property is set.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum BufferStorage {
    /// A volume that lives and dies with its pod (sized from `maxBytes`).
    EmptyDir(EmptyDirStorage),
    /// A PersistentVolumeClaim per pod (a StatefulSet's volumeClaimTemplate): a pod's log
    /// outlives the pod, and the next pod of that ordinal reopens it.
    PersistentVolumeClaim(ClaimStorage),
}

impl Default for BufferStorage {
    fn default() -> Self {
        Self::EmptyDir(EmptyDirStorage {})
    }
}

impl BufferStorage {
    /// The claim's settings, when the log is on a claim.
    pub fn claim(&self) -> Option<&ClaimStorage> {
        match self {
            Self::PersistentVolumeClaim(c) => Some(c),
            Self::EmptyDir(_) => None,
        }
    }
}

/// `emptyDir` takes no settings: its size limit follows `maxBytes`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct EmptyDirStorage {}

/// The claim each pod gets.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClaimStorage {
    /// The StorageClass to provision from; unset: the cluster's default class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// The claim's size; default: `maxBytes` plus the headroom an `emptyDir` gets (an eighth,
    /// plus 64 MiB for the segment being written). Must not be smaller than that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<Quantity>,
    /// Default `[ReadWriteOnce]`: one pod writes each log.
    #[serde(default = "default_access_modes")]
    #[schemars(length(min = 1))]
    pub access_modes: Vec<String>,
}

fn default_access_modes() -> Vec<String> {
    vec!["ReadWriteOnce".to_owned()]
}
