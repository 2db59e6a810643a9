//! Moving a connection to another worker thread, between requests: it leaves its
//! runtime as a plain socket with its session, codec, open-connection count and span
//! ([`serve_tcp`]), travels in the other worker's inbox ([`super::fleet::Migrant`]), and is
//! taken up by that worker's runtime and served there ([`receive`]). On the way it stays
//! registered for CLIENT LIST and KILL, and a KILL meanwhile closes it on arrival (its
//! close token goes with its session).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug};

use super::connection::serve_movable;
use super::fleet::Migrant;
use super::service::{Open, Service};
use super::{Handler, Session};
use crate::codec::ServerCodec;

/// Resumes the connections other workers send worker `index`, until shutdown (a
/// connection still on its way then is dropped, closing it).
pub(super) async fn receive<H: Handler>(
    svc: Arc<Service<H>>,
    index: usize,
    mut inbox: UnboundedReceiver<Migrant>,
    connections: TaskTracker,
) {
    loop {
        tokio::select! {
            _ = svc.shutdown.cancelled() => break,
            m = inbox.recv() => match m {
                Some(migrant) => {
                    // Home may have changed since this worker's last tick: a connection
                    // sent here by a spread must not find an old home and go back.
                    if let Some(fleet) = &svc.fleet {
                        fleet.pick_up(index);
                    }
                    migrant(&connections);
                }
                None => break,
            },
        }
    }
}

/// Serves a plain TCP connection on this worker until it ends or moves.
pub(super) async fn serve_tcp<H: Handler>(
    svc: Arc<Service<H>>,
    stream: TcpStream,
    session: Session,
    codec: Option<ServerCodec>,
    open: Open,
) {
    let may_move = svc.fleet.is_some();
    let moving = serve_movable(stream, session, codec, may_move, svc.serving()).await;
    let Some(parked) = moving else {
        return;
    };
    // From here the connection is registered but served nowhere: the guard deregisters
    // it unless it arrives.
    let (to, session, codec) = (parked.to, parked.session, parked.codec);
    let transit = Transit { svc, id: session.client.id, arrived: false };
    let Some(fleet) = transit.svc.fleet.clone() else { return };
    let stream = match parked.stream.into_std() {
        Ok(stream) => stream,
        Err(e) => return debug!(error = %e, "cannot take a moving connection off its worker"),
    };
    let stats = transit.svc.stats.clone();
    let span = tracing::Span::current();
    let migrant = move |tracker: &TaskTracker| {
        resume(transit, tracker, stream, session, codec, open, span);
    };
    if fleet.send(to, Box::new(migrant)) {
        stats.placement.moved.fetch_add(1, Ordering::Relaxed);
    }
}

/// A connection between workers. It stays registered for CLIENT LIST and KILL on the way;
/// if it never arrives (its worker shut down, its socket could not be taken up) the
/// registration goes with it.
struct Transit<H: Handler> {
    svc: Arc<Service<H>>,
    id: u64,
    arrived: bool,
}

impl<H: Handler> Drop for Transit<H> {
    fn drop(&mut self) {
        if !self.arrived {
            if let Some(services) = self.svc.handler.services() {
                services.clients.deregister(self.id);
            }
        }
    }
}

/// The other half of a move, on the new worker's runtime.
fn resume<H: Handler>(
    mut transit: Transit<H>,
    tracker: &TaskTracker,
    stream: std::net::TcpStream,
    session: Session,
    codec: ServerCodec,
    open: Open,
    span: tracing::Span,
) {
    match TcpStream::from_std(stream) {
        Ok(stream) => {
            transit.arrived = true;
            let serve = serve_tcp(transit.svc.clone(), stream, session, Some(codec), open);
            tracker.spawn(Box::pin(serve).instrument(span));
        }
        Err(e) => span.in_scope(|| debug!(error = %e, "cannot resume a moved connection")),
    }
}
