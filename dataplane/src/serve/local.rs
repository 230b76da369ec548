//! The streams of `hydrant serve`: a [`StreamStore`] whose streams live in the data directory
//! and run in this process, one [`supervisor`](super::supervisor) task each.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use anyhow::Context;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::files::{self, Layout, PendingDelete};
use super::supervisor::{self, Command};
use crate::control::configure_stale;
use crate::control::store::{Change, EncryptionSwitch, StoredStream, StreamStatus, StreamStore};
use crate::ingest::Ingest;
use crate::ingest::error::ApiError;
use crate::runtime::Options;
use crate::server::Observed;
use crds::DeliveryStream;
use crds::firehose::{Environment, NewSecret};

/// What a put to a running stream needs.
#[derive(Clone)]
pub struct Route {
    pub ingest: Arc<Ingest>,
    pub observed: Arc<Observed>,
}

struct Entry {
    stored: StoredStream,
    /// Its manifest, and the fingerprint of the text last written or read there.
    file: PathBuf,
    fingerprint: u64,
    commands: mpsc::UnboundedSender<Command>,
    task: Option<JoinHandle<()>>,
}

pub struct Inner {
    env: Environment,
    layout: Layout,
    /// Settings every stream shares; each gets its own log directory and version.
    options: Options,
    max_streams: usize,
    streams: Mutex<BTreeMap<String, Entry>>,
    routes: RwLock<HashMap<String, Route>>,
}

#[derive(Clone)]
pub struct LocalStreams {
    inner: Arc<Inner>,
}

impl LocalStreams {
    pub fn new(env: Environment, layout: Layout, options: Options, max_streams: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                env,
                layout,
                options,
                max_streams,
                streams: Mutex::new(BTreeMap::new()),
                routes: RwLock::new(HashMap::new()),
            }),
        }
    }

    pub fn layout(&self) -> &Layout {
        &self.inner.layout
    }

    /// The running stream puts to `name` go to.
    pub fn route(&self, name: &str) -> Option<Route> {
        read(&self.inner.routes).get(name).cloned()
    }

    /// Every running stream.
    pub fn routes(&self) -> Vec<Route> {
        read(&self.inner.routes).values().cloned().collect()
    }

    /// The status of a stream that has no route (for a put's error message).
    pub fn status(&self, name: &str) -> Option<&'static str> {
        lock(&self.inner.streams)
            .get(name)
            .map(|e| e.stored.status.as_firehose())
    }

    /// Starts a stream found on disk (at start, or by the rescan).
    pub fn adopt(&self, file: PathBuf) -> anyhow::Result<()> {
        let (manifest, text, modified) = files::read_manifest(&file)?;
        let (stored, pending) = files::from_manifest(&manifest, modified)?;
        let name = stored.name.clone();
        let mut streams = lock(&self.inner.streams);
        if let Some(other) = streams.get(&name) {
            anyhow::bail!(
                "{} names stream {name}, which {} already holds",
                file.display(),
                other.file.display()
            );
        }
        let fingerprint = files::fingerprint(&text);
        let commands = self.spawn(&mut streams, stored, file, fingerprint, manifest);
        if let Some(mode) = pending {
            let _ = commands.send(Command::Delete(mode));
        }
        Ok(())
    }

    /// Registers an entry and starts its supervisor.
    fn spawn(
        &self,
        streams: &mut BTreeMap<String, Entry>,
        stored: StoredStream,
        file: PathBuf,
        fingerprint: u64,
        manifest: DeliveryStream,
    ) -> mpsc::UnboundedSender<Command> {
        let (tx, rx) = mpsc::unbounded_channel();
        let name = stored.name.clone();
        let task = tokio::spawn(supervisor::supervise(
            self.inner.clone(),
            name.clone(),
            manifest,
            rx,
        ));
        streams.insert(
            name,
            Entry {
                stored,
                file,
                fingerprint,
                commands: tx.clone(),
                task: Some(task),
            },
        );
        tx
    }

    /// Manifests added, edited or removed by hand since the last look: started, restarted with
    /// the new spec (a new version), or deleted (drained first).
    pub fn rescan(&self) -> anyhow::Result<()> {
        let on_disk = files::manifest_files(&self.inner.layout.streams())?;
        let known: HashMap<PathBuf, (String, u64)> = lock(&self.inner.streams)
            .iter()
            .map(|(n, e)| (e.file.clone(), (n.clone(), e.fingerprint)))
            .collect();
        for file in &on_disk {
            match known.get(file) {
                None => {
                    if let Err(e) = self.adopt(file.clone()) {
                        tracing::warn!(file = %file.display(), error = %format!("{e:#}"), "ignoring a manifest");
                    }
                }
                Some((name, fingerprint)) => {
                    if let Err(e) = self.reload(name, file, *fingerprint) {
                        tracing::warn!(file = %file.display(), error = %format!("{e:#}"), "ignoring an edited manifest");
                    }
                }
            }
        }
        for (file, (name, _)) in known {
            if !on_disk.contains(&file) {
                tracing::info!(stream = %name, file = %file.display(), "manifest removed: deleting the stream");
                let mut streams = lock(&self.inner.streams);
                if let Some(e) = streams.get_mut(&name)
                    && e.stored.status != StreamStatus::Deleting
                {
                    e.stored.status = StreamStatus::Deleting;
                    let _ = e.commands.send(Command::Delete(PendingDelete::Drain));
                }
            }
        }
        Ok(())
    }

    /// A manifest whose text changed: its spec becomes the stream's, with a new version.
    fn reload(&self, name: &str, file: &PathBuf, fingerprint: u64) -> anyhow::Result<()> {
        let text = std::fs::read_to_string(file)?;
        if files::fingerprint(&text) == fingerprint {
            return Ok(());
        }
        let (manifest, text, _) = files::read_manifest(file)?;
        let mut streams = lock(&self.inner.streams);
        let Some(entry) = streams.get_mut(name) else {
            return Ok(());
        };
        entry.fingerprint = files::fingerprint(&text);
        if manifest.delivery_stream_name() != name || entry.stored.spec == manifest.spec {
            return Ok(());
        }
        entry.stored.spec = manifest.spec;
        bump(&mut entry.stored);
        tracing::info!(stream = %name, version = %entry.stored.version_id, "manifest edited: restarting the stream");
        self.inner.persist(entry, None)?;
        let manifest = files::to_manifest(&entry.stored, None);
        let _ = entry.commands.send(Command::Restart(Box::new(manifest)));
        Ok(())
    }

    /// Stops every stream (they resume at the next start) and waits for them.
    pub async fn shutdown(&self) {
        let tasks: Vec<JoinHandle<()>> = {
            let mut streams = lock(&self.inner.streams);
            streams
                .values_mut()
                .filter_map(|e| {
                    let _ = e.commands.send(Command::Shutdown);
                    e.task.take()
                })
                .collect()
        };
        for task in tasks {
            let _ = task.await;
        }
    }
}

fn bump(stored: &mut StoredStream) {
    let next = stored.version_id.parse::<u64>().unwrap_or(0) + 1;
    stored.version_id = next.to_string();
    stored.updated = Some(crate::control::now_epoch());
}

impl Inner {
    pub fn stream_options(&self, name: &str, manifest: &DeliveryStream) -> Options {
        let version = manifest
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(crate::control::annotations::VERSION))
            .cloned()
            .unwrap_or_else(|| "1".to_owned());
        Options {
            wal_dir: Some(self.layout.log(name)),
            version_id: version,
            ..self.options.clone()
        }
    }

    pub fn route(&self, name: &str, route: Route) {
        write(&self.routes).insert(name.to_owned(), route);
    }

    pub fn unroute(&self, name: &str) {
        write(&self.routes).remove(name);
    }

    pub fn set_status(&self, name: &str, status: StreamStatus) {
        if let Some(e) = lock(&self.streams).get_mut(name) {
            e.stored.status = status;
        }
    }

    /// CREATING (or a failed start) becomes ACTIVE; a stream being deleted stays DELETING.
    pub fn activate(&self, name: &str) {
        if let Some(e) = lock(&self.streams).get_mut(name)
            && !matches!(e.stored.status, StreamStatus::Deleting)
        {
            e.stored.status = StreamStatus::Active;
        }
    }

    /// An encryption switch finished with the restart that applied it.
    pub fn encryption_switched(&self, name: &str) {
        if let Some(e) = lock(&self.streams).get_mut(name) {
            e.stored.encryption_switch = None;
        }
    }

    /// Removes a deleted stream's manifest, log and secrets, then forgets it.
    pub fn remove(&self, name: &str) -> anyhow::Result<()> {
        let file = lock(&self.streams).get(name).map(|e| e.file.clone());
        let log = self.layout.log(name);
        if log.exists() {
            std::fs::remove_dir_all(&log).with_context(|| format!("removing {}", log.display()))?;
        }
        let prefix = format!("{}-", crate::control::names::object_name(name));
        if let Ok(dir) = std::fs::read_dir(self.layout.secrets()) {
            for entry in dir.flatten() {
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        if let Some(file) = file
            && file.exists()
        {
            std::fs::remove_file(&file).with_context(|| format!("removing {}", file.display()))?;
        }
        lock(&self.streams).remove(name);
        Ok(())
    }

    /// A customer key must be in place before a stream switches to it: a restart with a missing
    /// key would leave the stream unable to start.
    fn check_key(
        &self,
        secret: &str,
        encryption: Option<&crds::EncryptionSpec>,
    ) -> Result<(), ApiError> {
        let file = self.layout.secrets().join(secret).join("key");
        if file.is_file() {
            return Ok(());
        }
        let arn = encryption
            .and_then(|e| e.key_arn.as_deref())
            .unwrap_or(secret);
        Err(ApiError::invalid_kms(format!(
            "KMS key {arn} was not found: hydrant serve reads it from {} (32 bytes, base64 or hex).",
            file.display()
        )))
    }

    /// Writes an entry's manifest and remembers its fingerprint.
    fn persist(&self, entry: &mut Entry, pending: Option<PendingDelete>) -> anyhow::Result<()> {
        let manifest = files::to_manifest(&entry.stored, pending);
        let text = files::write_manifest(&entry.file, &manifest)?;
        entry.fingerprint = files::fingerprint(&text);
        Ok(())
    }
}

fn internal(e: anyhow::Error) -> ApiError {
    tracing::error!(error = %format!("{e:#}"), "control-plane change failed");
    ApiError::unavailable(format!("The change could not be stored: {e:#}"))
}

impl StreamStore for LocalStreams {
    fn environment(&self) -> &Environment {
        &self.inner.env
    }

    async fn create(&self, stored: StoredStream, secrets: Vec<NewSecret>) -> Result<(), ApiError> {
        let inner = &self.inner;
        let mut streams = lock(&inner.streams);
        if streams.contains_key(&stored.name) {
            return Err(ApiError::resource_in_use(format!(
                "Firehose {} under accountId {} already exists",
                stored.name, inner.env.account
            )));
        }
        if streams.len() >= inner.max_streams {
            return Err(ApiError::limit_exceeded(format!(
                "This process serves at most {} delivery streams (hydrant serve --max-streams).",
                inner.max_streams
            )));
        }
        if let Some(secret) = stored
            .spec
            .encryption
            .as_ref()
            .and_then(|e| e.key_secret.as_deref())
        {
            inner.check_key(secret, stored.spec.encryption.as_ref())?;
        }
        inner.layout.write_secrets(&secrets).map_err(internal)?;
        let file = inner.layout.manifest(&stored.name);
        let manifest = files::to_manifest(&stored, None);
        let text = files::write_manifest(&file, &manifest).map_err(internal)?;
        self.spawn(
            &mut streams,
            stored,
            file,
            files::fingerprint(&text),
            manifest,
        );
        Ok(())
    }

    async fn get(&self, name: &str) -> Result<StoredStream, ApiError> {
        lock(&self.inner.streams)
            .get(name)
            .map(|e| e.stored.clone())
            .ok_or_else(|| ApiError::not_found(name, &self.inner.env.account))
    }

    async fn list(&self) -> Result<Vec<(String, &'static str)>, ApiError> {
        Ok(lock(&self.inner.streams)
            .values()
            .map(|e| {
                (
                    e.stored.name.clone(),
                    e.stored.spec.source.delivery_stream_type(),
                )
            })
            .collect())
    }

    async fn change(&self, name: &str, change: Change) -> Result<(), ApiError> {
        let inner = &self.inner;
        let mut streams = lock(&inner.streams);
        let entry = streams
            .get_mut(name)
            .ok_or_else(|| ApiError::not_found(name, &inner.env.account))?;
        let restart = match change {
            Change::Destination {
                expected_version,
                spec,
                kept,
                secrets,
            } => {
                if entry.stored.version_id != expected_version {
                    return Err(configure_stale(
                        name,
                        &expected_version,
                        &entry.stored.version_id,
                    ));
                }
                inner.layout.write_secrets(&secrets).map_err(internal)?;
                entry.stored.spec = *spec;
                entry.stored.kept = kept;
                bump(&mut entry.stored);
                true
            }
            Change::Tags(tags) => {
                entry.stored.tags = tags;
                false
            }
            Change::Encryption(encryption) => {
                if let Some(secret) = encryption.as_ref().and_then(|e| e.key_secret.as_deref()) {
                    inner.check_key(secret, encryption.as_ref())?;
                }
                entry.stored.encryption_switch = Some(if encryption.is_some() {
                    EncryptionSwitch::Enabling
                } else {
                    EncryptionSwitch::Disabling
                });
                entry.stored.spec.encryption = encryption;
                true
            }
        };
        inner.persist(entry, None).map_err(internal)?;
        if restart {
            let manifest = files::to_manifest(&entry.stored, None);
            let _ = entry.commands.send(Command::Restart(Box::new(manifest)));
        }
        Ok(())
    }

    async fn delete(&self, name: &str, force: bool) -> Result<(), ApiError> {
        let inner = &self.inner;
        let mut streams = lock(&inner.streams);
        let entry = streams
            .get_mut(name)
            .ok_or_else(|| ApiError::not_found(name, &inner.env.account))?;
        let mode = if force {
            PendingDelete::Force
        } else {
            PendingDelete::Drain
        };
        entry.stored.status = StreamStatus::Deleting;
        inner.persist(entry, Some(mode)).map_err(internal)?;
        let _ = entry.commands.send(Command::Delete(mode));
        Ok(())
    }
}

/// Locks, recovering from a poisoned lock (a panicking holder left consistent data: every
/// change is a single assignment).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}
