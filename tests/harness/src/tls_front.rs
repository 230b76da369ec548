//! A TLS front for a server that speaks plain HTTP only (the test OpenSearch node has no
//! security plugin): it terminates TLS with a certificate from [`crate::tls`] and forwards each
//! connection's bytes to the server, so a client configured for HTTPS and a custom CA (a
//! stream's `tls.caSecret`) is tested over real TLS against the real server behind it.

use std::path::Path;

use tokio::net::TcpStream;
use tokio::task::JoinHandle;

pub struct TlsFront {
    /// The port it listens on, on every address of its namespace.
    pub port: u16,
    task: JoinHandle<()>,
}

impl TlsFront {
    /// Listens inside `netns` with `server.crt` and `server.key` of `certs`, forwarding to
    /// `target` (`host:port` as this process reaches it). Call it inside a tokio runtime.
    pub fn start_in_netns(netns: &str, certs: &Path, target: String) -> Self {
        let listener = crate::netns::tokio_listener(netns);
        let port = listener.local_addr().expect("local address").port();
        let acceptor = crate::tls::acceptor(certs);
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (acceptor, target) = (acceptor.clone(), target.clone());
                tokio::spawn(async move {
                    // A failed handshake (a client that does not trust the CA) ends here, as it
                    // would at a server doing TLS itself.
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut plain) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        Self { port, task }
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}
