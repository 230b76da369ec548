//! Hydrant's operator: watch `DeliveryStream`s → render their children → server-side apply →
//! report status. The pure middle (`render`, `status`) is where most tests live.

pub mod apply;
pub mod config;
pub mod controller;
pub mod drains;
pub mod finalizer;
pub mod gauges;
pub mod health;
pub mod leader;
pub mod metrics;
pub mod render;
pub mod rollout_gate;
pub mod status;
pub mod workload;
