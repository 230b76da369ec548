//! Gauges sampled from the operator's cache of streams every 10 s: streams by status, and each
//! stream's desired and ready pods (what the no-ready-pods alert reads).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::ResourceExt;
use kube::core::DeserializeGuard;
use kube::runtime::reflector::Store;

use crate::metrics::Metrics;
use crds::DeliveryStream;

/// The statuses the `streams` gauge reports.
const PHASES: [&str; 4] = ["CREATING", "ACTIVE", "CREATING_FAILED", "DELETING"];

/// Streams by status per watched namespace (None = all): one controller runs per namespace and
/// each reports its own share; the gauge is their sum.
#[derive(Default)]
pub struct Counts(Mutex<HashMap<Option<String>, BTreeMap<String, i64>>>);

/// Samples `store` every 10 s until aborted.
pub fn spawn(
    store: Store<DeserializeGuard<DeliveryStream>>,
    metrics: Metrics,
    counts: Arc<Counts>,
    namespace: Option<String>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut reported: BTreeSet<(String, String)> = BTreeSet::new();
        loop {
            let streams: Vec<DeliveryStream> = store
                .state()
                .iter()
                .filter_map(|guard| guard.0.as_ref().ok().cloned())
                .collect();
            count_phases(&streams, &metrics, &counts, &namespace);
            reported = report_replicas(&streams, &metrics, reported);
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
    })
}

fn count_phases(
    streams: &[DeliveryStream],
    metrics: &Metrics,
    counts: &Counts,
    namespace: &Option<String>,
) {
    let mut mine: BTreeMap<String, i64> = BTreeMap::new();
    for s in streams {
        let phase = s
            .status
            .as_ref()
            .and_then(|st| st.delivery_stream_status.clone())
            .unwrap_or_else(|| "CREATING".to_owned());
        *mine.entry(phase).or_insert(0) += 1;
    }
    if let Ok(mut all) = counts.0.lock() {
        all.insert(namespace.clone(), mine);
        for phase in PHASES {
            let total: i64 = all.values().filter_map(|c| c.get(phase)).sum();
            metrics.streams.with_label_values(&[phase]).set(total);
        }
    }
}

/// Sets each stream's desired and ready pods, and removes the series of streams that are gone;
/// returns the streams reported now.
fn report_replicas(
    streams: &[DeliveryStream],
    metrics: &Metrics,
    before: BTreeSet<(String, String)>,
) -> BTreeSet<(String, String)> {
    let mut now = BTreeSet::new();
    for s in streams {
        let key = (s.namespace().unwrap_or_default(), s.name_any());
        let labels = [key.0.as_str(), key.1.as_str()];
        let desired = match &s.spec.autoscaling {
            Some(a) => a.min_replicas,
            None => s.spec.replicas.unwrap_or(1),
        };
        let ready = s
            .status
            .as_ref()
            .and_then(|st| st.ready_replicas)
            .unwrap_or(0);
        metrics
            .stream_desired_replicas
            .with_label_values(&labels)
            .set(i64::from(desired));
        metrics
            .stream_ready_replicas
            .with_label_values(&labels)
            .set(i64::from(ready));
        now.insert(key);
    }
    for (ns, name) in before.difference(&now) {
        let _ = metrics
            .stream_desired_replicas
            .remove_label_values(&[ns, name]);
        let _ = metrics
            .stream_ready_replicas
            .remove_label_values(&[ns, name]);
    }
    now
}
