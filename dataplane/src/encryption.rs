//! Where a stream's encryption key comes from (`spec.encryption`, Firehose's server-side
//! encryption): `AWS_OWNED_CMK` is a key the data plane generates once and keeps beside the
//! log, `<log dir>/keys/generated.key`; `CUSTOMER_MANAGED_CMK` is the key in a Secret,
//! `<secrets dir>/<keySecret>/key`, 32 bytes written as base64 or hex.
//!
//! A log reads segments sealed with the generated key (if the file exists) and with the
//! configured key. A customer key whose Secret is removed while segments sealed with it are
//! undelivered makes those segments unreadable: the log then refuses to open, naming the key.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use crds::{EncryptionSpec, KeyType};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::wal::SegmentKey;

/// The generated key's file, under the log directory.
pub const GENERATED_KEY: &str = "keys/generated.key";

/// The key `spec` asks for. An `AWS_OWNED_CMK` key is created on first use (32 random bytes,
/// mode 0600, written atomically and fsync'd) and reused after restarts.
pub fn resolve(
    spec: &EncryptionSpec,
    log_dir: &Path,
    secrets_dir: &Path,
) -> anyhow::Result<SegmentKey> {
    match spec.key_type {
        KeyType::AwsOwnedCmk => match generated_key(log_dir)? {
            Some(key) => Ok(key),
            None => create_generated_key(log_dir),
        },
        KeyType::CustomerManagedCmk => {
            let Some(name) = spec.key_secret.as_deref() else {
                bail!("spec.encryption.keySecret is required for CUSTOMER_MANAGED_CMK");
            };
            secret_key(secrets_dir, name)
        }
    }
}

/// The key appends are sealed with (`spec.encryption`), and the other keys the log may need
/// to read its segments: the generated key, when it exists.
pub fn for_log(
    spec: Option<&EncryptionSpec>,
    log_dir: &Path,
    secrets_dir: &Path,
) -> anyhow::Result<(Option<SegmentKey>, Vec<SegmentKey>)> {
    let current = spec
        .map(|s| resolve(s, log_dir, secrets_dir))
        .transpose()
        .context("resolving the stream's encryption key (spec.encryption)")?;
    let mut keyring: Vec<SegmentKey> = generated_key(log_dir)?.into_iter().collect();
    if let Some(name) = spec.and_then(|s| s.key_secret.as_deref()) {
        remember_secret(log_dir, name)?;
    }
    // Segments sealed under a customer key the spec has since replaced stay readable while
    // that Secret is still there: the log lists (by name only) every Secret it was sealed with.
    for name in used_secrets(log_dir)? {
        match secret_key(secrets_dir, &name) {
            Ok(key) => keyring.push(key),
            Err(e) => {
                tracing::warn!(secret = %name, error = %format!("{e:#}"), "a key Secret this log was sealed with is gone: its segments cannot be read")
            }
        }
    }
    Ok((current, keyring))
}

/// `<log dir>/keys/secrets`: the names of the key Secrets this log was sealed with, one a line.
const USED_SECRETS: &str = "keys/secrets";

fn used_secrets(log_dir: &Path) -> anyhow::Result<Vec<String>> {
    let path = log_dir.join(USED_SECRETS);
    match fs::read_to_string(&path) {
        Ok(text) => Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn remember_secret(log_dir: &Path, name: &str) -> anyhow::Result<()> {
    let mut names = used_secrets(log_dir)?;
    if names.iter().any(|n| n == name) {
        return Ok(());
    }
    names.push(name.to_owned());
    let dir = log_dir.join("keys");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = log_dir.join(USED_SECRETS);
    let tmp = dir.join("secrets.tmp");
    write_private(&tmp, format!("{}\n", names.join("\n")).as_bytes())
        .with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, &path).with_context(|| format!("replacing {}", path.display()))?;
    sync_dir(&dir)
}

/// The generated key, if this log has one.
pub fn generated_key(log_dir: &Path) -> anyhow::Result<Option<SegmentKey>> {
    let path = log_dir.join(GENERATED_KEY);
    let bytes = match fs::read(&path) {
        Ok(b) => Zeroizing::new(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice()) else {
        bail!(
            "{} holds {} bytes, not a 32-byte key: restore it from a backup (segments sealed with it cannot be read without it)",
            path.display(),
            bytes.len()
        );
    };
    Ok(Some(SegmentKey::new(
        format!("generated-{}", short_hash(&key)),
        key,
    )?))
}

/// Creates the generated key, unless another process did first (then that one is used).
fn create_generated_key(log_dir: &Path) -> anyhow::Result<SegmentKey> {
    let dir = log_dir.join("keys");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut key = Zeroizing::new([0u8; 32]);
    getrandom::fill(key.as_mut_slice()).context("reading random bytes for a key")?;
    let tmp = dir.join(format!("generated.key.{}.tmp", std::process::id()));
    write_private(&tmp, key.as_slice()).with_context(|| format!("writing {}", tmp.display()))?;
    // A hard link creates the name only if it is free: two processes starting on one log
    // agree on one key.
    let path = log_dir.join(GENERATED_KEY);
    let linked = fs::hard_link(&tmp, &path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
    }
    sync_dir(&dir)?;
    sync_dir(log_dir)?;
    generated_key(log_dir)?.with_context(|| format!("{} vanished", path.display()))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))
}

/// The key in Secret `name`: its `key` file holds 32 bytes, base64- or hex-encoded.
fn secret_key(secrets_dir: &Path, name: &str) -> anyhow::Result<SegmentKey> {
    let path: PathBuf = secrets_dir.join(name).join("key");
    let text = Zeroizing::new(fs::read_to_string(&path).with_context(|| {
        format!(
            "reading the encryption key Secret {name} ({})",
            path.display()
        )
    })?);
    let key = decode_key(text.trim()).with_context(|| {
        format!(
            "the encryption key Secret {name} ({}) must hold 32 bytes, base64- or hex-encoded",
            path.display()
        )
    })?;
    // The id must fit a segment header (255 bytes): a long Secret name is shortened, the hash
    // keeps ids of different keys apart.
    let hash = short_hash(&key);
    let room = crate::wal::MAX_KEY_ID_LEN - "secret--".len() - hash.len();
    let short: String = name.chars().take(room).collect();
    Ok(SegmentKey::new(format!("secret-{short}-{hash}"), *key)?)
}

fn decode_key(text: &str) -> anyhow::Result<Zeroizing<[u8; 32]>> {
    let bytes = Zeroizing::new(
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text)?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
                .context("neither 64 hex digits nor base64")?
        },
    );
    let key = <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| anyhow::anyhow!("it decodes to {} bytes", bytes.len()))?;
    Ok(Zeroizing::new(key))
}

/// The first 8 hex digits of the key's SHA-256: names the key without revealing it.
fn short_hash(key: &[u8; 32]) -> String {
    hex::encode(&Sha256::digest(key)[..4])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn spec(key_type: KeyType, secret: Option<&str>) -> EncryptionSpec {
        EncryptionSpec {
            key_type,
            key_arn: None,
            key_secret: secret.map(str::to_owned),
        }
    }

    #[test]
    fn the_generated_key_is_created_once_private_and_reused() {
        let tmp = tempfile::tempdir().expect("tmp");
        let log = tmp.path().join("wal");
        let spec = spec(KeyType::AwsOwnedCmk, None);
        assert!(for_log(None, &log, tmp.path()).expect("none").1.is_empty());
        let first = resolve(&spec, &log, tmp.path()).expect("created");
        let path = log.join(GENERATED_KEY);
        let mode = fs::metadata(&path).expect("key file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(fs::read(&path).expect("read").len(), 32);
        assert!(first.id().starts_with("generated-") && first.id().len() == 18);
        let again = resolve(&spec, &log, tmp.path()).expect("reused");
        assert_eq!(again, first);
        let (current, ring) = for_log(None, &log, tmp.path()).expect("keyring");
        assert!(current.is_none());
        assert_eq!(ring, vec![first]);
        fs::write(&path, b"short").expect("damage");
        let err = resolve(&spec, &log, tmp.path()).expect_err("a damaged key file");
        assert!(format!("{err:#}").contains("not a 32-byte key"), "{err:#}");
    }

    #[test]
    fn a_secret_key_is_read_as_hex_or_base64() {
        let tmp = tempfile::tempdir().expect("tmp");
        let write = |name: &str, text: &str| {
            fs::create_dir_all(tmp.path().join(name)).expect("dir");
            fs::write(tmp.path().join(name).join("key"), text).expect("write");
        };
        let raw = [7u8; 32];
        write("hexkey", &format!("{}\n", hex::encode(raw)));
        write(
            "b64key",
            &base64::engine::general_purpose::STANDARD.encode(raw),
        );
        write("short", "c2hvcnQ=");
        let log = tmp.path().join("wal");
        let cmk = |n: &str| {
            resolve(
                &spec(KeyType::CustomerManagedCmk, Some(n)),
                &log,
                tmp.path(),
            )
        };
        let hexed = cmk("hexkey").expect("hex");
        let b64 = cmk("b64key").expect("base64");
        assert_eq!(hexed.id(), format!("secret-hexkey-{}", short_hash(&raw)));
        assert!(b64.id().starts_with("secret-b64key-"));
        let err = cmk("short").expect_err("5 bytes");
        assert!(format!("{err:#}").contains("32 bytes"), "{err:#}");
        let err = cmk("missing").expect_err("no Secret");
        assert!(format!("{err:#}").contains("Secret missing"), "{err:#}");
        let long = "n".repeat(253);
        write(&long, &hex::encode(raw));
        assert!(cmk(&long).expect("long name").id().len() <= 255);
        assert!(
            !log.join(GENERATED_KEY).exists(),
            "a customer key generates nothing"
        );
    }
}
