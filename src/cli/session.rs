//! [`Session`]: the CLI's connection to one server, opened lazily and dropped on failure.
//!
//! Every command goes through one [`Client`]: typed operations by their opcodes, the rest
//! with the CMD opcode. The client is dropped when a call fails for connection reasons
//! (refused, closed, timed out, garbled reply), so the next command reconnects from
//! scratch: that is the REPL's "not connected" state. The client's own reconnect backoff
//! is bypassed on purpose, since a person retrying by hand should not be told the address
//! is "in backoff". MONITOR needs a streaming text connection, which the CLI does not
//! keep: use `redis-cli monitor` for it.
//!
//! Owns turning client results into [`Reply`] values; printing is [`super::output`]'s.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::CliError;
use super::request::{Op, Request};
use crate::client::dialect::{DIALECT_PROBE_TIMEOUT, Dialect, probe, redis_text_message};
use crate::client::{self, Client, TtlState};
use crate::cmd::expiry::TtlUnit;
use crate::protocol::text::to_reply;
use crate::protocol::{ErrorReply, Reply};
use crate::tls::TlsConnector;

/// Connections to one server address.
#[derive(Debug)]
pub struct Session {
    addr: String,
    timeout: Duration,
    password: Option<Bytes>,
    tls: Option<Arc<TlsConnector>>,
    client: Option<Client>,
}

impl Session {
    /// A session that connects on first use. `timeout` bounds connecting and each reply.
    pub fn new(addr: String, timeout: Duration) -> Self {
        Self { addr, timeout, password: None, tls: None, client: None }
    }

    /// Speak TLS (`--tls`, `shales://`).
    pub fn with_tls(mut self, tls: Option<Arc<TlsConnector>>) -> Self {
        self.tls = tls;
        self
    }

    /// Authenticate with `password` as soon as the connection opens (`-a`).
    pub fn with_password(mut self, password: Option<Bytes>) -> Self {
        self.password = password;
        self
    }

    /// The address, as shown in the prompt.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Whether a connection is open (as far as is known without sending anything).
    pub fn is_connected(&self) -> bool {
        self.client.is_some()
    }

    /// Opens the binary connection now, so an unreachable server is reported up front.
    pub async fn connect(&mut self) -> Result<(), CliError> {
        self.client().await.map(drop)
    }

    /// Drops every connection; the next call reconnects.
    pub fn disconnect(&mut self) {
        self.client = None;
    }

    /// Sends one request and returns the reply. Error replies are `Ok`; `Err` means no
    /// reply could be had, and the connections have been dropped.
    pub async fn execute(&mut self, request: &Request) -> Result<Reply, CliError> {
        let result = match request {
            Request::Cmd(args) => self.cmd_call(args).await,
            Request::Binary(op) => self.binary_call(op).await,
        };
        if result.as_ref().is_err_and(CliError::loses_connection) {
            self.disconnect();
        }
        result
    }

    /// One PING round trip over the binary connection, for `--latency`.
    pub async fn ping(&mut self) -> Result<Duration, CliError> {
        let client = self.client().await?;
        let result = client.ping().await.map_err(|e| self.failure(e));
        if result.is_err() {
            self.disconnect();
        }
        result
    }

    async fn client(&mut self) -> Result<Client, CliError> {
        if let Some(client) = &self.client {
            return Ok(client.clone());
        }
        let mut builder = Client::builder()
            .addr(self.addr.clone())
            .connect_timeout(self.timeout)
            .request_timeout(self.timeout)
            .connections_per_addr(1);
        if let Some(password) = &self.password {
            builder = builder.password(password.clone());
        }
        // A Redis-text port never answers a binary request: say so instead of timing out.
        let wait = self.timeout.min(DIALECT_PROBE_TIMEOUT);
        if self.tls.is_none() && probe(&self.addr, wait).await == Dialect::RedisText {
            let hint = Some("use redis-cli for it");
            return Err(CliError::WrongProtocol(redis_text_message(&self.addr, hint)));
        }
        if let Some(tls) = &self.tls {
            builder = builder.tls_connector(tls.clone());
        }
        let client = builder.connect().await.map_err(|e| self.failure(e))?;
        self.client = Some(client.clone());
        Ok(client)
    }

    async fn binary_call(&mut self, op: &Op) -> Result<Reply, CliError> {
        let client = self.client().await?;
        let result = match op {
            Op::Ping => client.ping().await.map(|_| Reply::Simple("PONG")),
            Op::Get(key) => {
                client.get(key.clone()).await.map(|v| v.map_or(Reply::Nil, Reply::Bulk))
            }
            Op::Set { key, value, ttl: None } => {
                client.set(key.clone(), value.clone()).await.map(|()| Reply::Ok)
            }
            Op::Set { key, value, ttl: Some(ttl) } => {
                client.set_ttl(key.clone(), value.clone(), *ttl).await.map(|()| Reply::Ok)
            }
            Op::Del(key) => client.del(key.clone()).await.map(|gone| Reply::Int(gone.into())),
            Op::Ttl(key, unit) => client.ttl_state(key.clone()).await.map(|t| ttl_reply(t, *unit)),
            Op::Stats => client.stats().await.map(|stats| {
                let field = |s: &str| Reply::Bulk(s.to_owned().into());
                Reply::Map(stats.iter().map(|(k, v)| (field(k), field(v))).collect())
            }),
        };
        match result {
            Ok(reply) => Ok(reply),
            Err(e) => self.error_reply(e),
        }
    }

    /// Server error statuses and arguments the client refused to send are replies; the
    /// rest are failures to get one.
    fn error_reply(&self, e: client::Error) -> Result<Reply, CliError> {
        match e {
            client::Error::Server { status, message } => {
                Ok(Reply::Error(ErrorReply::new(status, message)))
            }
            e @ (client::Error::KeyTooLarge { .. }
            | client::Error::ValueTooLarge { .. }
            | client::Error::InvalidArgument(_)) => {
                Ok(Reply::Error(ErrorReply::invalid(e.to_string())))
            }
            e => Err(self.failure(e)),
        }
    }

    fn failure(&self, e: client::Error) -> CliError {
        match e {
            client::Error::Connect { addr, source } => CliError::connect(&addr, &source),
            client::Error::Timeout => CliError::Timeout(self.timeout),
            client::Error::Auth { status, message, .. } => {
                CliError::Auth(ErrorReply::new(status, message).to_string())
            }
            other => CliError::Connection(other.to_string()),
        }
    }

    async fn cmd_call(&mut self, args: &[Bytes]) -> Result<Reply, CliError> {
        let client = self.client().await?;
        match client.cmd(args).await {
            Ok(value) => Ok(to_reply(value)),
            Err(e) => self.error_reply(e),
        }
    }
}

/// Redis's TTL answers: -2 absent, -1 no expiry, else the time left, rounded to the
/// nearest second for TTL as Redis does (so `SET .. EX 10` then `TTL` says 10).
fn ttl_reply(ttl: TtlState, unit: TtlUnit) -> Reply {
    let left = match ttl {
        TtlState::Missing => return Reply::Int(-2),
        TtlState::Persistent => return Reply::Int(-1),
        TtlState::Expires(left) => left.as_millis(),
    };
    let n = match unit {
        TtlUnit::Seconds => (left + 500) / 1000,
        TtlUnit::Millis => left,
    };
    Reply::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_replies_match_redis() {
        let ms = Duration::from_millis;
        // (state, unit, reply)
        let cases = [
            (TtlState::Missing, TtlUnit::Seconds, -2),
            (TtlState::Persistent, TtlUnit::Millis, -1),
            (TtlState::Expires(ms(9_999)), TtlUnit::Seconds, 10),
            (TtlState::Expires(ms(9_400)), TtlUnit::Seconds, 9),
            (TtlState::Expires(ms(1_234)), TtlUnit::Millis, 1_234),
        ];
        for (state, unit, want) in cases {
            assert_eq!(ttl_reply(state, unit), Reply::Int(want), "{state:?} {unit:?}");
        }
    }
}
