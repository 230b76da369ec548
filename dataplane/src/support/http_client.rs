//! The HTTP client of the HTTP-speaking destinations: TLS with an optional extra CA from a
//! Secret, no redirects (Firehose does not follow them), bounded timeouts.

use std::path::Path;
use std::time::Duration;

use thiserror::Error;

use super::secrets::{self, SecretError};
use crds::TlsOptions;

#[derive(Debug, Error)]
pub enum ClientError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("the CA certificates in secret {0} (key ca.crt) are not valid PEM: {1}")]
    Ca(String, reqwest::Error),
    #[error("building the HTTP client: {0}")]
    Build(#[from] reqwest::Error),
}

/// A client for one destination.
pub fn client(
    tls: Option<&TlsOptions>,
    secrets_dir: &Path,
    timeout: Duration,
) -> Result<reqwest::Client, ClientError> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("hydrant/", env!("CARGO_PKG_VERSION")));
    if let Some(secret) = tls.and_then(|t| t.ca_secret.as_deref()) {
        let pem = secrets::read(secrets_dir, secret, "ca.crt")?;
        let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
            .map_err(|e| ClientError::Ca(secret.to_owned(), e))?;
        builder = builder.tls_certs_merge(certs);
    }
    Ok(builder.build()?)
}

/// Firehose-style code for a transport failure.
pub fn transport_code(prefix: &str, e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "RequestTimeout"
    } else if e.is_connect() {
        "ConnectionFailed"
    } else {
        "ConnectionReset"
    };
    format!("{prefix}.{kind}")
}
