//! Operator metrics: reconciles, failures by reason, reconcile duration, streams by status.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub reconciles: IntCounterVec,
    pub failures: IntCounterVec,
    pub duration: HistogramVec,
    pub streams: IntGaugeVec,
    pub writes: IntCounterVec,
    pub stream_desired_replicas: IntGaugeVec,
    pub stream_ready_replicas: IntGaugeVec,
}

/// Every `result` and `reason` label value, created at zero so that rates and alerts over them
/// have series before the first failure.
const RESULTS: [&str; 2] = ["success", "error"];
const REASONS: [&str; 6] = [
    "undecodable",
    "api_error",
    "client_error",
    "render",
    "serialise",
    "drain",
];

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("hydrant_operator".to_owned()), None)?;
        let reconciles = IntCounterVec::new(
            Opts::new("reconciles_total", "Reconciles by result"),
            &["result"],
        )?;
        let failures = IntCounterVec::new(
            Opts::new("reconcile_failures_total", "Failed reconciles by reason"),
            &["reason"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new("reconcile_duration_seconds", "Duration of reconciles")
                .buckets(prometheus::exponential_buckets(0.001, 2.0, 15)?),
            &["result"],
        )?;
        let streams = IntGaugeVec::new(
            Opts::new("streams", "DeliveryStreams by deliveryStreamStatus"),
            &["status"],
        )?;
        let writes = IntCounterVec::new(
            Opts::new("api_writes_total", "Writes to the API server by kind"),
            &["kind"],
        )?;
        registry.register(Box::new(reconciles.clone()))?;
        registry.register(Box::new(failures.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(streams.clone()))?;
        let stream_desired_replicas = IntGaugeVec::new(
            Opts::new(
                "stream_desired_replicas",
                "Pods a stream asks for (spec.replicas, or the autoscaler's minReplicas)",
            ),
            &["namespace", "stream"],
        )?;
        let stream_ready_replicas = IntGaugeVec::new(
            Opts::new(
                "stream_ready_replicas",
                "Ready pods of a stream (status.readyReplicas)",
            ),
            &["namespace", "stream"],
        )?;
        registry.register(Box::new(writes.clone()))?;
        registry.register(Box::new(stream_desired_replicas.clone()))?;
        registry.register(Box::new(stream_ready_replicas.clone()))?;
        for result in RESULTS {
            reconciles.with_label_values(&[result]);
        }
        for reason in REASONS {
            failures.with_label_values(&[reason]);
        }
        Ok(Self {
            stream_desired_replicas,
            stream_ready_replicas,
            registry,
            reconciles,
            failures,
            duration,
            streams,
            writes,
        })
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}
