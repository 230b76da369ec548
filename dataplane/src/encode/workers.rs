//! The threads that compress: one per core, shared by every object being encoded at once, and
//! below the priority of the rest of the process.
//!
//! A thread pool per object would put (objects in flight × cores) compressing threads on the
//! cores, and the kernel shares CPU by thread: the few threads that take, log and acknowledge
//! records would get a sliver of it, and acknowledgements would wait behind compression. One
//! shared pool keeps compression to one thread a core, and a lower priority (nice) lets the
//! acknowledging path run first while compression takes every cycle it leaves.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};

/// A piece of compression work, run once on a worker.
pub(super) type Job = Box<dyn FnOnce() + Send + 'static>;

/// How much lower than the rest of the process the workers run (nice +5: the kernel then gives
/// an acknowledging thread about three times a worker's share when both want the CPU).
const NICENESS: i32 = 5;

static WORKERS: OnceLock<Option<Sender<Job>>> = OnceLock::new();

/// Runs `job` on a worker, or on this thread when no worker could be started.
pub(super) fn run(job: Job) {
    let job = match WORKERS.get_or_init(start) {
        Some(sender) => match sender.send(job) {
            Ok(()) => return,
            Err(mpsc::SendError(job)) => job,
        },
        None => job,
    };
    job();
}

/// How many workers there are (the cores this process may use).
fn count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn start() -> Option<Sender<Job>> {
    let (sender, receiver) = mpsc::channel::<Job>();
    let receiver = Arc::new(Mutex::new(receiver));
    let mut started = 0;
    for i in 0..count() {
        let receiver = receiver.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("hydrant-deflate-{i}"))
            .spawn(move || work(&receiver));
        match spawned {
            Ok(_) => started += 1,
            Err(e) => tracing::warn!(error = %e, "a compression worker could not be started"),
        }
    }
    if started == 0 {
        tracing::warn!(
            "no compression worker could be started; compressing on the delivery threads"
        );
    }
    (started > 0).then_some(sender)
}

fn work(jobs: &Mutex<Receiver<Job>>) {
    lower_priority();
    loop {
        // The lock is held only while waiting for the next job, never while running one.
        let next = match jobs.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        match next {
            // A job that panics loses its chunk (its caller sees it missing), not the worker.
            Ok(job) => {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
            Err(mpsc::RecvError) => return,
        }
    }
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // On Linux the nice value belongs to the thread: `who = 0` is the calling thread alone.
    // SAFETY: setpriority reads no memory of ours; a failure leaves the priority as it was.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, NICENESS) };
    if rc != 0 {
        tracing::debug!(
            error = %std::io::Error::last_os_error(),
            "a compression worker keeps its priority"
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}
