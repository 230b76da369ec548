use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Firehose's `RetryOptions`: how long a failing batch is retried before its records go to the
/// error output. 0 means no retry. The default differs per destination (Firehose's defaults).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetryOptions {
    /// Seconds of retrying after the first failure; time spent waiting for responses does not
    /// count.
    #[schemars(range(min = 0, max = 7200))]
    pub duration_in_seconds: i32,
}

impl RetryOptions {
    pub const fn seconds(duration_in_seconds: i32) -> Self {
        Self {
            duration_in_seconds,
        }
    }

    /// OpenSearch, Splunk and HTTP endpoint default: 300 s.
    pub fn default_300() -> Self {
        Self::seconds(300)
    }

    /// Redshift and PostgreSQL default: 3600 s.
    pub fn default_3600() -> Self {
        Self::seconds(3600)
    }
}
