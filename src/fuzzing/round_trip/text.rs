//! Text round trips: commands (RESP, plain inline and quoted inline) and RESP replies.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::Decoder;

use crate::codec::{ServerCodec, Shape};
use crate::protocol::limits::MAX_INLINE_LEN;
use crate::protocol::text::{
    MAX_REPLY_DEPTH, ReplyDecoder, RequestDecoder, TextError, encode_command, encode_reply,
};
use crate::protocol::{ErrorReply, Limits, Reply, Status};

use super::super::Config;
use super::super::check::{Origin, check_command, nonempty_depth};
use super::super::input::Input;
use super::{blob, message};

/// Command names and options, so parsing gets past "unknown command" often.
const WORDS: [&str; 50] = [
    "GET",
    "SET",
    "DEL",
    "EXISTS",
    "TTL",
    "PTTL",
    "EXPIRE",
    "PEXPIRE",
    "PERSIST",
    "MSET",
    "PING",
    "EX",
    "PX",
    "NX",
    "XX",
    "HELLO",
    "CONFIG",
    "CLIENT",
    "COMMAND",
    "SLOWLOG",
    "INFO",
    "KILL",
    "LIST",
    "GETKEYS",
    "SETNAME",
    "REPLY",
    "VSET",
    "AUTH",
    // Strings and bitmaps.
    "INCR",
    "INCRBY",
    "DECRBY",
    "INCRBYFLOAT",
    "APPEND",
    "GETRANGE",
    "SETRANGE",
    "GETEX",
    "GETSET",
    "SETEX",
    "MSETNX",
    "LCS",
    "SETBIT",
    "GETBIT",
    "BITCOUNT",
    "BITPOS",
    "BITOP",
    "KEEPTTL",
    "EXAT",
    "PXAT",
    "IDX",
    "BIT",
];

/// The keyspace, expiry and transaction commands' names and options.
const KEYSPACE_WORDS: [&str; 16] = [
    "UNLINK",
    "TOUCH",
    "RENAME",
    "COPY",
    "KEYS",
    "SCAN",
    "EXPIREAT",
    "PEXPIRETIME",
    "MULTI",
    "EXEC",
    "WATCH",
    "GT",
    "LT",
    "MATCH",
    "COUNT",
    "REPLACE",
];

/// Limits under which any reply this harness builds fits.
const WIDE: Limits = Limits { max_key_size: u16::MAX as usize, max_value_size: 1 << 23 };

/// Encodes arbitrary arguments as RESP and as inline text (plain words when they allow it,
/// and double-quoted with `\xHH` escapes always): each decodes to the same arguments, or
/// fails exactly when an argument or the request is over a limit.
pub(super) fn command(input: &mut Input<'_>) {
    let limits = Config::limits(input.u8() & 0b11);
    let count = input.below(6);
    let args: Vec<Bytes> = (0..count)
        .map(|i| match input.below(3) {
            0 if i < 3 => {
                let words: &[&str] = if input.bool() { &WORDS } else { &KEYSPACE_WORDS };
                Bytes::from_static(input.pick(words).as_bytes())
            }
            _ => blob(input),
        })
        .collect();
    let mut resp = BytesMut::new();
    encode_command(&args, &mut resp);
    let encoded_len = resp.len();
    let got = RequestDecoder::default().decode(&mut resp, &limits);
    if args.is_empty() {
        // `*0` is a no-op request: consumed, nothing returned.
        assert_eq!((got, resp.len()), (Ok(None), 0), "empty command");
        return;
    }
    let too_big = args.iter().any(|a| a.len() > limits.max_bulk_len())
        || encoded_len > limits.max_text_request();
    match got {
        Ok(Some(got)) if !too_big => assert_eq!(got, args, "RESP arguments"),
        Err(TextError::Protocol(_)) if too_big => return,
        other => panic!("RESP {encoded_len} bytes (too big: {too_big}) gave {other:?}"),
    }
    assert!(resp.is_empty(), "{} bytes left after one request", resp.len());
    check_server_codec(&args, &limits);
    // Quoting takes up to 4 bytes per byte; far past the inline limit it only repeats the
    // "too long" case at great cost.
    let quoted_len: usize = args.iter().map(|a| 4 * a.len() + 3).sum();
    if quoted_len <= 2 * MAX_INLINE_LEN {
        inline(&args, quoted(&args), &limits);
    }
    if args.iter().all(|a| is_plain_word(a)) {
        inline(&args, args.join(&b' '), &limits);
    }
}

/// The server codec turns the RESP form into what `cmd::parse` makes of the arguments.
fn check_server_codec(args: &[Bytes], limits: &Limits) {
    let mut buf = BytesMut::new();
    encode_command(args, &mut buf);
    let inbound = ServerCodec::new(*limits).decode(&mut buf);
    let inbound = inbound.expect("a RESP request within limits").expect("a whole request");
    assert_eq!((inbound.id, inbound.shape), (0, Shape::Text));
    assert_eq!(inbound.command, crate::cmd::parse(&args.to_vec().into(), limits));
    if let Ok(cmd) = &inbound.command {
        check_command(cmd, limits, Origin::Text);
    }
}

/// Decodes `line` + `\r\n` as an inline request: the same arguments, the HTTP guard, or the
/// inline length error.
fn inline(args: &[Bytes], mut line: Vec<u8>, limits: &Limits) {
    line.extend_from_slice(b"\r\n");
    let too_long = line.len() - 1 > MAX_INLINE_LEN;
    let mut buf = BytesMut::from(&line[..]);
    let got = RequestDecoder::default().decode(&mut buf, limits);
    let is_http = args[0].eq_ignore_ascii_case(b"post") || args[0].eq_ignore_ascii_case(b"host:");
    match got {
        Err(TextError::Protocol(_)) if too_long => {}
        Err(TextError::CrossProtocol) if is_http && !too_long => {}
        Ok(Some(got)) if !too_long && !is_http => {
            assert_eq!(got, args, "inline {:?}", String::from_utf8_lossy(&line));
            assert!(buf.is_empty(), "{} bytes left after one line", buf.len());
        }
        other => panic!("inline {:?} gave {other:?}", String::from_utf8_lossy(&line)),
    }
}

/// Every argument double-quoted, with `\xHH` for anything but printable ASCII (and for the
/// quote and backslash themselves).
fn quoted(args: &[Bytes]) -> Vec<u8> {
    let mut line = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            line.push(b' ');
        }
        line.push(b'"');
        for &b in arg.iter() {
            if (b.is_ascii_graphic() || b == b' ') && b != b'"' && b != b'\\' {
                line.push(b);
            } else {
                line.extend_from_slice(format!("\\x{b:02x}").as_bytes());
            }
        }
        line.push(b'"');
    }
    line
}

/// An argument that means itself unquoted: non-empty, printable, no quotes or backslashes,
/// and not starting a RESP array.
fn is_plain_word(arg: &[u8]) -> bool {
    !arg.is_empty()
        && arg.iter().all(|&b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'\\'))
        && arg[0] != b'*'
}

/// Encodes an arbitrary reply tree as RESP: it decodes to [`expected_reply`], or fails
/// exactly when non-empty arrays nest deeper than [`MAX_REPLY_DEPTH`].
pub(super) fn reply(input: &mut Input<'_>) {
    let reply = any_reply(input, 0);
    let mut buf = BytesMut::new();
    encode_reply(&reply, &mut buf);
    let got = ReplyDecoder::default().decode(&mut buf, &WIDE);
    let depth = nonempty_depth(&reply);
    match got {
        Ok(Some(got)) if depth <= MAX_REPLY_DEPTH => {
            assert_eq!(got, expected_reply(&reply), "RESP reply");
            assert!(buf.is_empty(), "{} bytes left after one reply", buf.len());
        }
        Err(TextError::Protocol(_)) if depth > MAX_REPLY_DEPTH => {}
        other => panic!("reply nested {depth} deep gave {other:?}"),
    }
}

/// A reply tree; arrays nest at most a little past the decoder's depth limit.
fn any_reply(input: &mut Input<'_>, depth: usize) -> Reply {
    match input.below(8) {
        0 => Reply::Ok,
        1 => Reply::Simple(input.pick(&["PONG", "OK", "QUEUED", ""])),
        2 => Reply::Bulk(blob(input)),
        3 => Reply::Nil,
        4 => Reply::Int(input.u64() as i64),
        5 if depth <= MAX_REPLY_DEPTH + 2 => {
            let len = input.below(4);
            Reply::Array((0..len).map(|_| any_reply(input, depth + 1)).collect())
        }
        6 => Reply::error(input.pick(&Status::ALL), message(input)),
        7 if depth <= MAX_REPLY_DEPTH + 2 => {
            let len = input.below(3);
            let pair = |input: &mut Input<'_>| {
                let key = Reply::Bulk(blob(input));
                (key, any_reply(input, depth + 1))
            };
            Reply::Map((0..len).map(|_| pair(input)).collect())
        }
        _ => Reply::Array(vec![]),
    }
}

/// What a client reads back: `+OK` is `Ok`, `+PONG` is `Simple("PONG")`, other status
/// lines are bulk strings; errors lose `\r`/`\n` and keep only what their prefix says; a
/// map is, in RESP2, an array of its keys and values.
fn expected_reply(reply: &Reply) -> Reply {
    match reply {
        Reply::Map(pairs) => Reply::Array(
            pairs.iter().flat_map(|(k, v)| [expected_reply(k), expected_reply(v)]).collect(),
        ),
        Reply::Simple("OK") => Reply::Ok,
        Reply::Simple("PONG") => Reply::Simple("PONG"),
        Reply::Simple(s) => Reply::Bulk(Bytes::from_static(s.as_bytes())),
        Reply::Array(items) => Reply::Array(items.iter().map(expected_reply).collect()),
        Reply::Error(e) => {
            let message: String = e.message.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
            let status = match e.status.resp_prefix() {
                "ERR" if message.starts_with("unknown command") => Status::UnknownOpcode,
                "ERR" => Status::InvalidArgument,
                _ => e.status,
            };
            Reply::Error(ErrorReply::new(status, message))
        }
        other => other.clone(),
    }
}
