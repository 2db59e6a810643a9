//! [`Session`]: the per-connection state commands read and change (authentication, RESP
//! version, reply mode, MONITOR, the client's name), and [`ClientInfo`], the part of it
//! other connections may see (CLIENT LIST, CLIENT KILL).
//!
//! The connection loop ([`crate::net`]) creates one session per connection, hands it to
//! the handler with every command, and keeps [`ClientInfo`]'s activity fields current.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use super::order::KeyOrder;

/// What CLIENT REPLY set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplyMode {
    /// Every reply is sent.
    #[default]
    On,
    /// No reply is sent until CLIENT REPLY ON.
    Off,
    /// The next command's reply is not sent.
    SkipNext,
    /// This command's reply is not sent; the next one's is.
    Skip,
}

/// Per-connection state a handler may read and change.
#[derive(Debug, Clone)]
pub struct Session {
    /// Connection id, unique within the process.
    pub id: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// Whether the client has authenticated (always true when no password is set).
    pub authenticated: bool,
    /// Text replies use RESP3 (after `HELLO 3`) instead of RESP2.
    pub resp3: bool,
    /// CLIENT REPLY's setting (text connections only).
    pub reply: ReplyMode,
    /// The connection is in MONITOR mode: it streams every command the server runs.
    pub monitor: bool,
    /// The connection speaks the binary protocol (known once its first byte arrived).
    pub binary: bool,
    /// Keys with writes in flight on this connection (used by concurrent handlers).
    pub order: KeyOrder,
    /// What other connections may see of this one.
    pub client: Arc<ClientInfo>,
    /// MULTI's queue and the WATCHed keys.
    pub tx: super::tx::Transaction,
    /// What the handler keeps between the requests of one turn (the router's open run).
    pub handler_state: HandlerSlot,
}

/// A handler's own per-connection state, opaque to everything else. A cloned session
/// starts with an empty slot: the state belongs to the live connection.
#[derive(Default)]
pub struct HandlerSlot(Option<Box<dyn std::any::Any + Send>>);

impl HandlerSlot {
    /// The state, if it is a `T`.
    pub fn get_mut<T: 'static>(&mut self) -> Option<&mut T> {
        self.0.as_mut().and_then(|b| b.downcast_mut())
    }

    /// The state as a `T`, made by `make` when the slot is empty or holds another type.
    pub fn get_or_insert_with<T: Send + 'static>(&mut self, make: impl FnOnce() -> T) -> &mut T {
        if !self.0.as_ref().is_some_and(|b| b.is::<T>()) {
            self.0 = Some(Box::new(make()));
        }
        self.0.as_mut().and_then(|b| b.downcast_mut()).expect("the slot holds a T: checked or set")
    }
}

impl Clone for HandlerSlot {
    fn clone(&self) -> Self {
        Self(None)
    }
}

impl std::fmt::Debug for HandlerSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "HandlerSlot(set)" } else { "HandlerSlot(empty)" })
    }
}

impl Session {
    /// A fresh session for connection `id` from `peer`.
    pub fn new(id: u64, peer: SocketAddr, authenticated: bool) -> Self {
        Self {
            id,
            peer,
            authenticated,
            resp3: false,
            reply: ReplyMode::On,
            monitor: false,
            binary: false,
            order: KeyOrder::default(),
            client: Arc::new(ClientInfo::new(id, peer)),
            tx: super::tx::Transaction::default(),
            handler_state: HandlerSlot::default(),
        }
    }

    /// The name set with CLIENT SETNAME or HELLO SETNAME.
    pub fn name(&self) -> Option<Bytes> {
        self.client.state.lock().name.clone()
    }

    /// Sets (or, with `None`, clears) the client's name.
    pub fn set_name(&self, name: Option<Bytes>) {
        self.client.state.lock().name = name;
    }

    /// Switches text replies to RESP3 (`true`) or RESP2.
    pub fn set_resp3(&mut self, resp3: bool) {
        self.resp3 = resp3;
        self.client.state.lock().resp = if resp3 { 3 } else { 2 };
    }
}

/// Facts about a connection known once it is accepted.
#[derive(Debug, Clone)]
pub struct ConnFacts {
    /// The local address the client connected to.
    pub local: Option<SocketAddr>,
    /// The socket's file descriptor (-1 where there is none).
    pub fd: i64,
    /// Cancelled to close the connection (CLIENT KILL, shutdown).
    pub close: CancellationToken,
}

/// What CLIENT LIST shows of a connection; shared by the session and the registry.
#[derive(Debug)]
pub struct ClientInfo {
    /// Connection id.
    pub id: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// When the connection was accepted.
    pub created: Instant,
    conn: OnceLock<ConnFacts>,
    pub(super) state: Mutex<ClientState>,
}

/// The changing part of [`ClientInfo`].
#[derive(Debug, Clone)]
pub struct ClientState {
    /// CLIENT SETNAME.
    pub name: Option<Bytes>,
    /// CLIENT SETINFO LIB-NAME.
    pub lib_name: Option<Bytes>,
    /// CLIENT SETINFO LIB-VER.
    pub lib_ver: Option<Bytes>,
    /// RESP version of text replies.
    pub resp: u8,
    /// In MONITOR mode.
    pub monitor: bool,
    /// Full name of the last command (`client|list`), empty before the first.
    pub last_cmd: &'static str,
    /// When the last command arrived.
    pub last_active: Instant,
    /// Bytes buffered but not yet parsed.
    pub qbuf: usize,
    /// Free room in the input buffer.
    pub qbuf_free: usize,
    /// Bytes of output waiting to be written.
    pub obl: usize,
    /// Capacity of the output buffer.
    pub omem: usize,
}

impl ClientInfo {
    /// The entry of a connection accepted now.
    pub fn new(id: u64, peer: SocketAddr) -> Self {
        let now = Instant::now();
        let state = ClientState {
            name: None,
            lib_name: None,
            lib_ver: None,
            resp: 2,
            monitor: false,
            last_cmd: "NULL",
            last_active: now,
            qbuf: 0,
            qbuf_free: 0,
            obl: 0,
            omem: 0,
        };
        Self { id, peer, created: now, conn: OnceLock::new(), state: Mutex::new(state) }
    }

    /// Records the socket facts (once; later calls are ignored).
    pub fn set_conn(&self, facts: ConnFacts) {
        let _ = self.conn.set(facts);
    }

    /// The socket facts, once the connection loop has recorded them.
    pub fn conn(&self) -> Option<&ConnFacts> {
        self.conn.get()
    }

    /// Asks the connection to close after what it is writing. `false` if it cannot be
    /// reached (not served by a connection loop).
    pub fn kill(&self) -> bool {
        self.conn.get().map(|c| c.close.cancel()).is_some()
    }

    /// A copy of the changing state.
    pub fn state(&self) -> ClientState {
        self.state.lock().clone()
    }

    /// Updates the changing state in one lock (the connection loop, once per turn).
    pub fn update(&self, f: impl FnOnce(&mut ClientState)) {
        f(&mut self.state.lock());
    }
}
