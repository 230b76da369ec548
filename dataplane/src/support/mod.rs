//! Support every stage may use, importing no stage: the clock, durable file replacement,
//! retry with backoff, error
//! messages with their causes, the HTTP client of HTTP-speaking destinations and processors,
//! and mounted Secrets.

pub mod clock;
pub mod durable_file;
pub mod error_text;
pub mod http_client;
pub mod retry;
pub mod secrets;
