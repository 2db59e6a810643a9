//! [`RespValue`]: any RESP3 (or RESP2) value, and [`decode_value`], which reads one from a
//! buffer that holds exactly that value. The binary protocol's CMD opcode carries its reply
//! this way, so every reply type of every command reaches a binary client intact.
//!
//! Owns the client-side model of RESP3 and its parsing from a complete buffer (the frame
//! around it already arrived whole). Does not own incremental decoding from a stream
//! ([`super::ReplyDecoder`] does that for RESP2) or rendering ([`super::encode_reply_resp3`]).
//!
//! ```text
//! +simple  -error  :int  $len bulk  _ null  ,double  #t/#f  (bignum  =len fmt:text
//! *n array  %n map (2n values)  ~n set  >n push  |n attribute (skipped, then the value)
//! ```

use bytes::Bytes;

use super::reply_decoder::error_reply;
use super::{Line, TextError, find_line, parse_i64, protocol, show_byte};
use crate::protocol::Reply;
use crate::protocol::limits::{MAX_INLINE_LEN, MAX_REPLY_DEPTH, MAX_RESP_NUMBER_LEN};

/// One RESP value as a client sees it. Equality compares doubles by their bits, so the
/// type is `Eq` (a NaN equals itself).
#[derive(Debug, Clone)]
pub enum RespValue {
    /// RESP3 null `_`, RESP2 `$-1` and `*-1`.
    Nil,
    /// A status line such as `OK` or `PONG`.
    Simple(String),
    /// An error nested in an aggregate (top-level errors are the binary status), with its
    /// prefix: `ERR syntax error`.
    Error(String),
    /// An integer.
    Int(i64),
    /// A bulk string.
    Bulk(Bytes),
    /// A double, parsed from `text`.
    Double(f64),
    /// A boolean.
    Bool(bool),
    /// A big number, as its decimal digits.
    BigNumber(String),
    /// A verbatim string: a three-letter format (`txt`, `mkd`) and the text.
    Verbatim {
        /// The format.
        format: String,
        /// The text.
        text: Bytes,
    },
    /// An array.
    Array(Vec<RespValue>),
    /// Key/value pairs in the order sent.
    Map(Vec<(RespValue, RespValue)>),
    /// A set, in the order sent.
    Set(Vec<RespValue>),
    /// An out-of-band push message.
    Push(Vec<RespValue>),
}

impl PartialEq for RespValue {
    fn eq(&self, other: &Self) -> bool {
        use RespValue as V;
        match (self, other) {
            (V::Nil, V::Nil) => true,
            (V::Simple(a), V::Simple(b)) | (V::Error(a), V::Error(b)) => a == b,
            (V::BigNumber(a), V::BigNumber(b)) => a == b,
            (V::Int(a), V::Int(b)) => a == b,
            (V::Bulk(a), V::Bulk(b)) => a == b,
            (V::Double(a), V::Double(b)) => a.to_bits() == b.to_bits(),
            (V::Bool(a), V::Bool(b)) => a == b,
            (V::Verbatim { format: f, text: t }, V::Verbatim { format: g, text: u }) => {
                f == g && t == u
            }
            (V::Array(a), V::Array(b)) | (V::Set(a), V::Set(b)) | (V::Push(a), V::Push(b)) => {
                a == b
            }
            (V::Map(a), V::Map(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for RespValue {}

impl RespValue {
    /// The bytes of a bulk, simple or verbatim string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            RespValue::Bulk(b) | RespValue::Verbatim { text: b, .. } => Some(b),
            RespValue::Simple(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            RespValue::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// The elements of an array, set or push.
    pub fn as_slice(&self) -> Option<&[RespValue]> {
        match self {
            RespValue::Array(v) | RespValue::Set(v) | RespValue::Push(v) => Some(v),
            _ => None,
        }
    }
}

/// Decodes the one value `buf` holds; trailing bytes, a truncated value, nesting deeper
/// than [`MAX_REPLY_DEPTH`] or a malformed line are errors. Lengths are checked against
/// the bytes present before anything is allocated.
pub fn decode_value(buf: &Bytes) -> Result<RespValue, TextError> {
    let mut pos = 0;
    let value = read(buf, &mut pos, 0)?;
    if pos != buf.len() {
        return Err(protocol("trailing bytes after a reply"));
    }
    Ok(value)
}

fn read(buf: &Bytes, pos: &mut usize, depth: usize) -> Result<RespValue, TextError> {
    if depth > MAX_REPLY_DEPTH {
        return Err(protocol("reply nested too deeply"));
    }
    let kind = *buf.get(*pos).ok_or_else(|| protocol("truncated reply"))?;
    // Checked before the line search: a line that starts with its CR has no type byte.
    if !b"+-:_#,($=*~>%|".contains(&kind) {
        return Err(protocol(format!("unexpected reply type '{}'", show_byte(kind))));
    }
    let max = if matches!(kind, b'+' | b'-' | b',' | b'(') {
        MAX_INLINE_LEN
    } else {
        1 + MAX_RESP_NUMBER_LEN
    };
    let end = match find_line(buf, *pos, *pos, max) {
        Line::Found(end) => end,
        Line::Incomplete => return Err(protocol("truncated reply")),
        Line::TooLong => return Err(protocol("too big reply line")),
        Line::BadEnding => return Err(protocol("expected CRLF after reply line")),
    };
    let line = buf.slice(*pos + 1..end);
    *pos = end + 2;
    let text = || String::from_utf8_lossy(&line).into_owned();
    let number = || parse_i64(&line).ok_or_else(|| protocol("invalid integer"));
    Ok(match kind {
        b'+' => RespValue::Simple(text()),
        b'-' => RespValue::Error(text()),
        b':' => RespValue::Int(number()?),
        b'_' if line.is_empty() => RespValue::Nil,
        b'#' => match &line[..] {
            b"t" => RespValue::Bool(true),
            b"f" => RespValue::Bool(false),
            _ => return Err(protocol("invalid boolean")),
        },
        b',' => RespValue::Double(parse_double(&line)?),
        b'(' => RespValue::BigNumber(text()),
        b'$' | b'=' => match number()? {
            -1 if kind == b'$' => RespValue::Nil,
            n => blob(buf, pos, n, kind)?,
        },
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = number()?;
            if n == -1 && kind == b'*' {
                return Ok(RespValue::Nil);
            }
            aggregate(buf, pos, n, kind, depth)?
        }
        other => return Err(protocol(format!("unexpected reply type '{}'", show_byte(other)))),
    })
}

/// A bulk (`$`) or verbatim (`=`) payload of `n` bytes at `pos`.
fn blob(buf: &Bytes, pos: &mut usize, n: i64, kind: u8) -> Result<RespValue, TextError> {
    let len = usize::try_from(n).map_err(|_| protocol("invalid bulk length"))?;
    let end = pos.checked_add(len).filter(|&e| e + 2 <= buf.len());
    let end = end.ok_or_else(|| protocol("truncated bulk string"))?;
    if &buf[end..end + 2] != b"\r\n" {
        return Err(protocol("expected CRLF after bulk string"));
    }
    let data = buf.slice(*pos..end);
    *pos = end + 2;
    if kind == b'$' {
        return Ok(RespValue::Bulk(data));
    }
    match data.get(3) {
        Some(b':') => Ok(RespValue::Verbatim {
            format: String::from_utf8_lossy(&data[..3]).into_owned(),
            text: data.slice(4..),
        }),
        _ => Err(protocol("verbatim string without a format")),
    }
}

/// The `n` elements (pairs for a map) of an aggregate. Each takes at least 3 bytes, so a
/// count the buffer cannot hold is refused before anything is reserved.
fn aggregate(
    buf: &Bytes,
    pos: &mut usize,
    n: i64,
    kind: u8,
    depth: usize,
) -> Result<RespValue, TextError> {
    let n = usize::try_from(n).map_err(|_| protocol("invalid multibulk length"))?;
    let items = if matches!(kind, b'%' | b'|') { n.saturating_mul(2) } else { n };
    if items > (buf.len() - *pos) / 3 {
        return Err(protocol("truncated aggregate"));
    }
    let mut values = Vec::with_capacity(items);
    for _ in 0..items {
        values.push(read(buf, pos, depth + 1)?);
    }
    Ok(match kind {
        b'*' => RespValue::Array(values),
        b'~' => RespValue::Set(values),
        b'>' => RespValue::Push(values),
        b'%' => RespValue::Map(pairs(values)),
        // An attribute annotates the value after it, which is what the caller wants.
        _ => read(buf, pos, depth + 1)?,
    })
}

/// The [`Reply`] a server would send for `value`, for relaying a CMD reply to a text client.
/// Types a server-side reply has no variant for become bulk strings of their text
/// (doubles, booleans, big numbers), a push becomes an array, and status lines other than
/// `OK` and `PONG` become bulk strings, since [`Reply::Simple`] holds static text.
pub fn to_reply(value: RespValue) -> Reply {
    let all = |v: Vec<RespValue>| v.into_iter().map(to_reply).collect();
    match value {
        RespValue::Nil => Reply::Nil,
        RespValue::Simple(s) if s == "OK" => Reply::Ok,
        RespValue::Simple(s) if s == "PONG" => Reply::Simple("PONG"),
        RespValue::Simple(s) | RespValue::BigNumber(s) => Reply::Bulk(s.into()),
        RespValue::Error(line) => Reply::Error(error_reply(line.as_bytes())),
        RespValue::Int(n) => Reply::Int(n),
        RespValue::Bulk(b) => Reply::Bulk(b),
        RespValue::Double(d) => Reply::Bulk(d.to_string().into()),
        RespValue::Bool(b) => Reply::Int(i64::from(b)),
        RespValue::Verbatim { text, .. } => Reply::Verbatim(text),
        RespValue::Array(v) | RespValue::Push(v) => Reply::Array(all(v)),
        RespValue::Set(v) => Reply::Set(all(v)),
        RespValue::Map(pairs) => {
            Reply::Map(pairs.into_iter().map(|(k, v)| (to_reply(k), to_reply(v))).collect())
        }
    }
}

fn pairs(values: Vec<RespValue>) -> Vec<(RespValue, RespValue)> {
    let mut it = values.into_iter();
    let mut out = Vec::with_capacity(it.len() / 2);
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    out
}

fn parse_double(line: &[u8]) -> Result<f64, TextError> {
    let text = std::str::from_utf8(line).map_err(|_| protocol("invalid double"))?;
    match text {
        "inf" => Ok(f64::INFINITY),
        "-inf" => Ok(f64::NEG_INFINITY),
        "nan" => Ok(f64::NAN),
        _ => text.parse().map_err(|_| protocol("invalid double")),
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::protocol::Status;
    use crate::protocol::text::encode_reply_resp3;

    fn decode(s: &[u8]) -> Result<RespValue, TextError> {
        decode_value(&Bytes::copy_from_slice(s))
    }

    #[test]
    fn decodes_every_type() {
        let b = |s: &'static str| Bytes::from_static(s.as_bytes());
        // (wire, value)
        let cases: Vec<(&[u8], RespValue)> = vec![
            (b"+OK\r\n", RespValue::Simple("OK".into())),
            (b"-ERR no\r\n", RespValue::Error("ERR no".into())),
            (b":-7\r\n", RespValue::Int(-7)),
            (b"$2\r\nhi\r\n", RespValue::Bulk(b("hi"))),
            (b"$-1\r\n", RespValue::Nil),
            (b"*-1\r\n", RespValue::Nil),
            (b"_\r\n", RespValue::Nil),
            (b"#t\r\n", RespValue::Bool(true)),
            (b",1.5\r\n", RespValue::Double(1.5)),
            (b",-inf\r\n", RespValue::Double(f64::NEG_INFINITY)),
            (b"(123\r\n", RespValue::BigNumber("123".into())),
            (b"=6\r\ntxt:hi\r\n", RespValue::Verbatim { format: "txt".into(), text: b("hi") }),
            (b"*2\r\n:1\r\n_\r\n", RespValue::Array(vec![RespValue::Int(1), RespValue::Nil])),
            (b"~1\r\n+a\r\n", RespValue::Set(vec![RespValue::Simple("a".into())])),
            (b">1\r\n:1\r\n", RespValue::Push(vec![RespValue::Int(1)])),
            (
                b"%1\r\n+k\r\n:2\r\n",
                RespValue::Map(vec![(RespValue::Simple("k".into()), RespValue::Int(2))]),
            ),
            (b"|1\r\n+ttl\r\n:3\r\n:9\r\n", RespValue::Int(9)), // attribute skipped
        ];
        for (wire, want) in cases {
            assert_eq!(decode(wire).expect("decodes"), want, "{:?}", String::from_utf8_lossy(wire));
        }
    }

    #[test]
    fn rejects_malformed_input() {
        for wire in [
            &b""[..],         // empty
            b"+OK",           // no CRLF
            b"$5\r\nhi\r\n",  // short bulk
            b"*3\r\n:1\r\n",  // missing elements
            b"*99999999\r\n", // count the buffer cannot hold
            b":1\r\n:2\r\n",  // trailing value
            b"=2\r\nhi\r\n",  // verbatim without a format
            b"#x\r\n",        // bad boolean
            b"!3\r\nabc\r\n", // unknown type
            b"\r\n",          // no type byte at all
        ] {
            assert!(decode(wire).is_err(), "{:?}", String::from_utf8_lossy(wire));
        }
        let deep = "*1\r\n".repeat(MAX_REPLY_DEPTH + 2) + ":1\r\n";
        assert!(decode(deep.as_bytes()).is_err(), "nesting is bounded");
    }

    #[test]
    fn server_replies_round_trip() {
        let reply = Reply::Array(vec![
            Reply::Ok,
            Reply::Int(3),
            Reply::Nil,
            Reply::Map(vec![(Reply::text("k"), Reply::Set(vec![Reply::Simple("fast")]))]),
            Reply::Verbatim(Bytes::from_static(b"a:1\r\n")),
            Reply::error(Status::InvalidArgument, "syntax error"),
        ]);
        let mut buf = BytesMut::new();
        encode_reply_resp3(&reply, &mut buf);
        let got = decode_value(&buf.freeze()).expect("decodes");
        let fast = RespValue::Set(vec![RespValue::Simple("fast".into())]);
        let want = RespValue::Array(vec![
            RespValue::Simple("OK".into()),
            RespValue::Int(3),
            RespValue::Nil,
            RespValue::Map(vec![(RespValue::Bulk(Bytes::from_static(b"k")), fast)]),
            RespValue::Verbatim { format: "txt".into(), text: Bytes::from_static(b"a:1\r\n") },
            RespValue::Error("ERR syntax error".into()),
        ]);
        assert_eq!(got, want);
    }
}
