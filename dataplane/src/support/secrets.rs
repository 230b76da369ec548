//! Reading mounted Secrets: `<secrets dir>/<secret>/<key>`, one file per key, as Kubernetes
//! mounts them.
//!
//! One rule for every value: trailing line breaks (`\n`, `\r\n`) are removed, because values
//! written with `echo` or a heredoc end in one; every other byte, spaces included, is part of
//! the value (docs/destinations.md, "Secrets").

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

/// A mounted value with the trailing line breaks removed.
fn clean(raw: String) -> String {
    let len = raw.trim_end_matches(['\n', '\r']).len();
    let mut value = raw;
    value.truncate(len);
    value
}

/// The value of one key.
pub fn read(dir: &Path, secret: &str, key: &str) -> Result<String, SecretError> {
    let path = dir.join(secret).join(key);
    std::fs::read_to_string(&path)
        .map(clean)
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

/// Every key of the Secret mounted at `dir`, with its value.
pub fn read_all(dir: &Path) -> std::io::Result<Vec<(String, String)>> {
    let mut keys = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // Kubernetes mounts keys through `..data` symlinks; skip its bookkeeping entries.
        if name.starts_with('.') || !entry.path().is_file() {
            continue;
        }
        let value = std::fs::read_to_string(entry.path())?;
        keys.push((name, clean(value)));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_trailing_line_breaks_are_removed() {
        assert_eq!(clean("secret\n".into()), "secret");
        assert_eq!(clean("secret\r\n\n".into()), "secret");
        assert_eq!(clean(" spaced value \n".into()), " spaced value ");
        assert_eq!(clean("a\nb".into()), "a\nb");
    }

    #[test]
    fn a_mounted_secret_reads_key_by_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("s")).unwrap();
        std::fs::write(dir.path().join("s/AKID"), "abc\n").unwrap();
        std::fs::write(dir.path().join("s/..data"), "ignored").unwrap();
        assert_eq!(read(dir.path(), "s", "AKID").unwrap(), "abc");
        assert_eq!(read_optional(dir.path(), "s", "missing").unwrap(), None);
        let all = read_all(&dir.path().join("s")).unwrap();
        assert_eq!(all, vec![("AKID".to_owned(), "abc".to_owned())]);
    }
}
