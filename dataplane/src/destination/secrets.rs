//! Reading mounted Secrets: `<secrets dir>/<secret>/<key>`.

use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Error)]
#[error("reading secret key {secret}/{key} from {path}: {source}")]
pub struct SecretError {
    pub secret: String,
    pub key: String,
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// The value of one key, trailing newline removed (values written with `echo` end in one).
pub fn read(dir: &Path, secret: &str, key: &str) -> Result<String, SecretError> {
    let path = dir.join(secret).join(key);
    std::fs::read_to_string(&path)
        .map(|v| v.trim_end_matches(['\n', '\r']).to_owned())
        .map_err(|source| SecretError {
            secret: secret.to_owned(),
            key: key.to_owned(),
            path,
            source,
        })
}

/// The value of a key if the Secret has it.
pub fn read_optional(dir: &Path, secret: &str, key: &str) -> Result<Option<String>, SecretError> {
    match read(dir, secret, key) {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.source.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
