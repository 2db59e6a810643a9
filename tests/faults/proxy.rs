//! A TCP fault proxy: forwards connections to one target and, on command, stops passing
//! bytes (a partition: connections hang, new ones are accepted and never answered), delays
//! every chunk (a slow link or an overloaded host), or resets every connection. Bounded:
//! each direction copies with a fixed buffer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward everything.
    Pass,
    /// Forward nothing; keep connections open (a network partition: peers time out).
    Blackhole,
    /// Forward everything, each chunk this late (in order, in both directions).
    Delay(Duration),
    /// Close every connection, and each new one at once (a crashed host's RSTs).
    Reset,
}

/// A running proxy; dropped, it stops.
pub struct FaultProxy {
    pub addr: SocketAddr,
    mode: Arc<watch::Sender<Mode>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// A proxy on 127.0.0.1:0 in front of `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, _) = watch::channel(Mode::Pass);
        let mode = Arc::new(tx);
        let m = mode.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let rx = m.subscribe();
                tokio::spawn(relay(client, target, rx));
            }
        });
        Self { addr, mode, task }
    }

    /// Sets what the proxy does from now on, to existing connections too.
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

async fn relay(client: TcpStream, target: SocketAddr, mut mode: watch::Receiver<Mode>) {
    // Wait for a mode that passes traffic (a partition holds new connections unanswered).
    loop {
        let now = *mode.borrow_and_update();
        match now {
            Mode::Pass | Mode::Delay(_) => break,
            Mode::Reset => return,
            Mode::Blackhole => {
                if mode.changed().await.is_err() {
                    return;
                }
            }
        }
    }
    let Ok(upstream) = TcpStream::connect(target).await else { return };
    let (mut cr, mut cw) = client.into_split();
    let (mut ur, mut uw) = upstream.into_split();
    let mut m1 = mode.clone();
    let up = async move { pump(&mut cr, &mut uw, &mut m1).await };
    let down = async move { pump(&mut ur, &mut cw, &mut mode).await };
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

/// Copies `from` to `to` while the mode passes traffic; in a blackhole, reads stop (the
/// bytes stay in the kernel, unanswered); on reset, returns (dropping both sockets).
async fn pump<R, W>(from: &mut R, to: &mut W, mode: &mut watch::Receiver<Mode>)
where
    R: AsyncReadExt + Unpin,
    W: AsyncWriteExt + Unpin,
{
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let now = *mode.borrow_and_update();
        match now {
            Mode::Reset => return,
            Mode::Blackhole => {
                if mode.changed().await.is_err() {
                    return;
                }
                continue;
            }
            Mode::Pass | Mode::Delay(_) => {}
        }
        tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let now = *mode.borrow();
                    if let Mode::Delay(late) = now {
                        tokio::time::sleep(late).await;
                    } else if now != Mode::Pass {
                        // A partition that starts mid-copy drops what was read.
                        continue;
                    }
                    if to.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            },
            changed = mode.changed() => if changed.is_err() { return },
        }
    }
}
