//! [`ReplyDecoder`]: the client side's reader of one RESP2 reply, nested arrays included.
//!
//! Owns reply framing, the same size limits as requests, and mapping `-PREFIX message`
//! back to a [`Status`]. Like the request decoder it resumes where it stopped, and it builds
//! the [`Reply`] only once the whole frame has arrived, slicing bulk strings out of it.

use std::borrow::Cow;

use bytes::{Bytes, BytesMut};

use super::{Line, TextError, find_line, parse_i64, protocol, show_byte};
use crate::protocol::limits::{MAX_INLINE_LEN, MAX_RESP_ARGS, MAX_RESP_NUMBER_LEN};
use crate::protocol::{ErrorReply, Limits, Reply, Status};

pub use crate::protocol::limits::MAX_REPLY_DEPTH;

/// Longest `:n`, `$n` or `*n` line content: the type byte plus a signed number.
const HEADER_MAX: usize = 1 + MAX_RESP_NUMBER_LEN;

/// Resumable decoder for one RESP2 reply at a time.
#[derive(Debug, Default)]
pub struct ReplyDecoder {
    /// Offset of the next unread byte of the reply at the front of the buffer.
    pos: usize,
    /// Values parsed so far, in pre-order.
    nodes: Vec<Node>,
    /// Elements still missing from each open array, outermost first.
    open: Vec<usize>,
    /// How far the line at `pos` is known to hold no `\r` (status lines can be long).
    scanned: usize,
}

/// One parsed value, pointing into the frame rather than owning bytes.
#[derive(Debug, Clone, Copy)]
enum Node {
    Simple { start: usize, len: usize },
    Error { start: usize, len: usize },
    Bulk { start: usize, len: usize },
    Int(i64),
    Nil,
    Array(usize),
}

impl ReplyDecoder {
    /// Decodes the reply at the front of `buf`: `Ok(Some)` consumed exactly that reply,
    /// `Ok(None)` needs more bytes (nothing consumed), `Err` means the stream is unusable.
    /// Bulk strings and the whole reply obey the same limits as requests.
    pub fn decode(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<Reply>, TextError> {
        let result = self.advance(buf, limits);
        match result {
            Ok(false) => Ok(None),
            Ok(true) => {
                let frame = buf.split_to(self.pos).freeze();
                let nodes = std::mem::take(&mut self.nodes);
                self.pos = 0;
                self.scanned = 0;
                Ok(Some(build(&mut nodes.into_iter(), &frame)))
            }
            Err(e) => {
                *self = Self::default();
                Err(e)
            }
        }
    }

    /// Parses values until the reply is complete (`true`) or bytes run out (`false`).
    fn advance(&mut self, buf: &[u8], limits: &Limits) -> Result<bool, TextError> {
        loop {
            let Some((node, next)) = parse_value(buf, self.pos, &mut self.scanned, limits)? else {
                return Ok(false);
            };
            self.nodes.push(node);
            self.pos = next;
            self.scanned = next;
            match node {
                Node::Array(n) if n > 0 => {
                    if self.open.len() >= MAX_REPLY_DEPTH {
                        return Err(protocol("reply nested too deeply"));
                    }
                    self.open.push(n);
                }
                _ => {
                    if self.close_value() {
                        return Ok(true);
                    }
                }
            }
        }
    }

    /// Counts a finished value against the open arrays; `true` when the top-level reply
    /// is finished.
    fn close_value(&mut self) -> bool {
        while let Some(missing) = self.open.last_mut() {
            *missing -= 1;
            if *missing > 0 {
                return false;
            }
            self.open.pop();
        }
        true
    }
}

/// Parses the value starting at `pos` if all of it (for a bulk string, its payload too)
/// has arrived. Returns the node and where the next value starts; `scanned` carries line
/// scanning progress between calls.
fn parse_value(
    buf: &[u8],
    pos: usize,
    scanned: &mut usize,
    limits: &Limits,
) -> Result<Option<(Node, usize)>, TextError> {
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    // Checked before the line search: a line that starts with its CR has no type byte, and
    // its length would underflow below.
    if !matches!(kind, b'+' | b'-' | b':' | b'$' | b'*') {
        return Err(protocol(format!("unexpected reply type '{}'", show_byte(kind))));
    }
    let max = if matches!(kind, b'+' | b'-') { MAX_INLINE_LEN } else { HEADER_MAX };
    let end = match find_line(buf, pos, *scanned, max) {
        Line::Found(end) => end,
        Line::Incomplete => {
            *scanned = buf.len().saturating_sub(1);
            return Ok(None);
        }
        Line::TooLong => return Err(protocol("too big reply line")),
        Line::BadEnding => return Err(protocol("expected CRLF after reply line")),
    };
    let next = end + 2;
    check_total(next, limits)?;
    let (start, len) = (pos + 1, end - pos - 1);
    let number = || buf.get(start..end).and_then(parse_i64);
    let node = match kind {
        b'+' => Node::Simple { start, len },
        b'-' => Node::Error { start, len },
        b':' => Node::Int(number().ok_or_else(|| protocol("invalid integer"))?),
        b'$' => match number() {
            Some(-1) => Node::Nil,
            n => return bulk(buf, next, n, limits),
        },
        b'*' => match number() {
            Some(-1) => Node::Nil,
            n => Node::Array(
                n.and_then(|n| usize::try_from(n).ok())
                    .filter(|&n| n <= MAX_RESP_ARGS)
                    .ok_or_else(|| protocol("invalid multibulk length"))?,
            ),
        },
        other => {
            return Err(protocol(format!("unexpected reply type '{}'", show_byte(other))));
        }
    };
    Ok(Some((node, next)))
}

/// A bulk string whose payload starts at `start`, once payload and `\r\n` have arrived.
fn bulk(
    buf: &[u8],
    start: usize,
    declared: Option<i64>,
    limits: &Limits,
) -> Result<Option<(Node, usize)>, TextError> {
    let len = declared
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n <= limits.max_bulk_len())
        .ok_or_else(|| protocol("invalid bulk length"))?;
    let next = start
        .checked_add(len)
        .and_then(|n| n.checked_add(2))
        .ok_or_else(|| protocol("too big reply"))?;
    check_total(next, limits)?;
    if buf.len() < next {
        return Ok(None);
    }
    if buf.get(start + len..next) != Some(b"\r\n".as_slice()) {
        return Err(protocol("expected CRLF after bulk string"));
    }
    Ok(Some((Node::Bulk { start, len }, next)))
}

fn check_total(end: usize, limits: &Limits) -> Result<(), TextError> {
    if end > limits.max_text_request() {
        return Err(protocol("too big reply"));
    }
    Ok(())
}

/// Builds the reply tree from pre-order nodes. Recursion depth is bounded by
/// [`MAX_REPLY_DEPTH`], and every array's elements are already among the nodes, so its
/// `Vec` is sized from data that arrived, not from a claim.
fn build(nodes: &mut std::vec::IntoIter<Node>, frame: &Bytes) -> Reply {
    let slice = |start: usize, len: usize| frame.slice(start..start + len);
    match nodes.next() {
        None | Some(Node::Nil) => Reply::Nil,
        Some(Node::Int(n)) => Reply::Int(n),
        Some(Node::Bulk { start, len }) => Reply::Bulk(slice(start, len)),
        Some(Node::Simple { start, len }) => simple(slice(start, len)),
        Some(Node::Error { start, len }) => Reply::Error(error_reply(&slice(start, len))),
        Some(Node::Array(n)) => Reply::Array((0..n).map(|_| build(nodes, frame)).collect()),
    }
}

/// `+OK` and `+PONG` map back to the variants servers send; any other status line has no
/// `&'static str` to live in, so it becomes a bulk string.
fn simple(text: Bytes) -> Reply {
    match &text[..] {
        b"OK" => Reply::Ok,
        b"PONG" => Reply::Simple("PONG"),
        _ => Reply::Bulk(text),
    }
}

/// Splits `PREFIX message` and maps the prefix back to the [`Status`] that produced it.
pub(crate) fn error_reply(line: &[u8]) -> ErrorReply {
    let (prefix, message) = match line.iter().position(|&b| b == b' ') {
        Some(space) => (&line[..space], &line[space + 1..]),
        None => (line, &[][..]),
    };
    let message = String::from_utf8_lossy(message).into_owned();
    let status = match prefix {
        b"ERR" if message.starts_with("unknown command") => Status::UnknownOpcode,
        b"ERR" => Status::InvalidArgument,
        b"NOAUTH" | b"WRONGPASS" => Status::NoAuth,
        b"OOM" => Status::OutOfMemory,
        b"WRONGSHARD" => Status::WrongShard,
        b"NOTREADY" => Status::NotReady,
        b"NOTCOORDINATOR" => Status::NotCoordinator,
        b"SUPERSEDED" => Status::Superseded,
        b"CLOCKSKEW" => Status::ClockSkew,
        b"BUSY" => Status::Busy,
        b"UNAVAILABLE" => Status::Unavailable,
        b"PARTIAL" => Status::Partial,
        b"TIMEOUT" => Status::Timeout,
        b"CROSSSHARD" => Status::CrossShard,
        b"REPLYLOST" => Status::ReplyLost,
        _ => Status::Internal,
    };
    ErrorReply::new(status, Cow::Owned(message))
}
