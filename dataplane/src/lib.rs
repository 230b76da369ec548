//! Hydrant's data plane: ingest → wal → batch → process → encode → destination.

pub mod batch;
pub mod convert;
pub mod destination;
pub mod encode;
pub mod ingest;
pub mod metrics;
pub mod partition;
pub mod process;
pub mod runtime;
pub mod server;
pub mod status;
pub mod wal;
