//! Networking shared by the server and the router: socket2 listeners (plain, or TLS with
//! the handshake done here, see [`crate::tls`]), the per-connection loop (decode,
//! dispatch, pipeline, backpressure, timeouts) generic over a [`Handler`] and over the
//! stream, connection limits shared by all of a service's listeners, graceful shutdown,
//! and the counters every connection keeps ([`NetStats`], with requests by command and
//! outcome in [`tally`]).
//!
//! This module owns *how bytes move*; what a request means is the handler's business.
//! The server plugs in a store-backed handler, the router one that forwards to replicas.
//! The per-connection [`Session`] and the shared connection state a handler may offer
//! ([`Handler::services`]: the client registry, MONITOR, the slow log, `maxclients` and
//! `timeout`) are [`crate::cmd`]'s; the connection loop keeps them current: it registers
//! each connection, times each request, feeds MONITOR, streams its lines to monitoring
//! connections, applies CLIENT REPLY and closes a connection CLIENT KILL names.

mod balance;
mod config;
mod connection;
mod cpu;
mod endpoints;
mod fleet;
mod inflight;
mod listener;
mod log_limit;
mod migrate;
mod observe;
mod quiet;
mod service;
mod shutdown;
mod spin;
mod stream;
pub mod tally;
mod workers;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::cmd::{Command, ConnCounts, Services};
use crate::codec::Inbound;
use crate::protocol::Reply;
use crate::protocol::text::Argv;

pub use crate::cmd::order::{Gate, KeyOrder, Ticket};
pub use crate::cmd::{ReplyMode, Session};
pub use balance::BalanceThresholds;
pub use config::*;
pub use connection::serve_connection;
pub use endpoints::{Bound, Sockets, TlsListen, bind_service};
pub use fleet::Placement;
pub use listener::{BindError, Listener, Listeners, bind, bind_std, serve};
pub use log_limit::LogLimit;
pub use quiet::Quiet;
pub use shutdown::{Hangup, Running, Signals, reload_tls_on_hangup};
pub use stream::Stream;
pub use tally::{CommandCount, CommandTally, Striped};
pub use workers::{WORKER_TIMER_TICK, spawn_service, worker_index};

/// What the server or router does with each decoded request.
pub trait Handler: Send + Sync + 'static {
    /// The answer to one command. It must not borrow the handler or session: the loop keeps
    /// several in flight while it reads more requests. Change the session in `call` itself.
    type Future: Future<Output = Reply> + Send + Unpin + 'static;

    /// A new connection's session; `authenticated` should be false when a password is set.
    fn session(&self, id: u64, peer: SocketAddr) -> Session {
        Session::new(id, peer, true)
    }

    /// The connection-level state the loop keeps current for CLIENT, MONITOR and SLOWLOG
    /// (and whose `maxclients` and `timeout` it obeys). Without it connections are not
    /// registered, timed or shown to monitors. The default has none.
    fn services(&self) -> Option<&Services> {
        None
    }

    /// Called with each run of up to [`PREPARE_RUN`] pipelined requests before any of them is
    /// passed to [`Handler::call`], so the handler can warm caches for the whole run (the
    /// server prefetches the keys' entries). Runs of one are common. The default does nothing.
    fn prepare(&self, _run: &[Inbound]) {}

    /// Called once a turn's requests have all been handed to [`Handler::call`], before
    /// any of their futures is polled for real: a handler that collects a turn's requests
    /// into batches (the router) sends them now. The default does nothing.
    fn end_turn(&self, _session: &mut Session) {}

    /// Starts answering one command. The connection loop handles QUIT itself. A future that
    /// is ready at once (the store's) skips the in-flight queue entirely.
    fn call(&self, session: &mut Session, command: Command) -> Self::Future;

    /// [`Handler::call`] with the request's arguments as the client sent them (`None` for a
    /// typed binary request): what the connection loop calls, for handlers that pass
    /// commands on as they came (the router forwards them over the CMD opcode). The
    /// default ignores them.
    fn call_argv(
        &self,
        session: &mut Session,
        command: Command,
        argv: Option<&Argv>,
    ) -> Self::Future {
        let _ = argv;
        self.call(session, command)
    }
}

/// Connection counters shared by the listener and every connection.
#[derive(Debug, Default)]
pub struct NetStats {
    /// Connections open now.
    pub connections: AtomicU64,
    /// Connections accepted since start.
    pub accepted: AtomicU64,
    /// Connections refused because of the connection limit.
    pub rejected: AtomicU64,
    /// Requests processed since start.
    pub commands: Striped,
    /// Bytes read from client sockets.
    pub bytes_in: Striped,
    /// Bytes written to client sockets.
    pub bytes_out: Striped,
    /// Requests by command and outcome, latency by class.
    pub by_command: CommandTally,
    /// Connections by worker thread, and how many moved between them.
    pub placement: Placement,
}

impl NetStats {
    /// Current value of a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// The counters INFO reports.
    pub fn counts(&self) -> ConnCounts {
        ConnCounts {
            open: Self::get(&self.connections),
            accepted: Self::get(&self.accepted),
            rejected: Self::get(&self.rejected),
            commands: self.commands.get(),
            moved: Self::get(&self.placement.moved),
            by_worker: self.placement.open_by_worker(),
        }
    }

    /// Zeroes the cumulative counters (CONFIG RESETSTAT); open connections stay counted.
    pub fn reset(&self) {
        for c in [&self.accepted, &self.rejected] {
            c.store(0, Ordering::Relaxed);
        }
        self.commands.reset();
    }
}
