//! [`CliError`]: why `shale cli` could not get a reply at all.
//!
//! Owns the wording users see on stderr. A reply that *is* an error (`-ERR ...`, a binary
//! error status, a bad argument caught before sending) is not a `CliError`: it is a
//! [`crate::protocol::Reply::Error`] and is printed like any other reply.

use std::io;
use std::time::Duration;

/// A failure to talk to the server, or to read the command to send.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The TCP connection could not be opened. Worded like redis-cli.
    #[error("Could not connect to shale at {addr}: {reason}")]
    Connect {
        /// The address as given (`host:port`).
        addr: String,
        /// The OS reason without the `(os error N)` suffix, e.g. `Connection refused`.
        reason: String,
    },
    /// No reply within the request timeout; the connection is dropped, because a late
    /// reply would otherwise be taken for the answer to the next command.
    #[error("Error: no reply within {0:?} (raise it with -t)")]
    Timeout(Duration),
    /// The connection broke, or the server sent bytes that are not a valid reply.
    #[error("Error: {0}")]
    Connection(String),
    /// The server refused the password given with `-a` / `SHALE_PASSWORD`. Worded like
    /// redis-cli (`AUTH failed: WRONGPASS ...`).
    #[error("AUTH failed: {0}")]
    Auth(String),
    /// The port speaks only Redis text (a redis-server), not shale's binary protocol.
    #[error("{0}")]
    WrongProtocol(String),
    /// The TLS flags or files are unusable.
    #[error("TLS: {0}")]
    Tls(String),
    /// The address given with `-u`, `-h`/`-p` or `SHALE_ADDR` is unusable.
    #[error("Invalid address '{input}': {why}")]
    Address {
        /// What was given.
        input: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// Reading commands or `-x` data from stdin failed.
    #[error("Error reading stdin: {0}")]
    Stdin(#[source] io::Error),
    /// Writing replies to stdout failed (a closed pipe, a full disk).
    #[error("Error writing output: {0}")]
    Output(#[source] io::Error),
    /// The line editor failed (terminal setup, history file).
    #[error("Error: line editor: {0}")]
    Editor(String),
}

impl CliError {
    /// A connect error from an `io::Error`, worded like `strerror` (no `(os error N)`).
    pub(crate) fn connect(addr: &str, source: &io::Error) -> Self {
        let text = source.to_string();
        let reason = match text.find(" (os error") {
            Some(cut) => text[..cut].to_owned(),
            None => text,
        };
        CliError::Connect { addr: addr.to_owned(), reason }
    }

    /// Whether the connection must be dropped and re-opened for the next command.
    pub(crate) fn loses_connection(&self) -> bool {
        matches!(
            self,
            CliError::Connect { .. }
                | CliError::Timeout(_)
                | CliError::Connection(_)
                | CliError::Auth(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_error_reads_like_redis_cli() {
        let source = io::Error::from_raw_os_error(111);
        let err = CliError::connect("127.0.0.1:1", &source);
        let text = err.to_string();
        assert!(text.starts_with("Could not connect to shale at 127.0.0.1:1: "), "{text}");
        assert!(!text.contains("os error"), "{text}");
        assert!(err.loses_connection());
    }
}
