use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The Firehose API listener of every data-plane pod.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngestSpec {
    /// Port of the Firehose API (and of the plain newline-delimited endpoint).
    #[serde(default = "default_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// How producers authenticate. Default: any signature is accepted.
    #[serde(default)]
    pub auth: IngestAuth,
}

impl Default for IngestSpec {
    fn default() -> Self {
        Self {
            port: default_port(),
            auth: IngestAuth::default(),
        }
    }
}

fn default_port() -> i32 {
    4573
}

/// Producer authentication.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum IngestAuth {
    /// No verification: any (or no) signature is accepted.
    None(NoAuth),
    /// AWS Signature Version 4, verified against static credentials.
    #[serde(rename = "sigV4")]
    SigV4(SigV4Auth),
}

impl Default for IngestAuth {
    fn default() -> Self {
        IngestAuth::None(NoAuth {})
    }
}

/// No settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct NoAuth {}

/// SigV4 verification with static credentials.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SigV4Auth {
    /// Secret whose keys are access key ids and whose values are the matching secret access keys.
    #[schemars(length(min = 1, max = 253))]
    pub credentials_secret: String,
}
