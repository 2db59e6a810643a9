//! A TCP fault proxy: forwards connections to one target and, on command, stops passing
//! bytes (a partition: connections hang, new ones are accepted and never answered), delays
//! every chunk (a slow link or an overloaded host), resets every connection, or drops one
//! connection just as the answer to a given request comes back, or plays an old version
//! of the node ([`Mode::OldPeer`], framed in [`super::oldpeer`]). Bounded: each direction
//! copies with a fixed buffer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
    /// Forward everything, but close the first connection that sends a chunk containing
    /// these bytes as soon as its target answers, the answer unsent (a link that drops
    /// after the request got through); then forward everything again ([`Mode::Pass`]).
    LoseReplyTo(&'static [u8]),
    /// The node as if restarted as a version from before RMW ids in BUCKET_DUMP pages: the
    /// connections open now are closed, and each new one forwards everything but a
    /// BUCKET_DUMP flagged for ids, which it answers as that version does
    /// (INVALID_ARGUMENT), counting each in [`FaultProxy::refused_flagged_dumps`]. Frames
    /// are found from a connection's first byte, so such a connection keeps this mode for
    /// its life, whatever is set later.
    OldPeer,
}

/// A running proxy; dropped, it stops.
pub struct FaultProxy {
    pub addr: SocketAddr,
    mode: Arc<watch::Sender<Mode>>,
    /// Flagged BUCKET_DUMPs answered as an old version ([`Mode::OldPeer`]).
    refused: Arc<AtomicUsize>,
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
        let (m, refused) = (mode.clone(), Arc::new(AtomicUsize::new(0)));
        let r = refused.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, target, m.clone(), r.clone()));
            }
        });
        Self { addr, mode, refused, task }
    }

    /// Sets what the proxy does from now on, to existing connections too (but those
    /// accepted as [`Mode::OldPeer`] stay so).
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// How many BUCKET_DUMPs flagged for RMW ids [`Mode::OldPeer`] refused so far.
    pub fn refused_flagged_dumps(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }
}

async fn relay(
    client: TcpStream,
    target: SocketAddr,
    tx: Arc<watch::Sender<Mode>>,
    refused: Arc<AtomicUsize>,
) {
    let mut mode = tx.subscribe();
    // Wait for a mode that passes traffic (a partition holds new connections unanswered).
    loop {
        let now = *mode.borrow_and_update();
        match now {
            Mode::OldPeer => {
                let Ok(upstream) = TcpStream::connect(target).await else { return };
                return super::oldpeer::relay(client, upstream, refused).await;
            }
            Mode::Pass | Mode::Delay(_) | Mode::LoseReplyTo(_) => break,
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
    // Set once this connection sent the request whose answer is to be lost.
    let doomed = Arc::new(AtomicBool::new(false));
    let marked = doomed.clone();
    let up = async move {
        let mark = |chunk: &[u8], now: Mode| {
            if let Mode::LoseReplyTo(pat) = now
                && chunk.windows(pat.len()).any(|w| w == pat)
            {
                marked.store(true, Ordering::SeqCst);
            }
            true
        };
        pump(&mut cr, &mut uw, &mut m1, mark).await
    };
    let down = async move {
        let lose = |_: &[u8], _: Mode| {
            let lost = doomed.load(Ordering::SeqCst);
            if lost {
                tx.send_replace(Mode::Pass);
            }
            !lost
        };
        pump(&mut ur, &mut cw, &mut mode, lose).await
    };
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

/// Copies `from` to `to` while the mode passes traffic; in a blackhole, reads stop (the
/// bytes stay in the kernel, unanswered); on reset, or when `pass` says a chunk read must
/// not go through, returns (dropping both sockets).
async fn pump<R, W>(
    from: &mut R,
    to: &mut W,
    mode: &mut watch::Receiver<Mode>,
    mut pass: impl FnMut(&[u8], Mode) -> bool,
) where
    R: AsyncReadExt + Unpin,
    W: AsyncWriteExt + Unpin,
{
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let now = *mode.borrow_and_update();
        match now {
            // A connection from before OldPeer was set cannot find frames mid-stream: it
            // goes, as with a node restarting.
            Mode::Reset | Mode::OldPeer => return,
            Mode::Blackhole => {
                if mode.changed().await.is_err() {
                    return;
                }
                continue;
            }
            Mode::Pass | Mode::Delay(_) | Mode::LoseReplyTo(_) => {}
        }
        tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let now = *mode.borrow();
                    if !pass(&buf[..n], now) {
                        return;
                    }
                    if let Mode::Delay(late) = now {
                        tokio::time::sleep(late).await;
                    } else if !matches!(now, Mode::Pass | Mode::LoseReplyTo(_)) {
                        // A partition, a reset or an old version that starts mid-copy drops what
                        // was read.
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
