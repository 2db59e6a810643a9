//! [`Driver`]: one benchmark connection, whichever protocol it speaks, running a batch of
//! [`Op`]s and reporting one [`Outcome`] each.
//!
//! Owns the mapping from ops to protocol calls: the binary side goes through
//! [`crate::client::Client`] (one multiplexed connection per driver, a
//! [`crate::client::Pipeline`] per batch), the RESP side through [`RespConn`]. Timing and
//! recording belong to the caller.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::args::{OpKind, Proto};
use super::resp::RespConn;
use crate::client::{Client, Value};
use crate::tls::TlsConnector;

/// Deadline of one batch. Generous, because a closed loop that stalls is itself the finding.
pub const BATCH_TIMEOUT: Duration = Duration::from_secs(5);

/// One request to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    /// What to do.
    pub kind: OpKind,
    /// The key.
    pub key: Bytes,
    /// The value (SET only; empty otherwise).
    pub value: Bytes,
}

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Success (a GET that found its key included).
    Ok,
    /// A GET that found nothing.
    Miss,
    /// An error reply, timeout or connection failure.
    Failed,
}

/// A connection to the server under test.
#[derive(Debug)]
pub enum Driver {
    /// shale's binary protocol; SETs use the TTL if any.
    Binary {
        /// A client with exactly one connection.
        client: Client,
        /// Expiry for SETs.
        ttl: Option<Duration>,
    },
    /// Redis RESP2 (boxed: its buffers make it much larger than a client handle).
    Resp(Box<RespConn>),
}

impl Driver {
    /// A driver for `addr` that connects lazily; the same settings in both protocols.
    pub fn new(
        proto: Proto,
        addr: &str,
        tls: Option<Arc<TlsConnector>>,
        ttl: Option<Duration>,
        max_value: usize,
    ) -> Result<Self, crate::client::Error> {
        Ok(match proto {
            Proto::Binary => {
                let mut builder = Client::builder();
                if let Some(tls) = tls {
                    builder = builder.tls_connector(tls);
                }
                let client = builder
                    .addr(addr)
                    .connections_per_addr(1)
                    .request_timeout(BATCH_TIMEOUT)
                    .limits(crate::protocol::Limits {
                        max_value_size: max_value
                            .max(crate::protocol::Limits::default().max_value_size),
                        ..Default::default()
                    })
                    .build()?;
                Driver::Binary { client, ttl }
            }
            Proto::Resp => Driver::Resp(Box::new(RespConn::new(
                addr.to_owned(),
                tls,
                ttl,
                max_value,
                BATCH_TIMEOUT,
            ))),
        })
    }

    /// Opens the connection now, so connecting is not timed as part of the first batch.
    pub async fn connect(&mut self) -> Result<(), String> {
        match self {
            Driver::Binary { client, .. } => client.ping().await.map(drop).map_err(|e| match e {
                // The caller names the address.
                crate::client::Error::Connect { source, .. } => source.to_string(),
                other => other.to_string(),
            }),
            Driver::Resp(conn) => conn.connect().await.map_err(|e| e.to_string()),
        }
    }

    /// Runs `ops` as one batch (one pipeline) and appends one outcome per op to `out`.
    pub async fn batch(&mut self, ops: &[Op], out: &mut Vec<Outcome>) {
        match self {
            Driver::Binary { client, ttl } => match ops {
                [op] => out.push(single(client, *ttl, op).await),
                _ => pipelined(client, *ttl, ops, out).await,
            },
            Driver::Resp(conn) => conn.batch(ops, out).await,
        }
    }
}

/// One op as a direct call, skipping the pipeline's bookkeeping.
async fn single(client: &Client, ttl: Option<Duration>, op: &Op) -> Outcome {
    let key = op.key.clone();
    let done = match (op.kind, ttl) {
        (OpKind::Get, _) => client.get(key).await.map(|v| v.is_some()),
        (OpKind::Set, None) => client.set(key, op.value.clone()).await.map(|()| true),
        (OpKind::Set, Some(t)) => client.set_ttl(key, op.value.clone(), t).await.map(|()| true),
        (OpKind::Del, _) => client.del(key).await.map(|_| true),
    };
    match done {
        Ok(true) => Outcome::Ok,
        Ok(false) => Outcome::Miss,
        Err(_) => Outcome::Failed,
    }
}

async fn pipelined(client: &Client, ttl: Option<Duration>, ops: &[Op], out: &mut Vec<Outcome>) {
    let mut pipe = client.pipeline();
    for op in ops {
        let key = op.key.clone();
        pipe = match (op.kind, ttl) {
            (OpKind::Get, _) => pipe.get(key),
            (OpKind::Set, None) => pipe.set(key, op.value.clone()),
            (OpKind::Set, Some(t)) => pipe.set_ttl(key, op.value.clone(), t),
            (OpKind::Del, _) => pipe.del(key),
        };
    }
    match pipe.execute().await {
        Ok(results) => out.extend(results.into_iter().map(|r| match r {
            Ok(Value::Get(None)) => Outcome::Miss,
            Ok(_) => Outcome::Ok,
            Err(_) => Outcome::Failed,
        })),
        Err(_) => out.extend(ops.iter().map(|_| Outcome::Failed)),
    }
}
