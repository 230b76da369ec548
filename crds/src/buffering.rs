use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Firehose's `BufferingHints`: a batch is delivered when either is reached first.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BufferingHints {
    /// Batch size in MiB, measured before compression.
    #[serde(default = "default_size", rename = "sizeInMBs")]
    #[schemars(range(min = 1, max = 128))]
    pub size_in_mbs: i32,
    /// Seconds since the oldest buffered record; 0 delivers at once.
    #[serde(default = "default_interval")]
    #[schemars(range(min = 0, max = 900))]
    pub interval_in_seconds: i32,
}

impl Default for BufferingHints {
    fn default() -> Self {
        Self {
            size_in_mbs: default_size(),
            interval_in_seconds: default_interval(),
        }
    }
}

fn default_size() -> i32 {
    5
}

fn default_interval() -> i32 {
    300
}
