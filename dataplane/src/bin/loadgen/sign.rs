//! SigV4 signing of each request (`--access-key-id`/`--secret-access-key`), with `aws-sigv4`'s
//! own signer: what an AWS SDK sends, so the server's verification is measured as producers
//! meet it.

use std::time::SystemTime;

use anyhow::{Context, Result};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

/// Signs requests to one endpoint as one producer.
#[derive(Clone)]
pub struct Signer {
    credentials: Credentials,
    region: String,
}

impl Signer {
    pub fn new(access_key_id: &str, secret_access_key: &str, region: &str) -> Self {
        Self {
            credentials: Credentials::new(access_key_id, secret_access_key, None, None, "loadgen"),
            region: region.to_string(),
        }
    }

    /// The headers that sign a POST of `body` to `url` with `headers` (which the signature
    /// covers), at `now`: `x-amz-date` and `authorization`.
    pub fn headers(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        now: SystemTime,
    ) -> Result<Vec<(String, String)>> {
        // An Arc inside: the clone is cheap.
        let identity = self.credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("firehose")
            .time(now)
            .settings(SigningSettings::default())
            .build()
            .context("SigV4 signing parameters")?
            .into();
        let request = SignableRequest::new(
            "POST",
            url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .context("a signable request")?;
        let (instructions, _signature) = sign(request, &params)
            .context("signing the request")?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect())
    }
}
