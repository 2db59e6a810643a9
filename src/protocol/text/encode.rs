//! Rendering RESP: [`encode_reply`] (RESP2) and [`encode_reply_resp3`] (after `HELLO 3`) on
//! the server side, [`encode_command`] on the client side.
//!
//! Owns the byte layout of outgoing text frames and allocation-free number formatting.
//! Does not own buffering or flushing.

use bytes::{BufMut, BytesMut};

use super::write_decimal;
use crate::protocol::Reply;

/// Room for any `u64` in decimal.
const MAX_DIGITS: usize = 20;

/// Renders `reply` as RESP2 into `dst`.
///
/// Error messages have `\r` and `\n` removed, because an error line cannot contain them
/// and a message echoing user input must not be able to forge further replies.
pub fn encode_reply(reply: &Reply, dst: &mut BytesMut) {
    encode(reply, false, dst);
}

/// Renders `reply` as RESP3 into `dst`: as RESP2 except that nil is `_`, maps are `%`, sets
/// `~` and verbatim text `=` (shale sends no doubles, booleans or pushes).
pub fn encode_reply_resp3(reply: &Reply, dst: &mut BytesMut) {
    encode(reply, true, dst);
}

fn encode(reply: &Reply, resp3: bool, dst: &mut BytesMut) {
    match reply {
        Reply::Ok => dst.put_slice(b"+OK\r\n"),
        Reply::Simple(s) => {
            dst.put_u8(b'+');
            put_line_text(dst, s.as_bytes());
            dst.put_slice(b"\r\n");
        }
        Reply::Bulk(bytes) => put_bulk(dst, bytes),
        Reply::Nil if resp3 => dst.put_slice(b"_\r\n"),
        Reply::Nil => dst.put_slice(b"$-1\r\n"),
        Reply::NilArray if resp3 => dst.put_slice(b"_\r\n"),
        Reply::NilArray => dst.put_slice(b"*-1\r\n"),
        Reply::Int(n) => {
            dst.put_u8(b':');
            put_i64(dst, *n);
            dst.put_slice(b"\r\n");
        }
        Reply::Array(items) => {
            put_header(dst, b'*', items.len());
            for item in items {
                encode(item, resp3, dst);
            }
        }
        Reply::Set(items) => {
            put_header(dst, if resp3 { b'~' } else { b'*' }, items.len());
            for item in items {
                encode(item, resp3, dst);
            }
        }
        Reply::Verbatim(text) if resp3 => {
            dst.reserve(text.len() + MAX_DIGITS + 9);
            put_header(dst, b'=', text.len() + 4);
            dst.put_slice(b"txt:");
            dst.put_slice(text);
            dst.put_slice(b"\r\n");
        }
        Reply::Verbatim(text) => put_bulk(dst, text),
        Reply::Map(pairs) => {
            if resp3 {
                put_header(dst, b'%', pairs.len());
            } else {
                put_header(dst, b'*', pairs.len() * 2);
            }
            for (k, v) in pairs {
                encode(k, resp3, dst);
                encode(v, resp3, dst);
            }
        }
        // Internal binary statuses have no text form; a text client never asks for one.
        Reply::Raw(status, _) => {
            dst.put_slice(b"-ERR internal binary status ");
            put_line_text(dst, status.name().as_bytes());
            dst.put_slice(b"\r\n");
        }
        Reply::Error(e) => {
            let prefix = e.resp_prefix();
            dst.reserve(prefix.len() + e.message.len() + 4);
            dst.put_u8(b'-');
            dst.put_slice(prefix.as_bytes());
            dst.put_u8(b' ');
            put_line_text(dst, e.message.as_bytes());
            dst.put_slice(b"\r\n");
        }
    }
}

/// Encodes a command as a RESP array of bulk strings, the form every Redis server accepts.
///
/// ```
/// use bytes::BytesMut;
/// let mut buf = BytesMut::new();
/// shale::protocol::text::encode_command(&["GET", "k"], &mut buf);
/// assert_eq!(&buf[..], b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
/// ```
pub fn encode_command<A: AsRef<[u8]>>(args: &[A], dst: &mut BytesMut) {
    // Sized from the real arguments, so one reservation covers the whole frame.
    let payload: usize = args.iter().map(|a| a.as_ref().len() + 2 * MAX_DIGITS).sum();
    dst.reserve(payload.saturating_add(MAX_DIGITS + 3));
    put_header(dst, b'*', args.len());
    for arg in args {
        put_bulk(dst, arg.as_ref());
    }
}

fn put_bulk(dst: &mut BytesMut, bytes: &[u8]) {
    dst.reserve(bytes.len() + MAX_DIGITS + 5);
    put_header(dst, b'$', bytes.len());
    dst.put_slice(bytes);
    dst.put_slice(b"\r\n");
}

/// `<kind><n>\r\n`, e.g. `*3\r\n` or `$5\r\n`: built on the stack and copied once, as
/// every bulk reply and array carries one.
fn put_header(dst: &mut BytesMut, kind: u8, n: usize) {
    let mut line = [0u8; MAX_DIGITS + 3];
    line[MAX_DIGITS + 1..].copy_from_slice(b"\r\n");
    let start = write_decimal(n as u64, &mut line[..MAX_DIGITS + 1]) - 1;
    line[start] = kind;
    dst.put_slice(&line[start..]);
}

/// Copies text into a line, dropping `\r` and `\n`.
fn put_line_text(dst: &mut BytesMut, text: &[u8]) {
    if text.iter().any(|&b| b == b'\r' || b == b'\n') {
        for &b in text.iter().filter(|&&b| b != b'\r' && b != b'\n') {
            dst.put_u8(b);
        }
    } else {
        dst.put_slice(text);
    }
}

fn put_i64(dst: &mut BytesMut, n: i64) {
    if n < 0 {
        dst.put_u8(b'-');
    }
    put_u64(dst, n.unsigned_abs());
}

/// Decimal digits of `n` via a stack buffer: replies are mostly small numbers and lengths,
/// and going through `fmt` would cost a formatter and a temporary per number.
fn put_u64(dst: &mut BytesMut, n: u64) {
    let mut digits = [0u8; MAX_DIGITS];
    let start = write_decimal(n, &mut digits);
    dst.put_slice(&digits[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ErrorReply, Status};
    use bytes::Bytes;

    #[test]
    fn headers_from_zero_to_the_longest_length() {
        for (n, text) in [(0, "$0\r\n"), (7, "$7\r\n"), (1234, "$1234\r\n")] {
            let mut dst = BytesMut::new();
            put_header(&mut dst, b'$', n);
            assert_eq!(&dst[..], text.as_bytes());
        }
        let mut dst = BytesMut::new();
        put_header(&mut dst, b'*', usize::MAX);
        assert_eq!(dst, format!("*{}\r\n", usize::MAX).as_bytes());
    }

    fn render(reply: &Reply) -> Vec<u8> {
        let mut dst = BytesMut::new();
        encode_reply(reply, &mut dst);
        dst.to_vec()
    }

    #[test]
    fn encodes_every_variant() {
        let cases: &[(Reply, &[u8])] = &[
            (Reply::Ok, b"+OK\r\n"),                                           // ok
            (Reply::Simple("PONG"), b"+PONG\r\n"),                             // simple string
            (Reply::Bulk(Bytes::from_static(b"hi")), b"$2\r\nhi\r\n"),         // bulk
            (Reply::Bulk(Bytes::new()), b"$0\r\n\r\n"),                        // empty bulk
            (Reply::Bulk(Bytes::from_static(b"a\r\nb")), b"$4\r\na\r\nb\r\n"), // binary-safe
            (Reply::Nil, b"$-1\r\n"),                                          // nil
            (Reply::Int(0), b":0\r\n"),                                        // zero
            (Reply::Int(-42), b":-42\r\n"),                                    // negative
            (Reply::Int(i64::MAX), b":9223372036854775807\r\n"),               // max
            (Reply::Int(i64::MIN), b":-9223372036854775808\r\n"),              // min
            (Reply::Array(vec![]), b"*0\r\n"),                                 // empty array
            (
                Reply::Array(vec![Reply::Int(1), Reply::Array(vec![Reply::Nil])]),
                b"*2\r\n:1\r\n*1\r\n$-1\r\n",
            ), // nested array
            (Reply::error(Status::InvalidArgument, "syntax error"), b"-ERR syntax error\r\n"), // ERR prefix
            (
                Reply::error(Status::NoAuth, "Authentication required."),
                b"-NOAUTH Authentication required.\r\n",
            ), // status-specific prefix
            (Reply::Error(ErrorReply::invalid("bad\r\n+OK")), b"-ERR bad+OK\r\n"), // line breaks stripped so a message cannot forge a reply
            (Reply::Set(vec![Reply::Int(1)]), b"*1\r\n:1\r\n"), // a set is an array in RESP2
            (Reply::Verbatim(Bytes::from_static(b"a\n")), b"$2\r\na\n\r\n"), // verbatim is a bulk in RESP2
        ];
        for (reply, want) in cases {
            assert_eq!(render(reply), *want, "reply {reply:?}");
        }
    }

    #[test]
    fn resp3_types() {
        let cases: &[(Reply, &[u8])] = &[
            (Reply::Nil, b"_\r\n"),                                                // null
            (Reply::Set(vec![Reply::Simple("x")]), b"~1\r\n+x\r\n"),               // set
            (Reply::Verbatim(Bytes::from_static(b"hi")), b"=6\r\ntxt:hi\r\n"),     // verbatim text
            (Reply::Map(vec![(Reply::Int(1), Reply::Nil)]), b"%1\r\n:1\r\n_\r\n"), // map
        ];
        for (reply, want) in cases {
            let mut dst = BytesMut::new();
            encode_reply_resp3(reply, &mut dst);
            assert_eq!(&dst[..], *want, "reply {reply:?}");
        }
    }

    #[test]
    fn encodes_commands_as_bulk_arrays() {
        let cases: &[(&[&[u8]], &[u8])] = &[
            (&[b"PING"], b"*1\r\n$4\r\nPING\r\n"), // one arg
            (&[b"SET", b"k", b""], b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"), // empty arg
            (&[], b"*0\r\n"),                      // no args
        ];
        for (args, want) in cases {
            let mut dst = BytesMut::new();
            encode_command(args, &mut dst);
            assert_eq!(&dst[..], *want);
        }
    }

    #[test]
    fn u64_digits() {
        for n in [0, 9, 10, 99, 100, 12345, u64::MAX] {
            let mut dst = BytesMut::new();
            put_u64(&mut dst, n);
            assert_eq!(dst, n.to_string().as_bytes());
        }
    }
}
