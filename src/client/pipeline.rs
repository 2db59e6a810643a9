//! [`Pipeline`]: several operations sent in one write on one connection, with one typed
//! result each, in order.
//!
//! Owns batching only; the connection sends the batch as one submission, so its frames
//! are never interleaved with other callers' or split across writes.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::Error;
use super::handle::Client;
use super::reply::{self, Value};
use super::request::{Kind, Request};
use crate::protocol::binary::ResponseFrame;

/// A batch of operations built with chained calls and sent by [`Pipeline::execute`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # let server = shale::server::Server::start(shale::server::ServerConfig::loopback(0)).await.unwrap();
/// # let client = shale::client::Client::connect(server.local_addr().to_string()).await.unwrap();
/// use shale::client::{TtlState, Value};
///
/// let results = client.pipeline().set("a", "1").get("a").del("a").ttl("a").execute().await.unwrap();
/// assert!(matches!(results[0], Ok(Value::Set)));
/// assert_eq!(results[1].as_ref().ok(), Some(&Value::Get(Some("1".into()))));
/// assert_eq!(results[2].as_ref().ok(), Some(&Value::Del(true)));
/// assert_eq!(results[3].as_ref().ok(), Some(&Value::Ttl(TtlState::Missing)));
/// # }
/// ```
#[derive(Debug)]
#[must_use = "a pipeline does nothing until executed"]
pub struct Pipeline {
    client: Client,
    ops: Vec<Result<Request, Error>>,
}

impl Pipeline {
    pub(crate) fn new(client: Client) -> Self {
        Self { client, ops: Vec::new() }
    }

    fn push(mut self, op: Result<Request, Error>) -> Self {
        self.ops.push(op);
        self
    }

    /// Adds GET `key`; its result is [`Value::Get`].
    pub fn get(self, key: impl Into<Bytes>) -> Self {
        let op = Request::get(key.into(), self.client.limits());
        self.push(op)
    }

    /// Adds SET `key` `value`; its result is [`Value::Set`].
    pub fn set(self, key: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        let op = Request::set(key.into(), value.into(), None, self.client.limits());
        self.push(op)
    }

    /// Adds SET with a TTL; its result is [`Value::Set`].
    pub fn set_ttl(self, key: impl Into<Bytes>, value: impl Into<Bytes>, ttl: Duration) -> Self {
        let op = Request::set(key.into(), value.into(), Some(ttl), self.client.limits());
        self.push(op)
    }

    /// Adds DEL `key`; its result is [`Value::Del`].
    pub fn del(self, key: impl Into<Bytes>) -> Self {
        let op = Request::del(key.into(), self.client.limits());
        self.push(op)
    }

    /// Adds TTL `key`; its result is [`Value::Ttl`].
    pub fn ttl(self, key: impl Into<Bytes>) -> Self {
        let op = Request::ttl(key.into(), self.client.limits());
        self.push(op)
    }

    /// Adds PING; its result is [`Value::Ping`] with the pipeline's round-trip time.
    pub fn ping(self) -> Self {
        self.push(Ok(Request::ping()))
    }

    /// Adds STATS; its result is [`Value::Stats`].
    pub fn stats(self) -> Self {
        self.push(Ok(Request::stats()))
    }

    /// Adds any command (see [`super::Client::cmd`]); its result is a [`Value::Cmd`].
    pub fn cmd<A: AsRef<[u8]>>(self, args: &[A]) -> Self {
        let req = Request::cmd(args, self.client.limits());
        self.push(req)
    }

    /// Number of operations added.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether no operation was added.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Sends every operation in one write and awaits all replies within the client's
    /// timeout. The outer `Err` means nothing was sent (no connection); otherwise each
    /// operation has its own result, in the order added. An operation whose arguments
    /// failed the client-side checks gets that error and is not sent.
    pub async fn execute(self) -> Result<Vec<Result<Value, Error>>, Error> {
        let started = Instant::now();
        let deadline = started + self.client.timeout();
        let mut results = Vec::with_capacity(self.ops.len());
        let (mut kinds, mut frames) = (Vec::new(), Vec::new());
        for op in self.ops {
            match op {
                Ok(req) => {
                    results.push(None);
                    kinds.push(req.kind);
                    frames.push(req.frame);
                }
                Err(e) => results.push(Some(Err(e))),
            }
        }
        if frames.is_empty() {
            return Ok(results.into_iter().flatten().collect());
        }
        let conn = match self.client.connection(deadline).await {
            Ok(conn) => conn,
            Err(e) => {
                for _ in &kinds {
                    self.client.record(started.elapsed(), Some(&e));
                }
                return Err(e);
            }
        };
        let outcomes = conn.call_batch_until(frames, deadline).await;
        let rtt = started.elapsed();
        let mut decoded = kinds.into_iter().zip(outcomes).map(|(kind, outcome)| {
            let value = outcome.and_then(|frame| decode(kind, frame, rtt));
            self.client.record(rtt, value.as_ref().err());
            value
        });
        let missing = || Err(Error::Protocol("pipeline reply missing".into()));
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| decoded.next().unwrap_or_else(missing)))
            .collect())
    }
}

fn decode(kind: Kind, frame: ResponseFrame, rtt: Duration) -> Result<Value, Error> {
    match kind {
        Kind::Get => reply::get(frame).map(Value::Get),
        Kind::Set => reply::set(frame).map(|()| Value::Set),
        Kind::Del => reply::del(frame).map(Value::Del),
        Kind::Ttl => reply::ttl(frame).map(Value::Ttl),
        Kind::Ping => reply::ping(frame).map(|()| Value::Ping(rtt)),
        Kind::Stats => reply::stats(frame).map(Value::Stats),
        Kind::Cmd => reply::cmd(frame).map(Value::Cmd),
    }
}
