//! A synchronous [`Client`] for code without an async runtime: the same methods, each
//! blocking until its result.
//!
//! It owns a small tokio runtime (one worker thread) that runs the connections' reader
//! and writer tasks; each call blocks the calling thread on the async client. Clones
//! share the runtime and the connections, and may be used from many threads at once.
//!
//! Use it from plain threads only. Inside an async runtime, blocking a worker thread
//! stalls other tasks, so every method returns [`Error::InvalidArgument`] there instead;
//! use the async [`super::Client`].
//!
//! ```
//! # let rt = tokio::runtime::Runtime::new().unwrap();
//! # let server = rt.block_on(shale::server::Server::start(shale::server::ServerConfig::loopback(0))).unwrap();
//! # let addr = server.local_addr().to_string();
//! use shale::client::blocking::Client;
//!
//! let client = Client::connect(addr).expect("connects");
//! client.set("greeting", "hello").unwrap();
//! assert_eq!(client.get("greeting").unwrap().as_deref(), Some(&b"hello"[..]));
//! let handle = std::thread::spawn({
//!     let client = client.clone();
//!     move || client.del("greeting").unwrap()
//! });
//! assert!(handle.join().unwrap());
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::runtime::{Handle, Runtime};

use super::{ClientBuilder, ClientMetrics, Error, RespValue, Stats, TtlState, Value};

mod keyspace;

pub use keyspace::Transaction;

/// Shuts its runtime down without waiting, so dropping the last client never blocks and
/// never panics (not even when dropped inside another runtime by mistake).
#[derive(Debug)]
struct Rt(Option<Runtime>);

impl Drop for Rt {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl Rt {
    fn block<T>(&self, fut: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
        if Handle::try_current().is_ok() {
            let msg = "shale::client::blocking::Client used inside an async runtime; use shale::client::Client";
            return Err(Error::InvalidArgument(msg.into()));
        }
        match &self.0 {
            Some(rt) => rt.block_on(fut),
            None => Err(Error::InvalidArgument("runtime already shut down".into())),
        }
    }
}

/// A blocking shale client; see the [module docs](self). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    // Declared before `rt` so connections are dropped before the runtime goes.
    inner: super::Client,
    rt: Arc<Rt>,
}

impl Client {
    /// Connects to one address with default settings.
    pub fn connect(addr: impl Into<String>) -> Result<Self, Error> {
        Self::from_builder(super::Client::builder().addr(addr))
    }

    /// Connects with the settings of an async [`ClientBuilder`].
    pub fn from_builder(builder: ClientBuilder) -> Result<Self, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("shale-client")
            .enable_all()
            .build()?;
        let rt = Rt(Some(runtime));
        let inner = rt.block(builder.connect())?;
        Ok(Self { inner, rt: Arc::new(rt) })
    }

    /// A handle sharing this client's connections whose calls use `timeout` instead.
    pub fn with_timeout(&self, timeout: Duration) -> Client {
        Self { inner: self.inner.with_timeout(timeout), rt: self.rt.clone() }
    }

    /// The value of `key`, or `None` if absent. See [`super::Client::get`].
    pub fn get(&self, key: impl Into<Bytes>) -> Result<Option<Bytes>, Error> {
        self.rt.block(self.inner.get(key))
    }

    /// Sets `key` to `value` without expiry. See [`super::Client::set`].
    pub fn set(&self, key: impl Into<Bytes>, value: impl Into<Bytes>) -> Result<(), Error> {
        self.rt.block(self.inner.set(key, value))
    }

    /// Sets `key` to `value` expiring after `ttl`. See [`super::Client::set_ttl`].
    pub fn set_ttl(
        &self,
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
        ttl: Duration,
    ) -> Result<(), Error> {
        self.rt.block(self.inner.set_ttl(key, value, ttl))
    }

    /// Removes `key`; `true` if it existed. See [`super::Client::del`].
    pub fn del(&self, key: impl Into<Bytes>) -> Result<bool, Error> {
        self.rt.block(self.inner.del(key))
    }

    /// Time to live: `None` absent, `Some(None)` no expiry. See [`super::Client::ttl`].
    pub fn ttl(&self, key: impl Into<Bytes>) -> Result<Option<Option<Duration>>, Error> {
        self.rt.block(self.inner.ttl(key))
    }

    /// Time to live as a [`TtlState`]. See [`super::Client::ttl_state`].
    pub fn ttl_state(&self, key: impl Into<Bytes>) -> Result<TtlState, Error> {
        self.rt.block(self.inner.ttl_state(key))
    }

    /// Round-trip time of a PING. See [`super::Client::ping`].
    pub fn ping(&self) -> Result<Duration, Error> {
        self.rt.block(self.inner.ping())
    }

    /// The server's statistics. See [`super::Client::stats`].
    pub fn stats(&self) -> Result<Stats, Error> {
        self.rt.block(self.inner.stats())
    }

    /// Any command as its argument vector. See [`super::Client::cmd`].
    pub fn cmd<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<RespValue, Error> {
        self.rt.block(self.inner.cmd(args))
    }

    /// This client's own counters and latencies.
    pub fn metrics(&self) -> ClientMetrics {
        self.inner.metrics()
    }

    /// Blocks on `f` run with the async client: how the typed methods of other files
    /// (`blocking_strings.rs`) mirror theirs.
    pub(super) fn block<'a, T, F>(
        &'a self,
        f: impl FnOnce(&'a super::Client) -> F,
    ) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>>,
    {
        self.rt.block(f(&self.inner))
    }

    /// A pipeline executed with [`Pipeline::execute`].
    pub fn pipeline(&self) -> Pipeline {
        Pipeline { inner: self.inner.pipeline(), rt: self.rt.clone() }
    }
}

/// The blocking form of [`super::Pipeline`].
#[derive(Debug)]
#[must_use = "a pipeline does nothing until executed"]
pub struct Pipeline {
    inner: super::Pipeline,
    rt: Arc<Rt>,
}

impl Pipeline {
    fn map(self, f: impl FnOnce(super::Pipeline) -> super::Pipeline) -> Self {
        Self { inner: f(self.inner), rt: self.rt }
    }

    /// Adds GET `key`.
    pub fn get(self, key: impl Into<Bytes>) -> Self {
        self.map(|p| p.get(key))
    }

    /// Adds SET `key` `value`.
    pub fn set(self, key: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        self.map(|p| p.set(key, value))
    }

    /// Adds SET with a TTL.
    pub fn set_ttl(self, key: impl Into<Bytes>, value: impl Into<Bytes>, ttl: Duration) -> Self {
        self.map(|p| p.set_ttl(key, value, ttl))
    }

    /// Adds DEL `key`.
    pub fn del(self, key: impl Into<Bytes>) -> Self {
        self.map(|p| p.del(key))
    }

    /// Adds TTL `key`.
    pub fn ttl(self, key: impl Into<Bytes>) -> Self {
        self.map(|p| p.ttl(key))
    }

    /// Adds PING.
    pub fn ping(self) -> Self {
        self.map(super::Pipeline::ping)
    }

    /// Adds STATS.
    pub fn stats(self) -> Self {
        self.map(super::Pipeline::stats)
    }

    /// Adds any command. See [`super::Client::cmd`].
    pub fn cmd<A: AsRef<[u8]>>(self, args: &[A]) -> Self {
        self.map(|p| p.cmd(args))
    }

    /// Sends everything in one write and blocks for the results, in order. See
    /// [`super::Pipeline::execute`].
    pub fn execute(self) -> Result<Vec<Result<Value, Error>>, Error> {
        self.rt.block(self.inner.execute())
    }
}
