//! Which ports a service (server or router) listens on: the plain port, a TLS port, or
//! both, as Redis's `--port` and `--tls-port`. Owns binding them (one socket per port, or
//! one per port and worker thread, see [`super::workers`]) and the addresses they got;
//! the accept loops are [`super::serve`]'s.

use std::net::SocketAddr;
use std::sync::Arc;

use tracing::field::{DisplayValue, display};

use super::BindError;
use super::listener::bind_socket;
use crate::tls::TlsAcceptor;

/// A TLS port next to the plain one, or instead of it.
#[derive(Debug, Clone)]
pub struct TlsListen {
    /// Address of the TLS port; port 0 picks a free one.
    pub addr: SocketAddr,
    /// Certificates and client-certificate policy, reloadable while serving.
    pub acceptor: Arc<TlsAcceptor>,
    /// No plain port at all (Redis's `--port 0` next to `--tls-port`).
    pub only: bool,
}

/// The addresses a service actually bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// The plain port, unless the service is TLS only.
    pub plain: Option<SocketAddr>,
    /// The TLS port, if there is one.
    pub tls: Option<SocketAddr>,
}

impl Bound {
    /// The plain address, or the TLS one for a TLS-only service.
    pub fn main(&self) -> SocketAddr {
        match (self.plain, self.tls) {
            (Some(addr), _) | (None, Some(addr)) => addr,
            // `bind_service` always binds at least one of the two.
            (None, None) => SocketAddr::from(([0, 0, 0, 0], 0)),
        }
    }

    /// The TLS address as a log field (absent without TLS).
    pub fn tls_field(&self) -> Option<DisplayValue<SocketAddr>> {
        self.tls.map(display)
    }
}

/// A bound listening socket not yet tied to a runtime, and whether its connections start
/// with a TLS handshake.
#[derive(Debug)]
pub struct Socket {
    pub(super) tcp: std::net::TcpListener,
    pub(super) tls: Option<Arc<TlsAcceptor>>,
}

/// A service's listening sockets, one set (plain and TLS port) per worker thread; a single
/// set when connections are served on the caller's runtime.
#[derive(Debug)]
pub struct Sockets(pub(super) Vec<Vec<Socket>>);

/// Binds the plain port `plain` (unless `tls` says TLS only) and the TLS port, once per
/// worker thread (`workers`; 0 or 1 bind each port once).
pub fn bind_service(
    plain: SocketAddr,
    tls: Option<&TlsListen>,
    workers: usize,
) -> Result<(Sockets, Bound), BindError> {
    let copies = workers.max(1);
    let mut sets: Vec<Vec<Socket>> = (0..copies).map(|_| Vec::new()).collect();
    let mut bound = Bound { plain: None, tls: None };
    if !tls.is_some_and(|t| t.only) {
        let (group, addr) = bind_group(plain, copies)?;
        bound.plain = Some(addr);
        for (set, tcp) in sets.iter_mut().zip(group) {
            set.push(Socket { tcp, tls: None });
        }
    }
    if let Some(t) = tls {
        let (group, addr) = bind_group(t.addr, copies)?;
        bound.tls = Some(addr);
        for (set, tcp) in sets.iter_mut().zip(group) {
            set.push(Socket { tcp, tls: Some(t.acceptor.clone()) });
        }
    }
    Ok((Sockets(sets), bound))
}

/// `copies` sockets listening on `addr` (a port 0 resolved by the first), and the address.
/// Several copies form an SO_REUSEPORT group the kernel balances connections over. Any
/// process of the same user could join such a group, so a port given explicitly is first
/// bound alone: if anything listens there already, even another group, that fails.
fn bind_group(
    addr: SocketAddr,
    copies: usize,
) -> Result<(Vec<std::net::TcpListener>, SocketAddr), BindError> {
    let local =
        |l: &std::net::TcpListener| l.local_addr().map_err(|source| BindError { addr, source });
    if copies <= 1 {
        let tcp = bind_socket(addr, false)?;
        let at = local(&tcp)?;
        return Ok((vec![tcp], at));
    }
    if addr.port() != 0 {
        drop(bind_socket(addr, false)?);
    }
    let first = bind_socket(addr, true)?;
    let at = local(&first)?;
    let mut group = vec![first];
    for _ in 1..copies {
        group.push(bind_socket(at, true)?);
    }
    Ok((group, at))
}
