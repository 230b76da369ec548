//! Hydrant's data plane: ingest → wal → batch → process → encode → destination.

pub mod wal;
