//! Stopping a child process the harness started.

use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// SIGTERM, then waits at most `timeout` for the exit status; past it, kill -9 and panic with
/// `log()` (what the process wrote), naming it `what`.
pub async fn terminate(
    mut child: Child,
    timeout: Duration,
    what: &str,
    log: impl Fn() -> String,
) -> ExitStatus {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} did not exit after SIGTERM:\n{}", log());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
