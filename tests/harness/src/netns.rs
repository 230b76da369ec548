//! Servers inside a network namespace the harness did not make its own, such as a test cluster's
//! ([`crate::node::Node::netns`]): pods reach them on the node's IP, never on the host's.
//!
//! External programs run under `ip netns exec` ([`command`]). An in-process server needs only
//! its listening socket there: a socket belongs to the namespace it was created in for its whole
//! life, so [`listen`] creates it on a short-lived thread that entered the namespace, and the
//! server then runs on the test's runtime like any other. Connections the server accepts are in
//! the namespace too; connections it opens are made from the host's.

use std::fs::File;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `program` run inside `netns` (`ip netns exec`).
pub fn command(netns: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", netns]).arg(program);
    c
}

/// The file `ip netns add` pins a namespace with.
fn pinned(netns: &str) -> PathBuf {
    Path::new("/run/netns").join(netns)
}

/// A TCP listener on every address of `netns`, on a free port, non-blocking (ready for
/// `tokio::net::TcpListener::from_std`).
pub fn listen(netns: &str) -> std::io::Result<TcpListener> {
    let path = pinned(netns);
    // setns changes the namespace of the calling thread only: a thread of its own, which ends
    // here, so no thread of the test (or of its runtime) ever leaves the host's namespace.
    std::thread::spawn(move || {
        let ns = File::open(&path)?;
        // SAFETY: setns with a valid, open namespace file descriptor and CLONE_NEWNET only
        // changes this thread's network namespace; no memory is shared with the call.
        if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let listener = TcpListener::bind(("0.0.0.0", 0))?;
        listener.set_nonblocking(true)?;
        Ok(listener)
    })
    .join()
    .map_err(|_| std::io::Error::other("the thread binding in the namespace panicked"))?
}

/// [`listen`] as a tokio listener, for servers on the test's runtime (call it inside one).
pub fn tokio_listener(netns: &str) -> tokio::net::TcpListener {
    let listener = listen(netns).unwrap_or_else(|e| panic!("listen in netns {netns}: {e}"));
    tokio::net::TcpListener::from_std(listener).expect("register the listener with tokio")
}
