//! Shards shared by a stream's pods through Kubernetes Leases (`coordination.k8s.io/v1`): one
//! Lease per shard in the pod's namespace, named `<stream>-<shard id lowercased>`. Its holder
//! reads the shard; its annotation `hydrant.dev/checkpoint` holds the shard's checkpoint, so
//! whoever holds it next reads on from there.
//!
//! A holder renews its Leases every [`RENEW_EVERY`]; a Lease not renewed for
//! [`LEASE_DURATION`] is free for any pod of the stream. Each balance round shares the readable
//! shards evenly among the pods holding live Leases ([`plan`]). Every write is conditional on the
//! resourceVersion last read, so two pods never both win a Lease: a conflict means the other
//! one did. A pod that lost a Lease (another took it after it expired, or to balance) may still
//! be reading that shard until its next renewal notices; its commits fail their precondition
//! then and are skipped, so the new holder's checkpoint wins and the overlap costs only
//! duplicates.
//!
//! Expiry compares `renewTime` with this pod's clock: the pods' clocks are assumed to agree
//! within a few seconds (NTP on the nodes), as for Kubernetes' own node and leader Leases.

mod plan;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, Notify};
use tokio::task::JoinHandle;

use super::lineage::Checkpoint;
use super::store::{Assignment, ShardStore};
use crate::source::SourceError;

/// How long a Lease stays held without a renewal. After a pod dies its shards wait this long,
/// plus up to one balance round, for another pod.
pub const LEASE_DURATION: Duration = Duration::from_secs(15);
/// How often held Leases are renewed: three tries within one duration.
pub const RENEW_EVERY: Duration = Duration::from_secs(5);
/// Bound on one API call, so a hung call cannot outlast a renewal.
const API_TIMEOUT: Duration = Duration::from_secs(5);

/// The shard's checkpoint, a [`Checkpoint`] as JSON.
pub const CHECKPOINT: &str = "hydrant.dev/checkpoint";
/// The shard id as Kinesis spells it (the name is lowercased).
pub const SHARD: &str = "hydrant.dev/shard";
/// The Kinesis stream the checkpoint belongs to: another stream's is ignored.
pub const KINESIS_STREAM: &str = "hydrant.dev/kinesis-stream";
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const STREAM: &str = "hydrant.dev/stream";
pub const COMPONENT: &str = "app.kubernetes.io/component";
pub const COMPONENT_VALUE: &str = "kinesis-lease";

/// A client from the environment: in a pod its ServiceAccount, elsewhere `KUBECONFIG`. Calls
/// are bounded by [`API_TIMEOUT`].
pub async fn client() -> Result<Client, SourceError> {
    let mut config = kube::Config::infer()
        .await
        .map_err(|e| SourceError::Config(format!("no Kubernetes client configuration: {e}")))?;
    config.connect_timeout = Some(API_TIMEOUT);
    config.read_timeout = Some(API_TIMEOUT);
    config.write_timeout = Some(API_TIMEOUT);
    Ok(Client::try_from(config)?)
}

/// The Lease of `shard` of delivery stream `stream` (a DNS label): `<stream>-<shard>`, the
/// shard lowercased; a hash of the shard when that is no valid name or longer than 253.
pub fn lease_name(stream: &str, shard: &str) -> String {
    let id = shard.to_ascii_lowercase();
    let valid = id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && id.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric());
    let name = format!("{stream}-{id}");
    if valid && name.len() <= 253 {
        return name;
    }
    let digest = hex::encode(&Sha256::digest(shard.as_bytes())[..8]);
    format!("{stream}-shard-{digest}")
}

/// Labels of every Lease of `stream`.
pub fn labels(stream: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY.to_owned(), "hydrant".to_owned()),
        (STREAM.to_owned(), stream.to_owned()),
        (COMPONENT.to_owned(), COMPONENT_VALUE.to_owned()),
    ])
}

/// Selects the Leases of `stream`.
pub fn selector(stream: &str) -> String {
    format!("{STREAM}={stream},{COMPONENT}={COMPONENT_VALUE}")
}

/// Shards of one stream shared with the other pods reading it.
pub struct LeaseStore {
    shared: Arc<Shared>,
    renewer: JoinHandle<()>,
}

struct Shared {
    api: Api<Lease>,
    /// The delivery stream.
    stream: String,
    /// The Kinesis stream read.
    source: String,
    /// This pod's name, the holder identity.
    me: String,
    /// Locked across API calls, so this pod's own writes never conflict with each other.
    state: Mutex<State>,
    /// Wakes the coordinator when a Lease is lost, so the shard's reader stops at once rather
    /// than at the next balance (it would only read duplicates).
    wake: Arc<Notify>,
}

#[derive(Default)]
struct State {
    /// Held Leases by shard, as last written or read: their resourceVersion is the
    /// precondition of the next write.
    held: HashMap<String, Lease>,
    /// Shards whose Lease another pod took since the last balance: their readers must stop.
    lost: BTreeSet<String>,
}

impl LeaseStore {
    /// Shares the shards of Kinesis stream `source`, read by delivery stream `stream`, among
    /// the pods in `namespace`; this one is `pod`. Starts renewing in the background; `wake`
    /// is notified when a Lease is lost (the coordinator then balances at once).
    pub fn new(
        client: Client,
        namespace: &str,
        stream: &str,
        source: &str,
        pod: &str,
        wake: Arc<Notify>,
    ) -> Self {
        let shared = Arc::new(Shared {
            api: Api::namespaced(client, namespace),
            stream: stream.to_owned(),
            source: source.to_owned(),
            me: pod.to_owned(),
            state: Mutex::default(),
            wake,
        });
        let renewer = tokio::spawn(renew_forever(shared.clone()));
        tracing::info!(namespace, pod, "kinesis: sharing shards through Leases");
        Self { shared, renewer }
    }
}

impl Drop for LeaseStore {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

async fn renew_forever(shared: Arc<Shared>) {
    let mut every = tokio::time::interval(RENEW_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await;
    loop {
        every.tick().await;
        shared.renew_all().await;
    }
}

impl ShardStore for LeaseStore {
    async fn checkpoints(&self) -> Result<HashMap<String, Checkpoint>, SourceError> {
        let mut out = HashMap::new();
        for lease in self.shared.list().await? {
            if let Some(shard) = annotation(&lease, SHARD)
                && let Some(checkpoint) = self.shared.checkpoint_of(&lease)?
            {
                out.insert(shard.to_owned(), checkpoint);
            }
        }
        Ok(out)
    }

    async fn balance(&self, readable: &[String]) -> Result<Assignment, SourceError> {
        self.shared.balance(readable).await
    }

    async fn release(&self, shard: &str) -> Result<(), SourceError> {
        let mut state = self.shared.state.lock().await;
        let Some(lease) = state.held.remove(shard) else {
            return Ok(());
        };
        self.shared
            .write_held(lease, |l| {
                if let Some(spec) = l.spec.as_mut() {
                    spec.holder_identity = None;
                }
            })
            .await?;
        Ok(())
    }

    async fn commit(&self, positions: Vec<(String, Checkpoint)>) -> Result<(), SourceError> {
        let mut state = self.shared.state.lock().await;
        let mut failed = None;
        for (shard, checkpoint) in positions {
            let Some(lease) = state.held.get(&shard).cloned() else {
                tracing::debug!(shard = %shard, "kinesis: not holding the shard; its checkpoint is the new holder's");
                continue;
            };
            if matches!(
                self.shared.checkpoint_of(&lease),
                Ok(Some(Checkpoint::ShardEnd))
            ) {
                continue;
            }
            let json = match serde_json::to_string(&checkpoint) {
                Ok(j) => j,
                Err(e) => {
                    failed = Some(SourceError::Kinesis(format!("checkpoint JSON: {e}")));
                    continue;
                }
            };
            let now = MicroTime(Timestamp::now());
            let written = self
                .shared
                .write_held(lease, |l| self.shared.set_checkpoint(l, &json, &now))
                .await;
            match written {
                Ok(Some(l)) => {
                    state.held.insert(shard, l);
                }
                Ok(None) => {
                    tracing::info!(shard = %shard, "kinesis: another pod holds the shard now; its checkpoint wins");
                    self.shared.lose(&mut state, shard);
                }
                Err(e) => failed = Some(e.into()),
            }
        }
        failed.map_or(Ok(()), Err)
    }

    async fn close(&self) {
        let shards: Vec<String> = self
            .shared
            .state
            .lock()
            .await
            .held
            .keys()
            .cloned()
            .collect();
        for shard in shards {
            if let Err(e) = self.release(&shard).await {
                tracing::warn!(shard = %shard, error = %e, "kinesis: releasing a Lease failed; it expires on its own");
            }
        }
    }
}

impl Shared {
    /// Forgets a Lease another pod holds now; the next balance stops its reader.
    fn lose(&self, state: &mut State, shard: String) {
        state.held.remove(&shard);
        state.lost.insert(shard);
        self.wake.notify_one();
    }

    async fn list(&self) -> Result<Vec<Lease>, SourceError> {
        let params = ListParams::default().labels(&selector(&self.stream));
        Ok(self.api.list(&params).await?.items)
    }

    fn holder_is_me(&self, lease: &Lease) -> bool {
        holder(lease) == Some(self.me.as_str())
    }

    /// The Lease's checkpoint, if it is one of this Kinesis stream's.
    fn checkpoint_of(&self, lease: &Lease) -> Result<Option<Checkpoint>, SourceError> {
        if annotation(lease, KINESIS_STREAM) != Some(self.source.as_str()) {
            return Ok(None);
        }
        let Some(text) = annotation(lease, CHECKPOINT) else {
            return Ok(None);
        };
        serde_json::from_str(text).map(Some).map_err(|e| {
            let name = lease.metadata.name.as_deref().unwrap_or_default();
            SourceError::Kinesis(format!("Lease {name}: checkpoint {text:?}: {e}"))
        })
    }

    /// Writes a checkpoint (and renews): a shard's end is final, nothing replaces it.
    fn set_checkpoint(&self, lease: &mut Lease, json: &str, now: &MicroTime) {
        if matches!(self.checkpoint_of(lease), Ok(Some(Checkpoint::ShardEnd))) {
            return;
        }
        let annotations = lease.metadata.annotations.get_or_insert_with(BTreeMap::new);
        annotations.insert(CHECKPOINT.to_owned(), json.to_owned());
        annotations.insert(KINESIS_STREAM.to_owned(), self.source.clone());
        if let Some(spec) = lease.spec.as_mut() {
            spec.renew_time = Some(now.clone());
        }
    }

    /// One round: forget Leases others took, then claim, take and give up as [`plan`] says.
    async fn balance(&self, readable: &[String]) -> Result<Assignment, SourceError> {
        let mut state = self.state.lock().await;
        let listed: HashMap<String, Lease> = self
            .list()
            .await?
            .into_iter()
            .filter_map(|l| Some((annotation(&l, SHARD)?.to_owned(), l)))
            .collect();
        let held: Vec<String> = state.held.keys().cloned().collect();
        for shard in held {
            match listed.get(&shard) {
                Some(l) if self.holder_is_me(l) => {
                    state.held.insert(shard, l.clone());
                }
                _ => {
                    tracing::info!(shard = %shard, "kinesis: another pod took the shard's Lease");
                    state.held.remove(&shard);
                    state.lost.insert(shard);
                }
            }
        }
        let now = Timestamp::now();
        let seen: Vec<plan::Seen> = listed
            .iter()
            .map(|(shard, lease)| plan::Seen {
                shard: shard.clone(),
                holder: holder(lease).map(str::to_owned),
                live: unexpired(lease, now),
                finished: matches!(self.checkpoint_of(lease), Ok(Some(Checkpoint::ShardEnd))),
            })
            .collect();
        let held: BTreeSet<String> = state.held.keys().cloned().collect();
        let plan = plan::plan(readable, &seen, &self.me, &held);
        let mut won = 0;
        for shard in &plan.claim {
            if won == plan.want {
                break;
            }
            won += usize::from(self.claim(&mut state, shard, listed.get(shard)).await);
        }
        if won < plan.want
            && let Some(shard) = &plan.steal
            && self.claim(&mut state, shard, listed.get(shard)).await
        {
            tracing::info!(shard = %shard, target = plan.target, "kinesis: took a shard from the busiest pod to balance");
        }
        let mut release = plan.release;
        release.extend(std::mem::take(&mut state.lost));
        let read = readable
            .iter()
            .filter(|s| state.held.contains_key(*s) && !release.contains(s))
            .cloned()
            .collect();
        Ok(Assignment { read, release })
    }

    /// Claims a shard's Lease (creating it if missing); false when another pod won it.
    async fn claim(&self, state: &mut State, shard: &str, listed: Option<&Lease>) -> bool {
        let now = MicroTime(Timestamp::now());
        let result = match listed {
            None => {
                self.api
                    .create(&PostParams::default(), &self.new_lease(shard, now))
                    .await
            }
            Some(lease) => {
                let next = self.taken(lease.clone(), now);
                let name = lease.metadata.name.clone().unwrap_or_default();
                self.api.replace(&name, &PostParams::default(), &next).await
            }
        };
        match result {
            Ok(lease) => {
                tracing::info!(shard = %shard, "kinesis: claimed the shard's Lease");
                state.held.insert(shard.to_owned(), lease);
                true
            }
            Err(e) if is_code(&e, 409) || is_code(&e, 404) => {
                tracing::debug!(shard = %shard, "kinesis: another pod claimed the shard first");
                false
            }
            Err(e) => {
                tracing::warn!(shard = %shard, error = %e, "kinesis: claiming a Lease failed");
                false
            }
        }
    }

    fn new_lease(&self, shard: &str, now: MicroTime) -> Lease {
        Lease {
            metadata: ObjectMeta {
                name: Some(lease_name(&self.stream, shard)),
                labels: Some(labels(&self.stream)),
                annotations: Some(BTreeMap::from([
                    (SHARD.to_owned(), shard.to_owned()),
                    (KINESIS_STREAM.to_owned(), self.source.clone()),
                ])),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(self.me.clone()),
                lease_duration_seconds: Some(duration_seconds()),
                acquire_time: Some(now.clone()),
                renew_time: Some(now),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        }
    }

    /// `lease` held by this pod from `now` on, keeping its checkpoint if it is this stream's.
    fn taken(&self, mut lease: Lease, now: MicroTime) -> Lease {
        let annotations = lease.metadata.annotations.get_or_insert_with(BTreeMap::new);
        if annotations.get(KINESIS_STREAM) != Some(&self.source) {
            annotations.remove(CHECKPOINT);
            annotations.insert(KINESIS_STREAM.to_owned(), self.source.clone());
        }
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.me.as_str()) {
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.holder_identity = Some(self.me.clone());
        spec.lease_duration_seconds = Some(duration_seconds());
        spec.acquire_time = Some(now.clone());
        spec.renew_time = Some(now);
        lease
    }

    /// Renews every held Lease; one another pod took is lost.
    async fn renew_all(&self) {
        let mut state = self.state.lock().await;
        let shards: Vec<String> = state.held.keys().cloned().collect();
        for shard in shards {
            let Some(lease) = state.held.get(&shard).cloned() else {
                continue;
            };
            let now = MicroTime(Timestamp::now());
            let renewed = self
                .write_held(lease, |l| {
                    if let Some(spec) = l.spec.as_mut() {
                        spec.renew_time = Some(now.clone());
                    }
                })
                .await;
            match renewed {
                Ok(Some(l)) => {
                    state.held.insert(shard, l);
                }
                Ok(None) => {
                    tracing::info!(shard = %shard, "kinesis: lost the shard's Lease on renewal");
                    self.lose(&mut state, shard);
                }
                Err(e) => {
                    tracing::warn!(shard = %shard, error = %e, "kinesis: renewing a Lease failed");
                }
            }
        }
    }

    /// Writes `edit` of a held Lease, conditional on its resourceVersion. On a conflict the
    /// Lease is read again and, if this pod still holds it, the edit retried once. None when
    /// another pod holds it now (or it is gone).
    async fn write_held(
        &self,
        lease: Lease,
        edit: impl Fn(&mut Lease),
    ) -> Result<Option<Lease>, kube::Error> {
        let name = lease.metadata.name.clone().unwrap_or_default();
        let mut next = lease;
        edit(&mut next);
        match self.api.replace(&name, &PostParams::default(), &next).await {
            Ok(l) => return Ok(Some(l)),
            Err(e) if is_code(&e, 404) => return Ok(None),
            Err(e) if !is_code(&e, 409) => return Err(e),
            Err(_) => {}
        }
        let Some(mut fresh) = self.api.get_opt(&name).await? else {
            return Ok(None);
        };
        if !self.holder_is_me(&fresh) {
            return Ok(None);
        }
        edit(&mut fresh);
        self.api
            .replace(&name, &PostParams::default(), &fresh)
            .await
            .map(Some)
    }
}

fn duration_seconds() -> i32 {
    i32::try_from(LEASE_DURATION.as_secs()).unwrap_or(i32::MAX)
}

fn annotation<'a>(lease: &'a Lease, key: &str) -> Option<&'a str> {
    lease
        .metadata
        .annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

fn holder(lease: &Lease) -> Option<&str> {
    lease
        .spec
        .as_ref()?
        .holder_identity
        .as_deref()
        .filter(|h| !h.is_empty())
}

/// Renewed within its own duration, by this pod's clock.
fn unexpired(lease: &Lease, now: Timestamp) -> bool {
    let Some(spec) = &lease.spec else {
        return false;
    };
    let Some(renewed) = &spec.renew_time else {
        return false;
    };
    let seconds = spec.lease_duration_seconds.unwrap_or_else(duration_seconds);
    now.as_millisecond() - renewed.0.as_millisecond() <= i64::from(seconds) * 1000
}

fn is_code(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(status) if status.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_names_are_the_stream_and_the_lowercased_shard() {
        assert_eq!(
            lease_name("clicks", "shardId-000000000003"),
            "clicks-shardid-000000000003"
        );
        let odd = lease_name("clicks", "shard_Id.7");
        assert!(odd.starts_with("clicks-shard-"), "{odd}");
        assert_ne!(odd, lease_name("clicks", "shard_id.7"), "hashed as spelled");
        let long = lease_name(&"s".repeat(63), &"a".repeat(200));
        assert!(
            long.len() <= 253 && long.starts_with(&"s".repeat(63)),
            "{long}"
        );
        assert_eq!(lease_name("s", &"a".repeat(251)).len(), 253);
    }

    fn lease(holder: Option<&str>, renewed_ms_ago: i64) -> Lease {
        let now = Timestamp::now().as_millisecond();
        Lease {
            metadata: ObjectMeta::default(),
            spec: Some(LeaseSpec {
                holder_identity: holder.map(str::to_owned),
                lease_duration_seconds: Some(15),
                renew_time: Timestamp::from_millisecond(now - renewed_ms_ago)
                    .ok()
                    .map(MicroTime),
                ..LeaseSpec::default()
            }),
        }
    }

    #[test]
    fn a_lease_expires_after_its_duration_without_renewal() {
        let now = Timestamp::now();
        assert!(unexpired(&lease(Some("a"), 1_000), now));
        assert!(!unexpired(&lease(Some("a"), 16_000), now));
        assert!(!unexpired(&Lease::default(), now), "never renewed");
        assert_eq!(holder(&lease(Some(""), 0)), None, "an empty holder is none");
    }
}
