//! Prometheus metrics mirroring Firehose's CloudWatch metrics, labelled by namespace and stream
//! (constant labels) and never by anything unbounded.

mod catalog;

use prometheus::core::Collector;
use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder, exponential_buckets,
};

use catalog::{self as c, Spec};

/// Every metric of one data-plane process.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub incoming_bytes: IntCounter,
    pub incoming_records: IntCounter,
    pub incoming_put_requests: IntCounter,
    pub throttled_records: IntCounter,
    pub put_request_duration: HistogramVec,
    pub api_errors: IntCounterVec,
    pub delivery_records: IntCounterVec,
    pub delivery_bytes: IntCounterVec,
    pub delivery_requests: IntCounterVec,
    pub delivery_freshness: GaugeVec,
    pub error_output_records: IntCounterVec,
    pub backup_records: IntCounter,
    pub backup_bytes: IntCounter,
    pub ack_latency: Histogram,
    pub processing_invocations: IntCounterVec,
    pub processing_duration: Histogram,
    pub partitioning_duration: Histogram,
    pub processing_records: IntCounterVec,
    pub processing_bytes: IntCounter,
    pub partition_count: IntGauge,
    pub partition_count_exceeded: IntGauge,
    pub wal_bytes: IntGauge,
    pub wal_segments: IntGauge,
    pub wal_max_bytes: IntGauge,
    pub buffering_interval: IntGauge,
    pub wal_backlog_records: IntGauge,
    pub wal_replayed_records: IntCounter,
    pub wal_truncated_bytes: IntCounter,
    pub fsync_duration: Histogram,
    pub source_records: IntCounterVec,
    pub source_bytes: IntCounterVec,
    pub source_throttled: IntCounterVec,
    pub source_commits: IntCounterVec,
    pub source_millis_behind: IntGaugeVec,
    pub source_lag_records: IntGaugeVec,
}

impl Metrics {
    /// Creates the metrics with `namespace` and `stream` as constant labels.
    pub fn new(namespace: &str, stream: &str) -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(
            Some("hydrant".to_owned()),
            Some(
                [
                    ("namespace".to_owned(), namespace.to_owned()),
                    ("stream".to_owned(), stream.to_owned()),
                ]
                .into(),
            ),
        )?;
        let r = Registrar(&registry);
        let latency = exponential_buckets(0.0001, 2.0, 18)?;
        Ok(Self {
            incoming_bytes: r.counter(&c::INCOMING_BYTES)?,
            incoming_records: r.counter(&c::INCOMING_RECORDS)?,
            incoming_put_requests: r.counter(&c::INCOMING_PUT_REQUESTS)?,
            throttled_records: r.counter(&c::THROTTLED_RECORDS)?,
            put_request_duration: r.histogram_vec(&c::PUT_REQUEST_DURATION, latency.clone())?,
            api_errors: r.counter_vec(&c::API_ERRORS)?,
            delivery_records: r.counter_vec(&c::DELIVERY_RECORDS)?,
            delivery_bytes: r.counter_vec(&c::DELIVERY_BYTES)?,
            delivery_requests: r.counter_vec(&c::DELIVERY_REQUESTS)?,
            delivery_freshness: r.gauge_vec(&c::DELIVERY_FRESHNESS)?,
            error_output_records: r.counter_vec(&c::ERROR_OUTPUT_RECORDS)?,
            backup_records: r.counter(&c::BACKUP_RECORDS)?,
            backup_bytes: r.counter(&c::BACKUP_BYTES)?,
            ack_latency: r.histogram(&c::ACK_LATENCY, exponential_buckets(0.01, 2.0, 16)?)?,
            processing_invocations: r.counter_vec(&c::PROCESSING_INVOCATIONS)?,
            processing_duration: r.histogram(
                &c::PROCESSING_DURATION,
                exponential_buckets(0.001, 2.0, 20)?,
            )?,
            partitioning_duration: r.histogram(
                &c::PARTITIONING_DURATION,
                exponential_buckets(0.0001, 2.0, 20)?,
            )?,
            processing_records: r.counter_vec(&c::PROCESSING_RECORDS)?,
            processing_bytes: r.counter(&c::PROCESSING_BYTES)?,
            partition_count: r.gauge(&c::PARTITION_COUNT)?,
            partition_count_exceeded: r.gauge(&c::PARTITION_COUNT_EXCEEDED)?,
            wal_bytes: r.gauge(&c::WAL_BYTES)?,
            wal_segments: r.gauge(&c::WAL_SEGMENTS)?,
            wal_max_bytes: r.gauge(&c::WAL_MAX_BYTES)?,
            buffering_interval: r.gauge(&c::BUFFERING_INTERVAL)?,
            wal_backlog_records: r.gauge(&c::WAL_BACKLOG_RECORDS)?,
            wal_replayed_records: r.counter(&c::WAL_REPLAYED_RECORDS)?,
            wal_truncated_bytes: r.counter(&c::WAL_TRUNCATED_BYTES)?,
            fsync_duration: r.histogram(&c::FSYNC_DURATION, latency)?,
            source_records: r.counter_vec(&c::SOURCE_RECORDS)?,
            source_bytes: r.counter_vec(&c::SOURCE_BYTES)?,
            source_throttled: r.counter_vec(&c::SOURCE_THROTTLED)?,
            source_commits: r.counter_vec(&c::SOURCE_COMMITS)?,
            source_millis_behind: r.int_gauge_vec(&c::SOURCE_MILLIS_BEHIND)?,
            source_lag_records: r.int_gauge_vec(&c::SOURCE_LAG_RECORDS)?,
            registry,
        })
    }

    /// The Prometheus text exposition of every metric.
    /// Renders the metrics of several streams as one exposition: families of the same name are
    /// merged (Prometheus refuses a family announced twice).
    pub fn render_all<'a>(all: impl IntoIterator<Item = &'a Metrics>) -> String {
        let mut merged: std::collections::BTreeMap<String, prometheus::proto::MetricFamily> =
            std::collections::BTreeMap::new();
        for metrics in all {
            for family in metrics.registry.gather() {
                match merged.get_mut(family.name()) {
                    Some(into) => into
                        .mut_metric()
                        .extend(family.get_metric().iter().cloned()),
                    None => {
                        merged.insert(family.name().to_owned(), family);
                    }
                }
            }
        }
        let families: Vec<_> = merged.into_values().collect();
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&families, &mut buf) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        String::from_utf8(buf).unwrap_or_default()
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let families = self.registry.gather();
        if let Err(e) = TextEncoder::new().encode(&families, &mut buf) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// Creates metrics from their [`Spec`] and registers them.
struct Registrar<'a>(&'a Registry);

impl Registrar<'_> {
    fn register<M: Collector + Clone + 'static>(&self, metric: M) -> Result<M, prometheus::Error> {
        self.0.register(Box::new(metric.clone()))?;
        Ok(metric)
    }

    fn counter(&self, s: &Spec) -> Result<IntCounter, prometheus::Error> {
        self.register(IntCounter::new(s.name, s.help)?)
    }

    fn gauge(&self, s: &Spec) -> Result<IntGauge, prometheus::Error> {
        self.register(IntGauge::new(s.name, s.help)?)
    }

    fn counter_vec(&self, s: &Spec) -> Result<IntCounterVec, prometheus::Error> {
        self.register(IntCounterVec::new(Opts::new(s.name, s.help), s.labels)?)
    }

    fn gauge_vec(&self, s: &Spec) -> Result<GaugeVec, prometheus::Error> {
        self.register(GaugeVec::new(Opts::new(s.name, s.help), s.labels)?)
    }

    fn int_gauge_vec(&self, s: &Spec) -> Result<IntGaugeVec, prometheus::Error> {
        self.register(IntGaugeVec::new(Opts::new(s.name, s.help), s.labels)?)
    }

    fn histogram(&self, s: &Spec, buckets: Vec<f64>) -> Result<Histogram, prometheus::Error> {
        let opts = HistogramOpts::new(s.name, s.help).buckets(buckets);
        self.register(Histogram::with_opts(opts)?)
    }

    fn histogram_vec(
        &self,
        s: &Spec,
        buckets: Vec<f64>,
    ) -> Result<HistogramVec, prometheus::Error> {
        let opts = HistogramOpts::new(s.name, s.help).buckets(buckets);
        self.register(HistogramVec::new(opts, s.labels)?)
    }
}
