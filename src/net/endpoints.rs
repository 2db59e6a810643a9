//! Which ports a service (server or router) listens on: the plain port, a TLS port, or
//! both, as Redis's `--port` and `--tls-port`. Owns binding them and the addresses they
//! got; the accept loops are [`super::serve`]'s.

use std::net::SocketAddr;
use std::sync::Arc;

use tracing::field::{DisplayValue, display};

use super::{BindError, Listener, Listeners};
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

/// Binds the plain port `plain` (unless `tls` says TLS only) and the TLS port.
pub fn bind_service(
    plain: SocketAddr,
    tls: Option<&TlsListen>,
) -> Result<(Listeners, Bound), BindError> {
    let mut listeners = Vec::new();
    let mut bound = Bound { plain: None, tls: None };
    if !tls.is_some_and(|t| t.only) {
        let listener = Listener::bind(plain, None)?;
        bound.plain = Some(local(&listener, plain)?);
        listeners.push(listener);
    }
    if let Some(t) = tls {
        let listener = Listener::bind(t.addr, Some(t.acceptor.clone()))?;
        bound.tls = Some(local(&listener, t.addr)?);
        listeners.push(listener);
    }
    Ok((Listeners(listeners), bound))
}

fn local(listener: &Listener, addr: SocketAddr) -> Result<SocketAddr, BindError> {
    listener.local_addr().map_err(|source| BindError { addr, source })
}
