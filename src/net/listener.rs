//! Binding (socket2: reuse-address, backlog, TCP_NODELAY) and the accept loop, which
//! enforces the connection limit and hands each connection to [`serve_connection`].

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, info_span, warn};

use super::{
    Handler, LISTEN_BACKLOG, MAX_REJECTING, NetConfig, NetStats, REJECT_PEEK_TIMEOUT,
    serve_connection,
};
use crate::protocol::Status;
use crate::protocol::binary::encode_response_parts;

/// Failure to open the listening socket.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct BindError {
    /// The address asked for.
    pub addr: SocketAddr,
    /// The OS error.
    #[source]
    pub source: io::Error,
}

/// Opens a listening socket with address reuse and the standard backlog.
pub fn bind(addr: SocketAddr) -> Result<TcpListener, BindError> {
    let open = || -> io::Result<TcpListener> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(LISTEN_BACKLOG)?;
        TcpListener::from_std(socket.into())
    };
    open().map_err(|source| BindError { addr, source })
}

/// Accepts connections until `shutdown` fires, spawning each onto `tracker`.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    handler: Arc<H>,
    cfg: Arc<NetConfig>,
    stats: Arc<NetStats>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let rejecting = Arc::new(Semaphore::new(MAX_REJECTING));
    let next_id = AtomicU64::new(1);
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                warn!(error = %e, "accept failed");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(50)) => continue,
                }
            }
        };
        let _ = SockRef::from(&stream).set_nodelay(true);
        // CONFIG SET maxclients changes the limit while serving, so it is read per accept;
        // only this loop adds connections, so the check and the increment below agree.
        let max = handler.services().map_or(cfg.max_connections, |s| s.maxclients());
        if stats.connections.load(Ordering::Relaxed) >= max as u64 {
            stats.rejected.fetch_add(1, Ordering::Relaxed);
            if let Ok(permit) = rejecting.clone().try_acquire_owned() {
                tracker.spawn(async move {
                    reject(stream).await;
                    drop(permit);
                });
            }
            continue;
        };
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        let session = handler.session(id, peer);
        let (h, c, s, t) = (handler.clone(), cfg.clone(), stats.clone(), shutdown.clone());
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        stats.connections.fetch_add(1, Ordering::Relaxed);
        let span = info_span!("conn", id, %peer);
        tracker.spawn(
            async move {
                serve_connection(stream, session, h, c, s.clone(), t).await;
                s.connections.fetch_sub(1, Ordering::Relaxed);
            }
            .instrument(span),
        );
    }
}

/// Tells an over-limit client why it is being closed, in its own dialect when it speaks
/// quickly enough for us to tell which that is.
async fn reject(mut stream: TcpStream) {
    const MSG: &str = "max number of clients reached";
    let mut head = BytesMut::with_capacity(16);
    let _ = tokio::time::timeout(REJECT_PEEK_TIMEOUT, async {
        while head.len() < 12 {
            match stream.read_buf(&mut head).await {
                Ok(n) if n > 0 => {}
                _ => break,
            }
            if head.first() != Some(&0) {
                break;
            }
        }
    })
    .await;
    let mut out = BytesMut::new();
    if head.first() == Some(&0) {
        let id = head.get(8..12).map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        encode_response_parts(id, Status::Busy as u8, MSG.as_bytes(), &mut out);
    } else {
        out.extend_from_slice(b"-ERR ");
        out.extend_from_slice(MSG.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let _ = tokio::time::timeout(REJECT_PEEK_TIMEOUT, stream.write_all(&out)).await;
    let _ = stream.shutdown().await;
}
