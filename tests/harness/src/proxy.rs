//! A TCP proxy the tests can cut, to take a server off the network and bring it back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

pub struct Proxy {
    pub port: u16,
    up: Arc<AtomicBool>,
    cut: Arc<Notify>,
}

impl Proxy {
    /// Forwards 127.0.0.1:<port> to `target`. While down, connections are refused at once (the
    /// listener is closed) and open ones are dropped.
    pub async fn start(target: u16) -> Self {
        let port = crate::free_port();
        let up = Arc::new(AtomicBool::new(true));
        let cut = Arc::new(Notify::new());
        let (u, c) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            loop {
                while !u.load(Ordering::Acquire) {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                let Ok(listener) = TcpListener::bind(("127.0.0.1", port)).await else {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                };
                loop {
                    tokio::select! {
                        accepted = listener.accept() => {
                            let Ok((mut inbound, _)) = accepted else { continue };
                            let c2 = c.clone();
                            tokio::spawn(async move {
                                let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", target)).await else { return };
                                tokio::select! {
                                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                                    _ = c2.notified() => {}
                                }
                            });
                        }
                        _ = c.notified() => break,
                    }
                }
                drop(listener);
            }
        });
        Self { port, up, cut }
    }

    pub fn down(&self) {
        self.up.store(false, Ordering::Release);
        // Wake the accept loop and every open connection (notify_waiters reaches all current waiters).
        self.cut.notify_waiters();
    }

    pub fn up(&self) {
        self.up.store(true, Ordering::Release);
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}
