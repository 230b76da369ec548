//! One process at a time on a log. Two processes appending to the same segments would corrupt
//! them; on a claim that can happen when a drain Job and a pod of the same ordinal are started
//! together (a scale-up racing a scale-down). The second one waits for the first to exit.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::time::Duration;

use super::WalError;

const FILE: &str = "LOCK";
const RETRY: Duration = Duration::from_millis(250);

/// An exclusive lock on a log's directory, held until dropped (or the process exits).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

/// Takes the lock of `dir`, waiting as long as another process holds it.
pub fn acquire(dir: &Path) -> Result<DirLock, WalError> {
    let path = dir.join(FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)?;
    let mut warned = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(DirLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => {
                if !warned {
                    tracing::warn!(
                        lock = %path.display(),
                        "another process has this write-ahead log open; waiting for it to exit"
                    );
                    warned = true;
                }
                std::thread::sleep(RETRY);
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_until_the_first_lets_go() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = acquire(dir.path()).expect("first");
        let path = dir.path().to_owned();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let lock = acquire(&path).expect("second");
            tx.send(()).expect("send");
            drop(lock);
        });
        // While the first holds it, the second cannot have it.
        assert!(rx.recv_timeout(Duration::from_millis(600)).is_err());
        drop(first);
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the second takes the lock once the first is dropped");
        waiter.join().expect("join");
    }
}
