//! The ingest port over TLS: HTTP/1.1 and HTTP/2 (ALPN), with a certificate read from a
//! `kubernetes.io/tls` Secret's files. Kubernetes updates a mounted Secret in place when
//! cert-manager renews it; the certificate is re-read every few seconds and new handshakes get the
//! new one while open connections carry on.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use thiserror::Error;
use tokio_rustls::TlsAcceptor;

/// How often the certificate files are checked for a renewal.
const RELOAD_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Error)]
pub enum TlsError {
    #[error("reading {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0} holds no PEM certificate")]
    NoCertificate(PathBuf),
    #[error("{0}: not a PEM private key: {1}")]
    Key(PathBuf, String),
    #[error("the certificate and key do not go together: {0}")]
    Mismatch(String),
    #[error("no TLS crypto provider is installed")]
    NoProvider,
}

/// The certificate and key files of a Secret mounted at `<secrets dir>/<secret>/`.
#[derive(Debug, Clone)]
pub struct CertificateFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl CertificateFiles {
    pub fn in_secret(secrets_dir: &Path, secret: &str) -> Self {
        let dir = secrets_dir.join(secret);
        Self {
            cert: dir.join("tls.crt"),
            key: dir.join("tls.key"),
        }
    }

    /// Reads and checks the pair: the chain parses, the key parses and matches the leaf.
    fn load(&self) -> Result<(Vec<u8>, Arc<CertifiedKey>), TlsError> {
        let cert_pem =
            std::fs::read(&self.cert).map_err(|e| TlsError::Read(self.cert.clone(), e))?;
        let key_pem = std::fs::read(&self.key).map_err(|e| TlsError::Read(self.key.clone(), e))?;
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
            .filter_map(Result::ok)
            .collect();
        if chain.is_empty() {
            return Err(TlsError::NoCertificate(self.cert.clone()));
        }
        let key = PrivateKeyDer::from_pem_slice(&key_pem)
            .map_err(|e| TlsError::Key(self.key.clone(), e.to_string()))?;
        let provider = CryptoProvider::get_default().ok_or(TlsError::NoProvider)?;
        let certified = CertifiedKey::from_der(chain, key, provider)
            .map_err(|e| TlsError::Mismatch(e.to_string()))?;
        let mut fingerprint = cert_pem;
        fingerprint.extend_from_slice(&key_pem);
        Ok((fingerprint, Arc::new(certified)))
    }
}

/// Hands every handshake the certificate loaded last.
#[derive(Debug)]
struct Reloading {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| c.clone())
    }
}

/// The acceptor for `files`, and the task that reloads them when they change. Fails when the
/// files cannot be used at start; a later bad renewal keeps the previous certificate (logged).
pub fn acceptor(
    files: CertificateFiles,
) -> Result<(TlsAcceptor, tokio::task::JoinHandle<()>), TlsError> {
    let (mut fingerprint, certified) = files.load()?;
    let resolver = Arc::new(Reloading {
        current: RwLock::new(certified),
    });
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_cert_resolver(resolver.clone());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let reload = tokio::spawn(async move {
        let mut tick = tokio::time::interval(RELOAD_EVERY);
        loop {
            tick.tick().await;
            match files.load() {
                Ok((seen, _)) if seen == fingerprint => {}
                Ok((seen, certified)) => {
                    if let Ok(mut current) = resolver.current.write() {
                        *current = certified;
                        fingerprint = seen;
                        tracing::info!(cert = %files.cert.display(), "ingest certificate reloaded");
                    }
                }
                // Mid-update (the two files from different versions) or a bad renewal: keep
                // serving the certificate that works and try again.
                Err(e) => tracing::warn!(error = %e, "ingest certificate not reloaded"),
            }
        }
    });
    Ok((TlsAcceptor::from(Arc::new(config)), reload))
}
