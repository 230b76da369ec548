//! The data directory of `hydrant serve`: `streams/` holds one DeliveryStream manifest per
//! stream (written by the API, or placed there by hand), `logs/<name>/` each stream's log,
//! `secrets/<secret>/<key>` the values a configuration carried (HEC tokens, passwords).
//! What only the API knows (version, timestamps, tags, AWS-only members, a pending delete)
//! rides in the manifest's annotations, so the manifest alone restores the stream.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;
use crds::DeliveryStream;
use crds::firehose::NewSecret;
use kube::api::ObjectMeta;

use crate::control::annotations::{self, VERSION};
use crate::control::names;
use crate::control::store::{StoredStream, StreamStatus};

const DELETING: &str = "firehose.hydrant.dev/deleting";

/// A pending delete recorded in a manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingDelete {
    Drain,
    Force,
}

#[derive(Debug, Clone)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn streams(&self) -> PathBuf {
        self.root.join("streams")
    }

    pub fn secrets(&self) -> PathBuf {
        self.root.join("secrets")
    }

    pub fn log(&self, name: &str) -> PathBuf {
        self.root.join("logs").join(name)
    }

    /// The manifest an API-created stream is written to.
    pub fn manifest(&self, name: &str) -> PathBuf {
        self.streams().join(format!("{name}.yaml"))
    }

    pub fn create_dirs(&self) -> anyhow::Result<()> {
        for dir in [self.streams(), self.secrets(), self.root.join("logs")] {
            fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        Ok(())
    }

    /// Writes each secret's keys as files (mode 0600), replacing what was there.
    pub fn write_secrets(&self, secrets: &[NewSecret]) -> anyhow::Result<()> {
        for secret in secrets {
            let dir = self.secrets().join(&secret.name);
            fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for (key, value) in &secret.data {
                write_atomically(&dir.join(key), value.as_bytes(), true)?;
            }
        }
        Ok(())
    }
}

/// The manifest of a stored stream.
pub fn to_manifest(stream: &StoredStream, pending: Option<PendingDelete>) -> DeliveryStream {
    let mut annotations = annotations::write(stream);
    annotations.insert(VERSION.to_owned(), stream.version_id.clone());
    if let Some(p) = pending {
        let value = match p {
            PendingDelete::Drain => "drain",
            PendingDelete::Force => "force",
        };
        annotations.insert(DELETING.to_owned(), value.to_owned());
    }
    DeliveryStream {
        metadata: ObjectMeta {
            name: Some(names::object_name(&stream.name)),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        },
        spec: stream.spec.clone(),
        status: None,
    }
}

/// A stream restored from its manifest (a hand-written one has no annotations: version 1,
/// created when the file was last modified).
pub fn from_manifest(
    stream: &DeliveryStream,
    modified: SystemTime,
) -> anyhow::Result<(StoredStream, Option<PendingDelete>)> {
    let empty = BTreeMap::new();
    let a = stream.metadata.annotations.as_ref().unwrap_or(&empty);
    let name = stream.delivery_stream_name();
    names::check(&name, "metadata.name").map_err(|e| anyhow::anyhow!(e.message))?;
    let epoch = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    };
    let restored = annotations::read(a)?;
    let pending = a.get(DELETING).map(|v| match v.as_str() {
        "force" => PendingDelete::Force,
        _ => PendingDelete::Drain,
    });
    let stored = StoredStream {
        name,
        spec: stream.spec.clone(),
        kept: restored.kept,
        tags: restored.tags,
        version_id: a.get(VERSION).cloned().unwrap_or_else(|| "1".to_owned()),
        status: if pending.is_some() {
            StreamStatus::Deleting
        } else {
            StreamStatus::Creating
        },
        created: restored.created.unwrap_or_else(|| epoch(modified)),
        updated: restored.updated,
        encryption_switch: None,
    };
    Ok((stored, pending))
}

/// Writes a manifest atomically; returns the text written.
pub fn write_manifest(path: &Path, stream: &DeliveryStream) -> anyhow::Result<String> {
    let yaml = serde_saphyr::to_string(stream).context("serialising the manifest")?;
    let text = format!(
        "# Written by hydrant serve. Edit it and the stream restarts with the new spec.\n{yaml}"
    );
    write_atomically(path, text.as_bytes(), false)?;
    Ok(text)
}

/// Reads a manifest file; returns the stream, the text and its modification time.
pub fn read_manifest(path: &Path) -> anyhow::Result<(DeliveryStream, String, SystemTime)> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let modified = fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let stream = crds::manifest::parse_manifest(&text)
        .with_context(|| format!("parsing {}", path.display()))?;
    Ok((stream, text, modified))
}

/// The manifests in `dir`, by file name.
pub fn manifest_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        let manifest = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
        if manifest && path.is_file() {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Replaces `path` with `bytes` so a crash leaves the old or the new file, never half of one.
fn write_atomically(path: &Path, bytes: &[u8], private: bool) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file")
    ));
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// A cheap fingerprint of a manifest's text, to tell our own writes from a user's edits.
pub fn fingerprint(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}
