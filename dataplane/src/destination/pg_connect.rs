//! Connecting to PostgreSQL-wire databases (PostgreSQL, Redshift) with libpq's `sslmode`
//! meanings: `disable` plain; `prefer` TLS when the server offers it; `require` TLS always;
//! neither checks the certificate (as in libpq). `verify-full` checks the chain against
//! `sslrootcert` (PEM in the Secret) or the system roots, and the host name.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_postgres::config::SslMode as WireSslMode;
use tokio_postgres::{Client, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::support::secrets;

/// libpq's `sslmode` values we support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyFull,
}

impl SslMode {
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        Ok(match s.trim() {
            "disable" => SslMode::Disable,
            "prefer" | "allow" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-full" | "verify-ca" => SslMode::VerifyFull,
            other => anyhow::bail!(
                "sslmode `{other}` is not one of disable, prefer, require, verify-full"
            ),
        })
    }
}

/// A database to connect to.
pub struct PgTarget {
    config: tokio_postgres::Config,
    tls: Option<MakeRustlsConnect>,
}

impl PgTarget {
    /// `sslmode` and `sslrootcert` are read from `secret` when present; without `sslmode` the
    /// mode of a `uri` applies, else `prefer`.
    pub fn new(
        mut config: tokio_postgres::Config,
        secrets_dir: &Path,
        secret: &str,
    ) -> anyhow::Result<Self> {
        let mode = match secrets::read_optional(secrets_dir, secret, "sslmode")? {
            Some(m) => SslMode::parse(&m)?,
            None => match config.get_ssl_mode() {
                WireSslMode::Disable => SslMode::Disable,
                WireSslMode::Require => SslMode::Require,
                _ => SslMode::Prefer,
            },
        };
        let root_pem = secrets::read_optional(secrets_dir, secret, "sslrootcert")?;
        config.ssl_mode(match mode {
            SslMode::Disable => WireSslMode::Disable,
            SslMode::Prefer => WireSslMode::Prefer,
            SslMode::Require | SslMode::VerifyFull => WireSslMode::Require,
        });
        let tls = match mode {
            SslMode::Disable => None,
            SslMode::Prefer | SslMode::Require => Some(MakeRustlsConnect::new(client_config(
                Arc::new(NoVerify(provider())),
            ))),
            SslMode::VerifyFull => {
                let mut roots = rustls::RootCertStore::empty();
                match root_pem {
                    Some(pem) => {
                        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                            roots.add(cert.map_err(|e| {
                                anyhow::anyhow!("sslrootcert in secret {secret}: {e}")
                            })?)?;
                        }
                    }
                    None => {
                        for cert in rustls_native_certs::load_native_certs().certs {
                            // Unusable system certificates are skipped, as browsers do.
                            let _ = roots.add(cert);
                        }
                    }
                }
                let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider(),
                )
                .build()?;
                Some(MakeRustlsConnect::new(client_config(verifier)))
            }
        };
        Ok(Self { config, tls })
    }

    pub async fn connect(&self) -> Result<Client, tokio_postgres::Error> {
        match &self.tls {
            None => {
                let (client, connection) = self.config.connect(NoTls).await?;
                drive(connection);
                Ok(client)
            }
            Some(tls) => {
                let (client, connection) = self.config.connect(tls.clone()).await?;
                drive(connection);
                Ok(client)
            }
        }
    }
}

/// Runs a connection's I/O until it closes.
fn drive<F>(connection: F)
where
    F: std::future::Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "database connection closed");
        }
    });
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn client_config(verifier: Arc<dyn ServerCertVerifier>) -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth()
}

/// `prefer` / `require`: encrypted, certificate not checked (libpq's meaning of those modes).
/// Handshake signatures are still verified.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
