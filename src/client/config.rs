//! Client-side limits and timeouts with their defaults as named constants, and the
//! reconnect backoff policy.
//!
//! Owns numbers only; [`super::ClientBuilder`] is the user-facing way to set them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use crate::auth::Password;
use crate::protocol::Limits;
use crate::protocol::binary::{RequestFrame, ResponseFrame};
use crate::tls::TlsConnector;

/// Default time a connect may take (the TLS handshake included).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Default deadline of one request (or one pipeline), connection setup included.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_millis(500);
/// Default connections opened to each address.
pub const DEFAULT_CONNECTIONS_PER_ADDR: usize = 1;
/// Default first reconnect delay after a failure.
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_millis(50);
/// Default longest reconnect delay.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Default most requests awaiting a reply on one connection.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 65_536;
/// Default most written requests whose caller gave up before the reply came. Their ids
/// stay reserved until the late reply arrives; past this many the peer is presumed stuck
/// and the connection is reset, which frees them all.
pub const DEFAULT_MAX_ABANDONED: usize = 4_096;
/// Default capacity of the queue between callers and a connection's writer task.
pub const DEFAULT_QUEUE_DEPTH: usize = 1_024;
/// Most queued submissions the writer encodes into one buffer (one write syscall).
pub const MAX_WRITE_BATCH: usize = 256;
/// Bytes reserved per socket read; the read buffer grows in these steps.
pub const READ_CHUNK: usize = 16 * 1024;
/// A write buffer that grew past this (large values) is released after the write.
pub const MAX_IDLE_WRITE_BUFFER: usize = 1024 * 1024;

/// Settings of one multiplexed [`super::Connection`].
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// Longest a connect may take, TLS handshake included. Default
    /// [`DEFAULT_CONNECT_TIMEOUT`].
    pub connect_timeout: Duration,
    /// Key and value limits checked before sending; replies are accepted up to
    /// `limits.max_frame_len()` (unless `max_reply_frame` says otherwise). Default
    /// [`Limits::default`].
    pub limits: Limits,
    /// Accept reply frames up to this `len` instead (capped at the hard frame limit): a
    /// router reading a coordinator's RMW reply, which can carry two values. Default `None`.
    pub max_reply_frame: Option<usize>,
    /// Most requests awaiting a reply. Default [`DEFAULT_MAX_IN_FLIGHT`].
    pub max_in_flight: usize,
    /// Most abandoned requests before the connection is reset. Default
    /// [`DEFAULT_MAX_ABANDONED`].
    pub max_abandoned: usize,
    /// Capacity of the writer queue. Default [`DEFAULT_QUEUE_DEPTH`].
    pub queue_depth: usize,
    /// Sent as AUTH right after each connect; the connection is used only once the server
    /// answered OK. Default `None` (no AUTH).
    pub password: Option<Password>,
    /// A request sent on each new connection (after AUTH) whose answer decides whether the
    /// connection may be used. Default `None`.
    pub greeting: Option<Greeting>,
    /// Turns `host:port` into addresses on every connect. Default `None`: the system
    /// resolver (getaddrinfo), asked anew each time, so a name that moves (a restarted
    /// pod) is followed on the next reconnect.
    pub resolver: Option<Resolver>,
    /// Speak TLS, verifying the server's certificate against the host of the address (or
    /// the connector's server name). Default `None` (plain TCP).
    pub tls: Option<Arc<TlsConnector>>,
}

/// A check of each new connection: `frame` is sent first, and `accept` either lets the
/// connection carry requests or refuses it with a reason (the connect then fails with it).
/// The router uses it to learn, before any request reaches a node, that the node at an
/// address restarted (and so may not hold every write yet).
#[derive(Clone)]
pub struct Greeting {
    /// The request sent first.
    pub frame: RequestFrame,
    /// Judges the reply.
    pub accept: Accept,
}

/// How a [`Greeting`] judges a reply: `Err(reason)` refuses the connection.
pub type Accept = Arc<dyn Fn(&ResponseFrame) -> Result<(), String> + Send + Sync>;

impl std::fmt::Debug for Greeting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Greeting").field("opcode", &self.frame.opcode).finish_non_exhaustive()
    }
}

/// A replacement for the system resolver, called with `host:port` on every connect (tests
/// use it to move a name between servers without touching the hosts file).
#[derive(Clone)]
pub struct Resolver(pub Arc<ResolveFn>);

/// What a [`Resolver`] calls: `host:port` in, addresses out.
pub type ResolveFn = dyn Fn(&str) -> std::io::Result<Vec<SocketAddr>> + Send + Sync;

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolver(..)")
    }
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            limits: Limits::default(),
            max_reply_frame: None,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            max_abandoned: DEFAULT_MAX_ABANDONED,
            queue_depth: DEFAULT_QUEUE_DEPTH,
            password: None,
            greeting: None,
            resolver: None,
            tls: None,
        }
    }
}

/// Exponential backoff with jitter between reconnect attempts to one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// Delay after the first failure; doubled after each further one.
    pub base: Duration,
    /// Upper bound of the delay.
    pub max: Duration,
    /// Pick each delay uniformly from `[d/2, d]`, so clients that lost the same server
    /// do not reconnect in lockstep.
    pub jitter: bool,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self { base: DEFAULT_BACKOFF_BASE, max: DEFAULT_BACKOFF_MAX, jitter: true }
    }
}

impl ReconnectPolicy {
    /// The delay before the next attempt after `failures` consecutive failures
    /// (zero failures: no delay).
    pub fn delay(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        // 2^31 x base overflows any sane max long before, so cap the shift.
        let factor = 1u32 << (failures - 1).min(31);
        let full = self.base.saturating_mul(factor).min(self.max);
        if !self.jitter || full.is_zero() {
            return full;
        }
        rand::thread_rng().gen_range(full / 2..=full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_doubles_up_to_max_without_jitter() {
        let p = ReconnectPolicy { jitter: false, ..Default::default() };
        assert_eq!(p.delay(0), Duration::ZERO);
        assert_eq!(p.delay(1), Duration::from_millis(50));
        assert_eq!(p.delay(2), Duration::from_millis(100));
        assert_eq!(p.delay(4), Duration::from_millis(400));
        assert_eq!(p.delay(30), DEFAULT_BACKOFF_MAX);
        assert_eq!(p.delay(u32::MAX), DEFAULT_BACKOFF_MAX);
    }

    #[test]
    fn jitter_stays_within_half_to_full() {
        let p = ReconnectPolicy::default();
        for failures in 1..12 {
            let full = ReconnectPolicy { jitter: false, ..p }.delay(failures);
            let d = p.delay(failures);
            assert!(d >= full / 2 && d <= full, "{failures}: {d:?} vs {full:?}");
        }
    }
}
