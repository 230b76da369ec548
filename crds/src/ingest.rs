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
    /// Serve the port over TLS (HTTP/1.1 and HTTP/2) with a certificate from a Secret; unset:
    /// plain HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<IngestTls>,
}

impl Default for IngestSpec {
    fn default() -> Self {
        Self {
            port: default_port(),
            auth: IngestAuth::default(),
            tls: None,
        }
    }
}

/// The ingest port's certificate.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngestTls {
    /// A `kubernetes.io/tls` Secret (keys `tls.crt`: the certificate chain, `tls.key`: its
    /// private key), as cert-manager writes it. A renewed certificate is picked up without a
    /// restart and without dropping connections.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
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
