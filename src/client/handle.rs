//! [`Client`]: the async handle users hold, with one method per operation, failover
//! between addresses and per-call timeouts.
//!
//! Owns argument checking (via [`super::request`]), address failover and metrics; the
//! connections themselves belong to one [`Pool`] per address.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;
use tracing::info;

use super::Error;
use super::builder::ClientBuilder;
use super::connection::Connection;
use super::metrics::{ClientMetrics, Metrics};
use super::pipeline::Pipeline;
use super::pool::Pool;
use super::reply::{self, TtlState};
use super::request::Request;
use super::stats::Stats;
use crate::protocol::Limits;
use crate::protocol::binary::ResponseFrame;
use crate::protocol::text::RespValue;

/// State shared by every clone of a [`Client`].
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) pools: Box<[Pool]>,
    /// Index of the address currently in use; moves on when connecting to it fails.
    pub(crate) active: AtomicUsize,
    pub(crate) limits: Limits,
    pub(crate) metrics: Metrics,
}

/// An async shale client. Cheap to clone (an `Arc` inside); clones share connections.
///
/// Keys and values accept anything `Into<Bytes>`: `&'static str`, `&'static [u8]`,
/// `String`, `Vec<u8>` and `Bytes` convert without copying. For borrowed data that is
/// not `'static`, pass `Bytes::copy_from_slice(data)`.
///
/// Every call has a deadline, connection setup included: the client's request timeout,
/// or the one given to [`Client::with_timeout`]. Connections close when the last clone
/// is dropped.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
    timeout: Duration,
}

impl Client {
    pub(crate) fn from_parts(inner: Inner, timeout: Duration) -> Self {
        Self { inner: Arc::new(inner), timeout }
    }

    /// Connects to one address with default settings, failing if it is unreachable.
    /// Use [`Client::builder`] for several addresses or other settings.
    pub async fn connect(addr: impl Into<String>) -> Result<Self, Error> {
        Self::builder().addr(addr).connect().await
    }

    /// A builder with the documented defaults and no address yet.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A handle sharing this client's connections whose calls use `timeout` instead.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let server = shale::server::Server::start(shale::server::ServerConfig::loopback(0)).await.unwrap();
    /// # let client = shale::client::Client::connect(server.local_addr().to_string()).await.unwrap();
    /// use std::time::Duration;
    ///
    /// let patient = client.with_timeout(Duration::from_secs(5));
    /// patient.set("report", "big").await.expect("set within 5 s");
    /// # }
    /// ```
    pub fn with_timeout(&self, timeout: Duration) -> Client {
        Self { inner: self.inner.clone(), timeout }
    }

    /// The deadline each call of this handle gets.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The key and value limits checked before sending.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// A snapshot of this client's request counters and latencies.
    pub fn metrics(&self) -> ClientMetrics {
        let reconnects = self.inner.pools.iter().map(Pool::reconnects).sum();
        self.inner.metrics.snapshot(reconnects)
    }

    /// A pipeline: several operations sent in one write, answered in order.
    pub fn pipeline(&self) -> Pipeline {
        Pipeline::new(self.clone())
    }

    /// The value of `key`, or `None` if it is absent or expired.
    pub async fn get(&self, key: impl Into<Bytes>) -> Result<Option<Bytes>, Error> {
        let req = Request::get(key.into(), &self.inner.limits)?;
        self.run(req, reply::get).await
    }

    /// Sets `key` to `value`, with no expiry (replacing any earlier TTL).
    pub async fn set(&self, key: impl Into<Bytes>, value: impl Into<Bytes>) -> Result<(), Error> {
        let req = Request::set(key.into(), value.into(), None, &self.inner.limits)?;
        self.run(req, reply::set).await
    }

    /// Sets `key` to `value`, expiring after `ttl` (rounded up to whole milliseconds;
    /// zero is an [`Error::InvalidArgument`]).
    pub async fn set_ttl(
        &self,
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
        ttl: Duration,
    ) -> Result<(), Error> {
        let req = Request::set(key.into(), value.into(), Some(ttl), &self.inner.limits)?;
        self.run(req, reply::set).await
    }

    /// Removes `key`; `true` if it existed.
    pub async fn del(&self, key: impl Into<Bytes>) -> Result<bool, Error> {
        let req = Request::del(key.into(), &self.inner.limits)?;
        self.run(req, reply::del).await
    }

    /// The remaining time to live of `key`: `None` if the key is absent, `Some(None)` if
    /// it exists without expiry, `Some(Some(d))` if it expires in `d`.
    /// [`Client::ttl_state`] returns the same as an enum.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let server = shale::server::Server::start(shale::server::ServerConfig::loopback(0)).await.unwrap();
    /// # let client = shale::client::Client::connect(server.local_addr().to_string()).await.unwrap();
    /// use std::time::Duration;
    ///
    /// assert_eq!(client.ttl("nope").await.unwrap(), None);
    /// client.set("forever", "v").await.unwrap();
    /// assert_eq!(client.ttl("forever").await.unwrap(), Some(None));
    /// client.set_ttl("brief", "v", Duration::from_secs(60)).await.unwrap();
    /// let left = client.ttl("brief").await.unwrap().flatten().expect("has a ttl");
    /// assert!(left <= Duration::from_secs(60));
    /// # }
    /// ```
    pub async fn ttl(&self, key: impl Into<Bytes>) -> Result<Option<Option<Duration>>, Error> {
        Ok(self.ttl_state(key).await?.into_option())
    }

    /// The time to live of `key` as a [`TtlState`].
    pub async fn ttl_state(&self, key: impl Into<Bytes>) -> Result<TtlState, Error> {
        let req = Request::ttl(key.into(), &self.inner.limits)?;
        self.run(req, reply::ttl).await
    }

    /// Round-trips a PING and returns how long it took.
    pub async fn ping(&self) -> Result<Duration, Error> {
        let started = Instant::now();
        self.run(Request::ping(), reply::ping).await?;
        Ok(started.elapsed())
    }

    /// The server's statistics (the STATS operation). For this client's own counters
    /// see [`Client::metrics`].
    pub async fn stats(&self) -> Result<Stats, Error> {
        self.run(Request::stats(), reply::stats).await
    }

    /// Runs any command, given as its argument vector (`["INCRBY", "hits", "5"]`), through
    /// the binary protocol's CMD opcode, and returns its reply with every RESP3 type kept.
    /// An error reply is an [`Error::Server`] with Redis's message, as for the typed calls.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let server = shale::server::Server::start(shale::server::ServerConfig::loopback(0)).await.unwrap();
    /// # let client = shale::client::Client::connect(server.local_addr().to_string()).await.unwrap();
    /// use shale::client::RespValue;
    ///
    /// client.set("k", "v").await.unwrap();
    /// assert_eq!(client.cmd(&["EXISTS", "k", "nope"]).await.unwrap(), RespValue::Int(1));
    /// let err = client.cmd(&["SELECT", "3"]).await.unwrap_err();
    /// assert_eq!(err.message(), Some("DB index is out of range"));
    /// # }
    /// ```
    pub async fn cmd<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<RespValue, Error> {
        let req = Request::cmd(args, &self.inner.limits)?;
        self.run(req, reply::cmd).await
    }

    /// Sends one request within this handle's timeout, decodes the reply and records it.
    async fn run<T>(
        &self,
        req: Request,
        decode: fn(ResponseFrame) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let started = Instant::now();
        let deadline = started + self.timeout;
        let result = match self.connection(deadline).await {
            Ok(conn) => conn.call_until(req.frame, deadline).await.and_then(decode),
            Err(e) => Err(e),
        };
        self.inner.metrics.record(started.elapsed(), result.as_ref().err());
        result
    }

    /// A connection to the active address, failing over to the next addresses in order
    /// when connecting fails. Only connect failures move on: a request that may have
    /// reached a server is never silently resent elsewhere.
    pub(crate) async fn connection(&self, deadline: Instant) -> Result<Arc<Connection>, Error> {
        let pools = &self.inner.pools;
        let first = self.inner.active.load(Ordering::Relaxed);
        let mut last = Error::NoAddresses;
        for k in 0..pools.len() {
            let i = (first + k) % pools.len();
            match pools[i].connection(deadline).await {
                Ok(conn) => {
                    // Only the first caller to notice moves the index, so racing
                    // failovers can't bounce it back.
                    let moved = self.inner.active.compare_exchange(
                        first,
                        i,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    );
                    if k > 0 && moved.is_ok() {
                        info!(
                            from = pools[first % pools.len()].addr(),
                            to = pools[i].addr(),
                            "shale client failed over"
                        );
                    }
                    return Ok(conn);
                }
                Err(e @ Error::Connect { .. }) => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// A connection of its own to the active address (for a transaction), failing over
    /// like [`Client::connection`] only when connecting fails.
    pub(crate) async fn dedicated(&self, deadline: Instant) -> Result<Connection, Error> {
        let pools = &self.inner.pools;
        let first = self.inner.active.load(Ordering::Relaxed);
        let mut last = Error::NoAddresses;
        for k in 0..pools.len() {
            match pools[(first + k) % pools.len()].dedicated(deadline).await {
                Ok(conn) => return Ok(conn),
                Err(e @ Error::Connect { .. }) => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// Records one completed request in this client's metrics.
    pub(crate) fn record(&self, latency: Duration, error: Option<&Error>) {
        self.inner.metrics.record(latency, error);
    }
}
