//! The start and the end of a Hydrant process, shared by `hydrant` and `hydrant-operator` so
//! both log the same way and stop on the same signals.

/// Installs the global tracing subscriber, writing to stderr.
///
/// `format` is `json` for one JSON object per line (what log collectors in a cluster parse);
/// anything else gives the human-readable text format. The filter comes from `RUST_LOG` and is
/// `info` when that is unset or does not parse, so a bad `RUST_LOG` never silences the process.
///
/// Call it once, before anything logs: a second call panics (tracing allows one global
/// subscriber).
pub fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Resolves when the process receives SIGTERM (what Kubernetes sends to stop a pod) or Ctrl-C
/// (SIGINT, on a laptop).
///
/// If the SIGTERM handler cannot be installed, it waits for Ctrl-C alone rather than failing:
/// the process can still be stopped, and a missing handler must not keep it from starting.
pub async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
