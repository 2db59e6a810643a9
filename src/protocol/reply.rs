//! The dialect-neutral reply model shared by the server, router and client: every command
//! answers with a [`Reply`], which the codec renders for the connection's dialect, and
//! failures are an [`ErrorReply`] (a binary [`Status`] plus a Redis-style message).

use std::borrow::Cow;

use bytes::Bytes;

use super::status::Status;

/// Redis's answer to a wrong password, sent with status NOAUTH (RESP: `-WRONGPASS ...`).
pub const WRONGPASS_MESSAGE: &str = "invalid username-password pair or user is disabled.";

/// Redis's answer to a HELLO asking for a protocol version it does not speak; RESP renders
/// it `-NOPROTO ...` (binary: INVALID_ARGUMENT with this message).
pub const NOPROTO_MESSAGE: &str = "unsupported protocol version";

/// EXEC's answer after a command failed to queue; RESP renders it `-EXECABORT ...`
/// (binary: INVALID_ARGUMENT with this message).
pub const EXECABORT_MESSAGE: &str = "Transaction discarded because of previous errors.";

/// An error reply: a status and a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReply {
    /// Binary status; also picks the RESP error prefix.
    pub status: Status,
    /// UTF-8 message without the RESP prefix.
    pub message: Cow<'static, str>,
}

impl ErrorReply {
    /// An error reply with the given status and message.
    pub fn new(status: Status, message: impl Into<Cow<'static, str>>) -> Self {
        Self { status, message: message.into() }
    }

    /// INVALID_ARGUMENT with a message.
    pub fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Status::InvalidArgument, message)
    }

    /// The word the RESP form starts with: the status's, except where Redis uses a word
    /// binary has no status for: `WRONGPASS` (binary NOAUTH), `NOPROTO` and `EXECABORT`
    /// (binary INVALID_ARGUMENT).
    pub fn resp_prefix(&self) -> &'static str {
        if self.status == Status::NoAuth && self.message == WRONGPASS_MESSAGE {
            "WRONGPASS"
        } else if self.status == Status::InvalidArgument && self.message == NOPROTO_MESSAGE {
            "NOPROTO"
        } else if self.status == Status::InvalidArgument && self.message == EXECABORT_MESSAGE {
            "EXECABORT"
        } else {
            self.status.resp_prefix()
        }
    }
}

impl std::fmt::Display for ErrorReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.resp_prefix(), self.message)
    }
}

impl std::error::Error for ErrorReply {}

/// A dialect-neutral reply, shaped like RESP values. RESP3-only types fall back to their
/// RESP2 form on RESP2 connections, as Redis does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`; binary OK with an empty payload.
    Ok,
    /// A simple string such as `+PONG`; binary OK with an empty payload.
    Simple(&'static str),
    /// A bulk string; binary OK with the bytes as payload.
    Bulk(Bytes),
    /// A missing value: `$-1` (RESP3 `_`); binary NOT_FOUND.
    Nil,
    /// A null array: `*-1` (RESP3 `_`), as EXEC answers when a watched key changed; binary
    /// NOT_FOUND.
    NilArray,
    /// An integer.
    Int(i64),
    /// An array of replies.
    Array(Vec<Reply>),
    /// Key/value pairs: a RESP3 map, or a flat array of 2n elements in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// An unordered collection: a RESP3 set (`~`), an array in RESP2.
    Set(Vec<Reply>),
    /// Text meant for people (INFO, CLIENT LIST): a RESP3 verbatim string of format `txt`,
    /// a bulk string in RESP2.
    Verbatim(Bytes),
    /// A binary status below 0x10 other than OK with its binary payload (STALE), for the
    /// cluster's internal operations; a text connection never asks for one.
    Raw(Status, Bytes),
    /// An error.
    Error(ErrorReply),
}

impl Reply {
    /// Shorthand for an error reply.
    pub fn error(status: Status, message: impl Into<Cow<'static, str>>) -> Self {
        Reply::Error(ErrorReply::new(status, message))
    }

    /// A bulk string copied from text.
    pub fn text(s: &str) -> Self {
        Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    /// An integer from a count, saturating (counts never get near `i64::MAX`).
    pub fn count(n: usize) -> Self {
        Reply::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

impl From<ErrorReply> for Reply {
    fn from(e: ErrorReply) -> Self {
        Reply::Error(e)
    }
}

impl From<Result<Reply, ErrorReply>> for Reply {
    fn from(r: Result<Reply, ErrorReply>) -> Self {
        r.unwrap_or_else(Reply::Error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp_prefixes_follow_redis() {
        let cases = [
            (ErrorReply::invalid("syntax error"), "ERR"),
            (ErrorReply::new(Status::NoAuth, WRONGPASS_MESSAGE), "WRONGPASS"),
            (ErrorReply::new(Status::NoAuth, "Authentication required."), "NOAUTH"),
            (ErrorReply::invalid(NOPROTO_MESSAGE), "NOPROTO"),
            (ErrorReply::new(Status::WrongShard, "x"), "WRONGSHARD"),
        ];
        for (e, want) in cases {
            assert_eq!(e.resp_prefix(), want, "{e:?}");
        }
    }
}
