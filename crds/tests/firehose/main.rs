//! `crds::firehose`: Firehose control-plane shapes ↔ the DeliveryStream spec.

mod conformance;
mod destinations;
mod generated;
mod round_trip;
mod s3;
mod sources;
mod support;
mod update;
