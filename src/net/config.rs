//! Connection-level limits and timeouts, with their defaults as named constants.

use std::time::Duration;

use super::balance::BalanceThresholds;
use crate::protocol::Limits;

/// Default most concurrent client connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default time a connection may sit with no request before it is closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Default time a started request frame or line has to complete (slowloris guard). A TLS
/// handshake, counted from the accept, has this long too.
pub const DEFAULT_FRAME_TIMEOUT: Duration = Duration::from_secs(10);
/// Most "TLS handshake failed" lines logged per second; the rest are counted.
pub const MAX_HANDSHAKE_FAILURE_LOGS_PER_SEC: u64 = 10;
/// Longest a closing TLS connection may take to send its `close_notify`.
pub const TLS_CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Pending output at which the connection stops reading requests (backpressure).
pub const DEFAULT_OUTPUT_SOFT_LIMIT: usize = 4 * 1024 * 1024;
/// Pending output past which the client is disconnected outright.
pub const DEFAULT_OUTPUT_HARD_LIMIT: usize = 64 * 1024 * 1024;
/// Longest a connection may have output pending with no write progress.
pub const DEFAULT_OUTPUT_TIMEOUT: Duration = Duration::from_secs(30);
/// Time in-flight replies get to drain after shutdown starts.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Requests handled per turn before the connection yields to others.
pub const MAX_BATCH: usize = 512;
/// Pipelined requests decoded ahead and shown to the handler together
/// ([`super::Handler::prepare`]) before any is dispatched; limits are checked between runs, so
/// a connection may pass the soft output and in-flight limits by up to this many requests.
pub const PREPARE_RUN: usize = 16;
/// Requests of one connection being answered at once (router handlers are asynchronous);
/// past this, the connection stops decoding until one completes.
pub const MAX_IN_FLIGHT: usize = 1024;
/// Bytes reserved per socket read; the read buffer grows in these steps as bytes arrive.
pub const READ_CHUNK: usize = 16 * 1024;
/// Connections a worker may serve and still busy-poll ([`NetConfig::busy_poll`]): past
/// this many, requests of several connections arrive together and are served in one
/// batch per wake-up, which spinning would split up.
pub const BUSY_POLL_MAX_CONNECTIONS: usize = 2;
/// Listen backlog.
pub const LISTEN_BACKLOG: i32 = 1024;
/// Connections over the limit being answered "too many clients" at once; beyond this they
/// are dropped without a reply, so a flood cannot pin memory.
pub const MAX_REJECTING: usize = 64;
/// How long an over-limit connection is given to send its first bytes (to pick the
/// dialect of the rejection) before it is answered in text.
pub const REJECT_PEEK_TIMEOUT: Duration = Duration::from_millis(250);

/// Key and value limits of a connection that has not authenticated yet (only when a
/// password is set), as Redis does since 6.2: room for AUTH, not for making the server
/// buffer megabytes on behalf of a stranger. Frames: 18 + 1 KiB + 16 KiB.
pub const PRE_AUTH_LIMITS: Limits = Limits { max_key_size: 1024, max_value_size: 16 * 1024 };

/// Every connection-level limit in one place. `Default` gives the documented defaults.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Frame, key and value size limits.
    pub limits: Limits,
    /// The limits until the client authenticates, when the handler requires it.
    pub pre_auth_limits: Limits,
    /// Most concurrent client connections.
    pub max_connections: usize,
    /// Idle connections are closed after this long; `None` disables it.
    pub idle_timeout: Option<Duration>,
    /// A started request, and a TLS handshake, must complete within this.
    pub frame_timeout: Duration,
    /// Pending output at which reading pauses.
    pub output_soft_limit: usize,
    /// Pending output at which the client is disconnected.
    pub output_hard_limit: usize,
    /// Longest pending output may make no progress.
    pub output_timeout: Duration,
    /// Drain time for in-flight replies at shutdown.
    pub shutdown_grace: Duration,
    /// Threads that serve connections, each with a single-threaded runtime and its own
    /// listening socket (SO_REUSEPORT), keeping its connections for their whole life
    /// (see `net::workers`). 0 serves them on the caller's runtime (tests, embedding).
    pub worker_threads: usize,
    /// After a connection reads, its worker keeps polling its sockets this long before
    /// sleeping, while it serves at most [`BUSY_POLL_MAX_CONNECTIONS`] connections: a
    /// request or backend reply arriving meanwhile is served without a sleep and a
    /// wake-up (tens of microseconds at one connection), for a core's CPU time while it
    /// spins. Zero (the default) never spins. Only worker threads spin.
    pub busy_poll: Duration,
    /// Whether connections move between worker threads (see `net::balance`): packed onto
    /// fewer workers while that saves CPU, spread out when a worker runs out of core and
    /// the machine has cores to spare. On by default; only with 2 or more workers.
    pub balance: bool,
    /// Where the balancer draws its lines (the documented constants by default).
    pub balance_thresholds: BalanceThresholds,
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            pre_auth_limits: PRE_AUTH_LIMITS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            frame_timeout: DEFAULT_FRAME_TIMEOUT,
            output_soft_limit: DEFAULT_OUTPUT_SOFT_LIMIT,
            output_hard_limit: DEFAULT_OUTPUT_HARD_LIMIT,
            output_timeout: DEFAULT_OUTPUT_TIMEOUT,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            worker_threads: 0,
            busy_poll: Duration::ZERO,
            balance: true,
            balance_thresholds: BalanceThresholds::default(),
        }
    }
}
