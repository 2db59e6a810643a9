//! [`Transaction`]: MULTI/EXEC with WATCH from the client ([`Client::transaction`]).
//!
//! A client's pooled connections are shared by every task using it, and a server keeps a
//! connection's WATCHed keys and MULTI queue per connection; another task's EXEC on a
//! shared connection would end this one's watch. So a transaction gets a connection of its
//! own, opened for it and closed when it ends: reads between WATCH and EXEC go on it, and
//! the queued commands go in one write, `MULTI ... EXEC`, when [`Transaction::exec`] runs.
//!
//! EXEC answers `None` when a watched key changed (nothing ran). Retrying is the caller's
//! choice: open a new transaction, read again, queue again.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! # let server = shale::server::Server::start(shale::server::ServerConfig::loopback(0)).await.unwrap();
//! # let client = shale::client::Client::connect(server.local_addr().to_string()).await.unwrap();
//! use shale::client::RespValue;
//!
//! client.set("counter", "41").await.unwrap();
//! let replies = loop {
//!     let mut tx = client.transaction(&["counter"]).await.unwrap();
//!     let RespValue::Bulk(v) = tx.cmd(&["GET", "counter"]).await.unwrap() else { panic!() };
//!     let next = std::str::from_utf8(&v).unwrap().parse::<i64>().unwrap() + 1;
//!     tx.queue(&["SET", "counter", &next.to_string()]).unwrap();
//!     if let Some(replies) = tx.exec().await.unwrap() {
//!         break replies;
//!     }
//! };
//! assert_eq!(replies, vec![RespValue::Simple("OK".into())]);
//! # }
//! ```

use std::time::Duration;

use tokio::time::Instant;

use bytes::Bytes;

use super::connection::Connection;
use super::request::Request;
use super::{Client, Error, RespValue, reply};
use crate::protocol::Limits;
use crate::protocol::binary::RequestFrame;

/// A transaction in progress on a connection of its own; see the [module docs](self).
#[derive(Debug)]
pub struct Transaction {
    conn: Connection,
    limits: Limits,
    timeout: Duration,
    queued: Vec<RequestFrame>,
}

impl Client {
    /// Opens a transaction on a connection of its own, watching `watch` (may be empty):
    /// [`Transaction::exec`] then runs nothing if any of them changed meanwhile.
    pub async fn transaction<K: AsRef<[u8]>>(&self, watch: &[K]) -> Result<Transaction, Error> {
        let deadline = Instant::now() + self.timeout();
        let conn = self.dedicated(deadline).await?;
        let tx =
            Transaction { conn, limits: *self.limits(), timeout: self.timeout(), queued: vec![] };
        if !watch.is_empty() {
            let mut args = vec![Bytes::from_static(b"WATCH")];
            args.extend(watch.iter().map(|k| Bytes::copy_from_slice(k.as_ref())));
            tx.cmd(&args).await?;
        }
        Ok(tx)
    }
}

impl Transaction {
    /// Runs a command now on the transaction's connection (a read between WATCH and
    /// EXEC, typically).
    pub async fn cmd<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<RespValue, Error> {
        let req = Request::cmd(args, &self.limits)?;
        let deadline = Instant::now() + self.timeout;
        self.conn.call_until(req.frame, deadline).await.and_then(reply::cmd)
    }

    /// Queues a command for EXEC (nothing is sent yet). Size limits are checked here.
    pub fn queue<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<&mut Self, Error> {
        self.queued.push(Request::cmd(args, &self.limits)?.frame);
        Ok(self)
    }

    /// Sends `MULTI`, the queued commands and `EXEC` in one write. `Some(replies)` (one per
    /// queued command; a command that failed while running answers a
    /// [`RespValue::Error`]) or `None` if a watched key changed and nothing ran. A command
    /// the server refused to queue makes EXEC fail with its EXECABORT error.
    pub async fn exec(self) -> Result<Option<Vec<RespValue>>, Error> {
        let mut frames = Vec::with_capacity(self.queued.len() + 2);
        frames.push(Request::cmd(&["MULTI"], &self.limits)?.frame);
        frames.extend(self.queued);
        frames.push(Request::cmd(&["EXEC"], &self.limits)?.frame);
        let deadline = Instant::now() + self.timeout;
        let mut outcomes = self.conn.call_batch_until(frames, deadline).await;
        self.conn.close();
        let exec = outcomes.pop().ok_or_else(|| Error::Protocol("no EXEC reply".into()))?;
        match reply::cmd(exec?)? {
            RespValue::Nil => Ok(None),
            RespValue::Array(replies) => Ok(Some(replies)),
            other => Err(Error::Protocol(format!("unexpected EXEC reply: {other:?}"))),
        }
    }

    /// Gives up: nothing queued runs, and the connection closes (which forgets the watch).
    pub fn discard(self) {
        self.conn.close();
    }
}
