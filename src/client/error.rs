//! The client's error type: what went wrong, whether it was a timeout, whether the
//! connection is to blame, and whether retrying is safe.
//!
//! Owns classification only; the layers that raise each variant are [`super::Connection`]
//! (connect, timeout, connection loss, bad replies), the request builders (client-side
//! limit checks) and reply decoding (server error statuses).

use std::io;

use crate::protocol::Status;

/// Everything a client call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request's deadline passed before a reply arrived. The request may or may not
    /// have been applied by the server.
    #[error("request timed out")]
    Timeout,
    /// No connection could be established (refused, unreachable, connect timeout, or the
    /// address is in reconnect backoff). The request was not sent.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The address as configured (`host:port`).
        addr: String,
        /// Why; `io::ErrorKind::TimedOut` for a connect timeout.
        #[source]
        source: io::Error,
    },
    /// The connection died while the request was queued or in flight; it is
    /// re-established lazily by the next call. The request may or may not have been applied.
    #[error("connection to {addr} closed: {reason}")]
    ConnectionClosed {
        /// The address of the dead connection.
        addr: String,
        /// What killed it (peer closed, write error, a protocol violation, ...).
        reason: String,
    },
    /// The reply to this request was malformed (wrong payload shape, unknown status). The
    /// connection it arrived on was torn down, because its stream can no longer be trusted.
    #[error("bad reply: {0}")]
    Protocol(String),
    /// The server answered with an error status.
    #[error("server error ({}): {message}", status.name())]
    Server {
        /// The status byte the server sent.
        status: Status,
        /// The server's UTF-8 message (lossily decoded).
        message: String,
    },
    /// The server did not accept the configured password (a wrong one, or a server without
    /// a password): the connection was closed before any request used it. Not retryable:
    /// the same password fails again. A server that wants a password the client lacks
    /// answers each request with [`Error::Server`] status NOAUTH instead.
    #[error("authentication to {addr} failed ({}): {message}", status.name())]
    Auth {
        /// The address that refused.
        addr: String,
        /// The status of the AUTH reply (NOAUTH for a wrong password).
        status: Status,
        /// The server's message.
        message: String,
    },
    /// The key exceeds the configured limit; caught before sending.
    #[error("key too large: {len} bytes, max {max}")]
    KeyTooLarge {
        /// Key length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The value exceeds the configured limit; caught before sending.
    #[error("value too large: {len} bytes, max {max}")]
    ValueTooLarge {
        /// Value length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An argument is unusable (empty key, zero TTL, bad configuration, misuse); caught
    /// before sending.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The client was built without any address.
    #[error("no server addresses configured")]
    NoAddresses,
    /// The connection already has its maximum number of requests in flight.
    #[error("too many requests in flight on one connection (limit {limit})")]
    InFlightLimit {
        /// The configured per-connection limit.
        limit: usize,
    },
    /// [`Client::transaction`](super::Client::transaction) gave up: a watched key changed
    /// before each of its EXECs.
    #[error("transaction aborted {attempts} times by changes to its watched keys")]
    TransactionConflict {
        /// EXECs tried.
        attempts: usize,
    },
    /// A local I/O failure unrelated to any connection (for example the blocking
    /// client could not start its runtime).
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Error {
    /// The same failure again, for each of several requests one failure ended (an I/O
    /// error keeps its kind and text).
    pub(crate) fn duplicate(&self) -> Error {
        let io = |e: &io::Error| io::Error::new(e.kind(), e.to_string());
        match self {
            Error::Timeout => Error::Timeout,
            Error::Connect { addr, source } => {
                Error::Connect { addr: addr.clone(), source: io(source) }
            }
            Error::ConnectionClosed { addr, reason } => {
                Error::ConnectionClosed { addr: addr.clone(), reason: reason.clone() }
            }
            Error::Protocol(why) => Error::Protocol(why.clone()),
            Error::Server { status, message } => {
                Error::Server { status: *status, message: message.clone() }
            }
            Error::Auth { addr, status, message } => {
                Error::Auth { addr: addr.clone(), status: *status, message: message.clone() }
            }
            Error::KeyTooLarge { len, max } => Error::KeyTooLarge { len: *len, max: *max },
            Error::ValueTooLarge { len, max } => Error::ValueTooLarge { len: *len, max: *max },
            Error::InvalidArgument(why) => Error::InvalidArgument(why.clone()),
            Error::NoAddresses => Error::NoAddresses,
            Error::InFlightLimit { limit } => Error::InFlightLimit { limit: *limit },
            Error::TransactionConflict { attempts } => {
                Error::TransactionConflict { attempts: *attempts }
            }
            Error::Io(e) => Error::Io(io(e)),
        }
    }

    /// Whether the request's deadline passed.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout)
    }

    /// Whether the failure is the connection's: it could not be opened, it died, or it
    /// was reset because of a malformed reply.
    pub fn is_connection_error(&self) -> bool {
        matches!(self, Error::Connect { .. } | Error::ConnectionClosed { .. } | Error::Protocol(_))
    }

    /// Whether retrying the same call may succeed.
    ///
    /// True for timeouts and connection errors, for a full in-flight table, and for the
    /// BUSY, UNAVAILABLE and TIMEOUT statuses. After a timeout or a lost connection the
    /// first attempt may already have been applied: a retry is safe for commands whose
    /// effect does not depend on the old value (GET, SET, DEL, EXPIRE ...), not for INCR,
    /// APPEND and the like, which a retry could apply twice. Client-side argument errors
    /// and other server statuses are not retryable: the same call fails again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Server { status, .. } => {
                matches!(status, Status::Busy | Status::Unavailable | Status::Timeout)
            }
            Error::InFlightLimit { .. } => true,
            other => other.is_timeout() || other.is_connection_error(),
        }
    }

    /// The server's status, for [`Error::Server`].
    pub fn status(&self) -> Option<Status> {
        match self {
            Error::Server { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server's message, for [`Error::Server`].
    pub fn message(&self) -> Option<&str> {
        match self {
            Error::Server { message, .. } => Some(message),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_table() {
        let server = |status| Error::Server { status, message: "m".into() };
        let closed = Error::ConnectionClosed { addr: "a".into(), reason: "r".into() };
        let connect = Error::Connect { addr: "a".into(), source: io::ErrorKind::Other.into() };
        // (error, timeout, connection, retryable)
        let table = [
            (Error::Timeout, true, false, true),
            (closed, false, true, true),
            (connect, false, true, true),
            (Error::Protocol("x".into()), false, true, true),
            (server(Status::Busy), false, false, true),
            (server(Status::Unavailable), false, false, true),
            (server(Status::Timeout), false, false, true),
            (server(Status::InvalidArgument), false, false, false),
            (Error::KeyTooLarge { len: 2, max: 1 }, false, false, false),
            (Error::NoAddresses, false, false, false),
            (
                Error::Auth { addr: "a".into(), status: Status::NoAuth, message: "m".into() },
                false,
                false,
                false,
            ),
        ];
        for (e, timeout, conn, retry) in table {
            assert_eq!(e.is_timeout(), timeout, "{e}");
            assert_eq!(e.is_connection_error(), conn, "{e}");
            assert_eq!(e.is_retryable(), retry, "{e}");
        }
    }

    #[test]
    fn status_and_message_only_for_server_errors() {
        let e = Error::Server { status: Status::Busy, message: "slow down".into() };
        assert_eq!(e.status(), Some(Status::Busy));
        assert_eq!(e.message(), Some("slow down"));
        assert_eq!(e.to_string(), "server error (busy): slow down");
        assert_eq!(Error::Timeout.status(), None);
        assert_eq!(Error::Timeout.message(), None);
    }
}
