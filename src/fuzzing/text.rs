//! The text decode harness, [`text_decode`]: the same bytes go through the request side
//! ([`RequestDecoder`] then [`crate::cmd::parse`]) and, separately, the client side
//! ([`ReplyDecoder`]).

use bytes::{Bytes, BytesMut};

use crate::protocol::limits::{MAX_INLINE_LEN, MAX_RESP_ARGS, MAX_RESP_NUMBER_LEN};
use crate::protocol::text::{
    ReplyDecoder, RequestDecoder, TextError, encode_command, encode_reply,
};
use crate::protocol::{Limits, Reply, Status};

use super::Config;
use super::check::{Origin, Stream, check_command, check_reply};

/// Longest error message any request may earn: command errors quote at most 128 bytes of
/// input (up to three bytes each once made valid UTF-8), so a huge request never makes a
/// huge reply.
const MAX_ERROR_MESSAGE: usize = 2048;

/// Limits wide enough that anything decoded under any config profile re-encodes within them.
const WIDE: Limits = Limits { max_key_size: u16::MAX as usize, max_value_size: 1 << 23 };

/// Decodes the input (after the config byte) as requests and, separately, as replies.
///
/// Requests: each item is non-empty, within [`MAX_RESP_ARGS`] and the bulk limit if it was
/// RESP (its bytes are then exactly `encode_command(args)`, RESP lengths being canonical)
/// or within [`MAX_INLINE_LEN`] if inline; re-encoding it as RESP decodes to the same
/// arguments; its command is within the limits, or its error is bounded. Replies: each is
/// within the decoder's limits and `decode(encode(reply))` gives it back (an unknown error
/// prefix, which decodes to INTERNAL, comes back as plain `ERR`, and a bare `\n` inside an
/// error line is dropped).
pub fn text_decode(data: &[u8]) {
    let (cfg, bytes) = Config::split(data);
    requests(&cfg, bytes);
    replies(&cfg, bytes);
}

/// Most bytes the request decoder may hold while waiting for a RESP request: the request
/// limit plus one unfinished `$len` header line.
fn max_pending_resp(limits: &Limits) -> usize {
    limits.max_text_request() + 1 + MAX_RESP_NUMBER_LEN + 1
}

/// Most bytes the reply decoder may hold while waiting: a reply prefix at the request limit
/// followed by an unfinished status line.
fn max_pending_reply(limits: &Limits) -> usize {
    limits.max_text_request() + MAX_INLINE_LEN + 2
}

fn requests(cfg: &Config, bytes: &[u8]) {
    let limits = cfg.limits;
    let mut decoder = RequestDecoder::default();
    let resp_max = max_pending_resp(&limits);
    let mut stream = Stream::new(resp_max.max(MAX_INLINE_LEN));
    let mut start = 0;
    for chunk in cfg.chunks(bytes) {
        stream.feed(chunk);
        loop {
            match stream.step(|buf| decoder.decode(buf, &limits)) {
                Ok(Some((args, _))) => {
                    let end = stream.fed() - stream.buf.len();
                    check_request(&bytes[start..end], &args, &limits);
                    start = end;
                }
                Ok(None) => {
                    // A RESP request waiting for bytes is bounded by the request limit.
                    let pending = stream.buf.len();
                    let is_resp = stream.buf.first() == Some(&b'*');
                    assert!(!is_resp || pending <= resp_max, "{pending} RESP bytes held");
                    break;
                }
                Err(TextError::CrossProtocol) => {
                    // Only a complete inline line is inspected for HTTP.
                    assert!(bytes[start..].contains(&b'\n'), "cross-protocol before a line");
                    return;
                }
                Err(e @ TextError::Protocol(_)) => return check_fatal_reply(&e),
            }
        }
    }
}

/// Checks one request against the bytes consumed for it (which may begin with no-op
/// requests such as `*0\r\n` or blank lines).
fn check_request(span: &[u8], args: &[Bytes], limits: &Limits) {
    assert!(!args.is_empty(), "a request with no arguments was returned");
    let mut resp = BytesMut::new();
    encode_command(args, &mut resp);
    if span.ends_with(&resp) {
        assert!(args.len() <= MAX_RESP_ARGS, "{} RESP arguments", args.len());
        for a in args {
            assert!(a.len() <= limits.max_bulk_len(), "RESP argument of {} bytes", a.len());
        }
        assert!(resp.len() <= limits.max_text_request(), "RESP request of {} bytes", resp.len());
    } else {
        assert!(span.ends_with(b"\n"), "inline request without its newline: {span:?}");
        for a in args {
            assert!(a.len() <= MAX_INLINE_LEN, "inline argument of {} bytes", a.len());
        }
        let again = RequestDecoder::default().decode(&mut resp, &WIDE);
        assert_eq!(again, Ok(Some(args.to_vec())), "inline arguments do not survive RESP");
    }
    match crate::cmd::parse(&args.to_vec().into(), limits) {
        Ok(cmd) => check_command(&cmd, limits, Origin::Text),
        Err(e) => {
            assert!(e.status.is_error() && !e.status.is_fatal(), "{e:?}");
            assert!(e.message.len() <= MAX_ERROR_MESSAGE, "{}-byte error", e.message.len());
            check_one_line(&Reply::Error(e));
        }
    }
}

/// A fatal error's last reply is a single RESP error line.
fn check_fatal_reply(e: &TextError) {
    let reply = e.to_reply().expect("protocol errors are answered");
    assert_eq!(reply.status, Status::ProtocolError);
    check_one_line(&Reply::Error(reply));
}

/// An error reply renders as exactly one `-...\r\n` line, so it cannot forge other replies.
fn check_one_line(reply: &Reply) {
    let mut out = BytesMut::new();
    encode_reply(reply, &mut out);
    assert!(out.starts_with(b"-") && out.ends_with(b"\r\n"), "{out:?}");
    let breaks = out.iter().filter(|&&b| b == b'\r' || b == b'\n').count();
    assert_eq!(breaks, 2, "error reply spans lines: {out:?}");
}

fn replies(cfg: &Config, bytes: &[u8]) {
    let limits = cfg.limits;
    let mut decoder = ReplyDecoder::default();
    let mut stream = Stream::new(max_pending_reply(&limits));
    for chunk in cfg.chunks(bytes) {
        stream.feed(chunk);
        loop {
            match stream.step(|buf| decoder.decode(buf, &limits)) {
                Ok(Some((reply, _))) => {
                    // Status lines are bounded by MAX_INLINE_LEN, not the bulk limit, and
                    // a status other than OK/PONG decodes to a bulk string.
                    let wide = Limits { max_value_size: MAX_INLINE_LEN, ..limits };
                    check_reply(&reply, &wide);
                    check_reply_fixed_point(&reply);
                }
                Ok(None) => break,
                Err(TextError::CrossProtocol) => panic!("a reply stream cannot be HTTP"),
                Err(e @ TextError::Protocol(_)) => return check_fatal_reply(&e),
            }
        }
    }
}

/// `decode(encode(r))` is `r`, except that an INTERNAL error (an unknown prefix) comes back
/// with the status its `ERR` line maps to and a bare `\n` in an error line is dropped;
/// after that one step it is a fixed point.
fn check_reply_fixed_point(reply: &Reply) {
    let again = reencode(reply);
    assert!(same_modulo_internal(reply, &again), "{reply:?} came back as {again:?}");
    assert_eq!(reencode(&again), again, "second round trip changed {again:?}");
}

/// Encodes `reply` as RESP and decodes it back, all in one call.
pub(crate) fn reencode(reply: &Reply) -> Reply {
    let mut buf = BytesMut::new();
    encode_reply(reply, &mut buf);
    let got = ReplyDecoder::default().decode(&mut buf, &WIDE);
    let got = got.unwrap_or_else(|e| panic!("{reply:?} re-encoded does not decode: {e}"));
    assert!(buf.is_empty(), "{} bytes left after one reply", buf.len());
    got.unwrap_or_else(|| panic!("{reply:?} re-encoded is incomplete"))
}

/// Equality up to what RESP error lines cannot carry back: the decoder (like hiredis) lets
/// a bare `\n` through inside a line, which the encoder then drops, and an INTERNAL status.
fn same_modulo_internal(a: &Reply, b: &Reply) -> bool {
    match (a, b) {
        (Reply::Error(x), Reply::Error(y)) => {
            let sent: String = x.message.chars().filter(|&c| c != '\n').collect();
            sent == y.message && (x.status == y.status || x.status == Status::Internal)
        }
        (Reply::Array(xs), Reply::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same_modulo_internal(x, y))
        }
        _ => a == b,
    }
}
