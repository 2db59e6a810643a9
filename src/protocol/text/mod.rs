//! The Redis text dialect, sans-IO: RESP2 and inline request framing, reply rendering, and
//! the client-side mirror of both.
//!
//! Owns: turning request bytes into argument vectors ([`RequestDecoder`]), rendering
//! [`Reply`]s as RESP2 or RESP3 ([`encode_reply`], [`encode_reply_resp3`]), and the client
//! side ([`encode_command`], [`ReplyDecoder`], [`decode_value`]). Does not own: sockets,
//! buffering policy, which commands exist and what their arguments mean
//! ([`crate::cmd::parse`]), or the binary dialect. Every size check uses [`Limits`] and
//! the constants in [`crate::protocol::limits`].
//!
//! # Requests
//!
//! A request whose first byte is `*` is a RESP2 array of bulk strings; anything else is an
//! inline (telnet-style) line split like Redis's `sdssplitargs`.
//!
//! ```text
//! RESP:   *<N>\r\n   then N times   $<len>\r\n<len bytes>\r\n
//!         |1| <=20 digits |          |1|<=20 digits|  payload  |2|
//!
//!         *2\r\n$3\r\nGET\r\n$1\r\nk\r\n        -> ["GET", "k"]
//!
//! inline: SET k "hello world"\r\n                  -> ["SET", "k", "hello world"]
//!         <= MAX_INLINE_LEN bytes, ended by \n or \r\n
//! ```
//!
//! `N` is at most [`MAX_RESP_ARGS`](crate::protocol::limits::MAX_RESP_ARGS), each `len` at
//! most [`Limits::max_bulk_len`], and the whole frame at most [`Limits::max_text_request`].
//! Lengths are checked when their header arrives, never used to allocate, and `*0`, `*-1`
//! and empty inline lines are no-ops that are consumed silently, as in Redis.
//!
//! # Replies
//!
//! ```text
//! +OK\r\n   -ERR msg\r\n   :42\r\n   $5\r\nhello\r\n   $-1\r\n   *2\r\n<reply><reply>
//! ```
//!
//! ```
//! use bytes::BytesMut;
//! use shale::protocol::Limits;
//! use shale::protocol::text::{RequestDecoder, encode_command};
//!
//! let limits = Limits::default();
//! let mut buf = BytesMut::new();
//! encode_command(&["GET", "greeting"], &mut buf);
//! let args = RequestDecoder::default().decode(&mut buf, &limits).unwrap().unwrap();
//! assert_eq!(args, ["GET", "greeting"]);
//! assert!(buf.is_empty());
//! ```

mod argv;
mod encode;
mod reply_decoder;
mod request;
mod split;
mod value;

#[cfg(test)]
mod tests_decode;
#[cfg(test)]
mod tests_reply;

use std::borrow::Cow;

use super::{ErrorReply, Status, limits::MAX_RESP_NUMBER_LEN};
#[cfg(doc)]
use super::{Limits, Reply};

pub use argv::{Argv, INLINE_ARGS};
pub use encode::{encode_command, encode_reply, encode_reply_resp3};
pub use reply_decoder::{MAX_REPLY_DEPTH, ReplyDecoder};
pub use request::RequestDecoder;
pub use value::{RespValue, decode_value, to_reply};

/// Why a text stream cannot be read any further.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TextError {
    /// Framing is broken or a declared size is over a limit: reply
    /// `-ERR Protocol error: <msg>` (see [`TextError::to_reply`]) and close.
    #[error("Protocol error: {0}")]
    Protocol(String),
    /// An HTTP request (`POST` or `Host:`) sent to the cache port: close without a reply,
    /// because answering would let a web page script the cache (Redis does the same).
    #[error("cross-protocol request")]
    CrossProtocol,
}

impl TextError {
    /// The last reply to send before closing, if any.
    pub fn to_reply(&self) -> Option<ErrorReply> {
        match self {
            TextError::Protocol(_) => {
                Some(ErrorReply::new(Status::ProtocolError, Cow::Owned(self.to_string())))
            }
            TextError::CrossProtocol => None,
        }
    }
}

/// Shorthand for a fatal protocol error.
pub(crate) fn protocol(msg: impl Into<String>) -> TextError {
    TextError::Protocol(msg.into())
}

/// Writes `n` in decimal at the end of `buf`, returning where its first digit is: callers
/// put a sign or a type byte before it and copy the tail once. `buf` must have room for
/// the digits (20 for any `u64`).
pub fn write_decimal(mut n: u64, buf: &mut [u8]) -> usize {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return at;
        }
    }
}

/// Parses a decimal `i64` exactly like Redis's `string2ll`: an optional `-`, then digits
/// with no leading zero (only `0` itself), no `+`, no spaces, at most
/// [`MAX_RESP_NUMBER_LEN`] bytes. Strictness matters: a lenient parser would accept
/// requests that Redis rejects and so disagree with it about where a frame ends.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > MAX_RESP_NUMBER_LEN {
        return None;
    }
    let (negative, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    match digits {
        [b'0'] if !negative => return Some(0),
        [b'1'..=b'9', ..] => {}
        _ => return None,
    }
    let mut value: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let d = i64::from(d - b'0');
        value = value.checked_mul(10)?;
        value = if negative { value.checked_sub(d)? } else { value.checked_add(d)? };
    }
    Some(value)
}

/// Outcome of looking for a `\r\n`-terminated line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// The line's content is `buf[start..end]`; the next line starts at `end + 2`.
    Found(usize),
    /// No terminator yet and the line is still within its limit.
    Incomplete,
    /// More than the allowed bytes arrived without a `\r`.
    TooLong,
    /// A `\r` followed by something other than `\n`.
    BadEnding,
}

/// Finds the `\r\n` ending the line that starts at `start`, whose content may be at most
/// `max_len` bytes. Bytes before `from` are known to hold no `\r` and are skipped, so a
/// caller that remembers how far it got scans a slowly arriving line only once. After
/// [`Line::Incomplete`], everything before `buf.len() - 1` is such a byte.
pub(crate) fn find_line(buf: &[u8], start: usize, from: usize, max_len: usize) -> Line {
    let from = from.max(start);
    let window_end = buf.len().min(start.saturating_add(max_len).saturating_add(1));
    let window = buf.get(from..window_end).unwrap_or_default();
    match window.iter().position(|&b| b == b'\r') {
        Some(offset) => {
            let cr = from + offset;
            match buf.get(cr + 1) {
                None => Line::Incomplete,
                Some(b'\n') => Line::Found(cr),
                Some(_) => Line::BadEnding,
            }
        }
        None if buf.len() > start.saturating_add(max_len) => Line::TooLong,
        None => Line::Incomplete,
    }
}

/// Renders one byte for an error message: printable ASCII as itself, anything else escaped,
/// so a hostile byte cannot corrupt the reply line.
pub(crate) fn show_byte(b: u8) -> String {
    if b.is_ascii_graphic() || b == b' ' {
        char::from(b).to_string()
    } else {
        format!("\\x{b:02x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_i64_is_as_strict_as_string2ll() {
        let cases: &[(&str, Option<i64>)] = &[
            ("0", Some(0)),                           // zero alone
            ("42", Some(42)),                         // plain
            ("-7", Some(-7)),                         // negative
            ("9223372036854775807", Some(i64::MAX)),  // max
            ("-9223372036854775808", Some(i64::MIN)), // min, 20 bytes
            ("9223372036854775808", None),            // overflow
            ("", None),                               // empty
            ("-", None),                              // sign only
            ("-0", None),                             // negative zero
            ("007", None),                            // leading zero
            ("+5", None),                             // plus sign
            (" 5", None),                             // leading space
            ("5 ", None),                             // trailing space
            ("1e3", None),                            // not decimal
            ("000000000000000000001", None),          // over 20 bytes
        ];
        for (input, want) in cases {
            assert_eq!(parse_i64(input.as_bytes()), *want, "input {input:?}");
        }
    }

    #[test]
    fn find_line_cases() {
        let cases: &[(&[u8], usize, Line)] = &[
            (b"*3\r\n", 4, Line::Found(2)),   // complete
            (b"*3\r", 4, Line::Incomplete),   // \n not here yet
            (b"*3", 4, Line::Incomplete),     // short line so far
            (b"*3\rx", 4, Line::BadEnding),   // \r not followed by \n
            (b"*12345", 4, Line::TooLong),    // five bytes > limit of four, no \r
            (b"*123\r\n", 4, Line::Found(4)), // content exactly at the limit
            (b"*1234\r\n", 4, Line::TooLong), // \r just past the limit
        ];
        for (input, max, want) in cases {
            // Resuming from any byte before the \r gives the same answer.
            if let Line::Found(cr) = want {
                assert_eq!(find_line(input, 0, *cr, *max), *want, "resumed {input:?}");
            }
            assert_eq!(find_line(input, 0, 0, *max), *want, "input {input:?}");
        }
    }

    #[test]
    fn protocol_error_reply_text() {
        let e = protocol("invalid bulk length");
        let reply = e.to_reply().expect("protocol errors are answered");
        assert_eq!(reply.to_string(), "ERR Protocol error: invalid bulk length");
        assert_eq!(TextError::CrossProtocol.to_reply(), None);
    }
}
