//! Binding (socket2: reuse-address, backlog, TCP_NODELAY) and the accept loops, which
//! enforce the connection limit (shared by a service's plain and TLS listeners), run the
//! TLS handshake where the listener has one, and hand each connection to the connection
//! loop (`migrate::serve_tcp` for plain TCP, which may move it between workers).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::BytesMut;
use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, info_span, warn};

use super::connection::serve_movable;
use super::service::{Open, Service};
use super::{Handler, LISTEN_BACKLOG, NetConfig, NetStats, REJECT_PEEK_TIMEOUT, Stream};
use crate::protocol::Status;
use crate::protocol::binary::encode_response_parts;
use crate::tls::TlsAcceptor;

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
    let listener = bind_std(addr)?;
    TcpListener::from_std(listener).map_err(|source| BindError { addr, source })
}

/// [`bind`], as a non-blocking std listener not yet tied to any runtime (for a listener
/// served on a thread of its own).
pub fn bind_std(addr: SocketAddr) -> Result<std::net::TcpListener, BindError> {
    bind_socket(addr, false)
}

/// Opens a listening socket; with `reuse_port`, one of a group on the same address that
/// the kernel balances new connections over (SO_REUSEPORT), one per worker thread.
pub(super) fn bind_socket(
    addr: SocketAddr,
    reuse_port: bool,
) -> Result<std::net::TcpListener, BindError> {
    let open = || -> io::Result<std::net::TcpListener> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        #[cfg(unix)]
        socket.set_reuse_port(reuse_port)?;
        #[cfg(not(unix))]
        let _ = reuse_port;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(LISTEN_BACKLOG)?;
        Ok(socket.into())
    };
    open().map_err(|source| BindError { addr, source })
}

/// A listening socket and how its connections begin: in the clear, or with a TLS
/// handshake (bounded by the frame timeout) before the first byte of protocol.
#[derive(Debug)]
pub struct Listener {
    tcp: TcpListener,
    tls: Option<Arc<TlsAcceptor>>,
}

impl Listener {
    /// Binds `addr` (see [`bind`]); with `tls`, every connection starts with a handshake.
    pub fn bind(addr: SocketAddr, tls: Option<Arc<TlsAcceptor>>) -> Result<Self, BindError> {
        Ok(Self { tcp: bind(addr)?, tls })
    }

    /// A bound std socket served on the current runtime (a worker's).
    pub(super) fn from_std(
        tcp: std::net::TcpListener,
        tls: Option<Arc<TlsAcceptor>>,
    ) -> io::Result<Self> {
        Ok(Self { tcp: TcpListener::from_std(tcp)?, tls })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

impl From<TcpListener> for Listener {
    fn from(tcp: TcpListener) -> Self {
        Self { tcp, tls: None }
    }
}

/// Every listener of one service; they share its connection limit, ids and counters.
#[derive(Debug)]
pub struct Listeners(pub Vec<Listener>);

impl From<TcpListener> for Listeners {
    fn from(tcp: TcpListener) -> Self {
        Self(vec![tcp.into()])
    }
}

impl From<Vec<Listener>> for Listeners {
    fn from(listeners: Vec<Listener>) -> Self {
        Self(listeners)
    }
}

/// Accepts connections on every listener until `shutdown` fires, spawning each onto
/// `tracker`. The connection limit counts the connections of all listeners together.
pub async fn serve<H: Handler>(
    listeners: impl Into<Listeners>,
    handler: Arc<H>,
    cfg: Arc<NetConfig>,
    stats: Arc<NetStats>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let service = Service::new(handler, cfg, stats, shutdown, None);
    serve_service(listeners.into(), service, tracker).await;
}

/// [`serve`] for one worker's listeners, with the service shared by all workers.
pub(super) async fn serve_service<H: Handler>(
    listeners: Listeners,
    service: Arc<Service<H>>,
    tracker: TaskTracker,
) {
    let loops = listeners.0.into_iter().map(|l| accept_loop(l, service.clone(), tracker.clone()));
    futures_util::future::join_all(loops).await;
}

async fn accept_loop<H: Handler>(listener: Listener, svc: Arc<Service<H>>, tracker: TaskTracker) {
    loop {
        let accepted = tokio::select! {
            _ = svc.shutdown.cancelled() => break,
            accepted = listener.tcp.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                warn!(error = %e, "accept failed");
                tokio::select! {
                    _ = svc.shutdown.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(50)) => continue,
                }
            }
        };
        let _ = SockRef::from(&stream).set_nodelay(true);
        let tls = listener.tls.clone();
        // CONFIG SET maxclients changes the limit while serving, so it is read per accept.
        // Each listener's loop checks before it counts the connection: with a plain and a
        // TLS listener the limit may be passed by one connection per listener at most.
        let max = svc.handler.services().map_or(svc.cfg.max_connections, |s| s.maxclients());
        if svc.stats.connections.load(Ordering::Relaxed) >= max as u64 {
            spawn_rejection(&svc, &tracker, stream, tls);
        } else {
            spawn_connection(&svc, &tracker, stream, peer, tls);
        }
    }
}

/// Serves an accepted connection on its own task: the TLS handshake first if the listener
/// has one, then the connection loop.
fn spawn_connection<H: Handler>(
    svc: &Arc<Service<H>>,
    tracker: &TaskTracker,
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<Arc<TlsAcceptor>>,
) {
    let id = svc.next_id.fetch_add(1, Ordering::Relaxed);
    let open = Open::new(&svc.stats);
    let span = info_span!("conn", id, %peer);
    let svc = svc.clone();
    tracker.spawn(
        async move {
            let session = svc.handler.session(id, peer);
            let Some(tls) = tls else {
                return super::migrate::serve_tcp(svc, stream, session, None, open).await;
            };
            if let Some(stream) = handshake(&tls, stream, &svc).await {
                // Not movable (nor is a TLS stream), so it is never handed back.
                let _ = serve_movable(stream, session, None, false, svc.serving()).await;
            }
            drop(open);
        }
        .instrument(span),
    );
}

/// Answers a connection over the limit (over TLS on a TLS port), unless too many are being
/// answered already, in which case it is dropped.
fn spawn_rejection<H>(
    svc: &Service<H>,
    tracker: &TaskTracker,
    stream: TcpStream,
    tls: Option<Arc<TlsAcceptor>>,
) {
    svc.stats.rejected.fetch_add(1, Ordering::Relaxed);
    let Ok(permit) = svc.rejecting.clone().try_acquire_owned() else {
        return;
    };
    let timeout = svc.cfg.frame_timeout;
    tracker.spawn(async move {
        match tls {
            None => reject(stream).await,
            Some(tls) => {
                if let Ok(Ok(stream)) = tokio::time::timeout(timeout, tls.accept(stream)).await {
                    reject(stream).await;
                }
            }
        }
        drop(permit);
    });
}

/// The server side of a TLS handshake, within the frame timeout. A failure is answered by
/// rustls with a TLS alert saying why (unknown CA, certificate required, ...) and closes
/// the connection; it is logged at warn (rate-limited), except a peer that hung up
/// without a word (a port probe), which is logged at debug.
async fn handshake<H>(
    tls: &TlsAcceptor,
    stream: TcpStream,
    svc: &Service<H>,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let timeout = svc.cfg.frame_timeout;
    let result = tokio::select! {
        _ = svc.shutdown.cancelled() => return None,
        r = tokio::time::timeout(timeout, tls.accept(stream)) => r,
    };
    match result {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
            debug!(error = %e, "peer closed during the TLS handshake");
            None
        }
        Ok(Err(e)) => {
            if let Some(suppressed) = svc.handshake_failures.admit() {
                warn!(error = %e, suppressed, "TLS handshake failed");
            }
            None
        }
        Err(_) => {
            debug!(?timeout, "TLS handshake timed out");
            None
        }
    }
}

/// Tells an over-limit client why it is being closed, in its own dialect when it speaks
/// quickly enough for us to tell which that is.
async fn reject<S: Stream>(mut stream: S) {
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
