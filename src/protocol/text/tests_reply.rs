//! Spec tests for `ReplyDecoder`: round trips of `encode_reply` output, fed in pieces,
//! error-prefix mapping and hostile replies.

use bytes::{Bytes, BytesMut};

use super::{MAX_REPLY_DEPTH, ReplyDecoder, TextError, encode_reply};
use crate::protocol::{ErrorReply, Limits, Reply, Status};

/// Feeds `input` in `chunk`-byte pieces; returns every reply and the error, if any.
fn run(input: &[u8], chunk: usize, limits: &Limits) -> (Vec<Reply>, Option<TextError>) {
    let mut decoder = ReplyDecoder::default();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf, limits) {
                Ok(Some(reply)) => out.push(reply),
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}

fn bulk(s: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

fn perr(msg: &str) -> Option<TextError> {
    Some(TextError::Protocol(msg.to_string()))
}

#[test]
fn round_trips_every_variant_in_pieces() {
    let replies = vec![
        Reply::Ok,                                                                          // +OK
        Reply::Simple("PONG"),                                                              // +PONG
        bulk("hello"),                                                                      // bulk
        bulk(""),                                                 // empty bulk
        bulk("a\r\nb"),                                           // bulk with CRLF inside
        Reply::Nil,                                               // $-1
        Reply::Int(0),                                            // zero
        Reply::Int(i64::MIN),                                     // min
        Reply::Int(i64::MAX),                                     // max
        Reply::Array(vec![]),                                     // empty array
        Reply::Array(vec![bulk("a"), Reply::Nil, Reply::Int(3)]), // flat array
        Reply::Array(vec![Reply::Array(vec![bulk("x"), Reply::Array(vec![])]), Reply::Ok]), // nested
        Reply::error(Status::InvalidArgument, "syntax error"),                              // ERR
        Reply::error(Status::UnknownOpcode, "unknown command 'X', with args beginning with: "), // unknown
        Reply::error(Status::NoAuth, "Authentication required."), // NOAUTH
        Reply::error(Status::OutOfMemory, "command not allowed"), // OOM
        Reply::error(Status::WrongShard, "3 10.0.0.1:7000"),      // WRONGSHARD
        Reply::error(Status::Busy, "try later"),                  // BUSY
        Reply::error(Status::Unavailable, "no replica"),          // UNAVAILABLE
        Reply::error(Status::Partial, "1 of 3"),                  // PARTIAL
        Reply::error(Status::Timeout, "deadline passed"),         // TIMEOUT
    ];
    let mut wire = BytesMut::new();
    for reply in &replies {
        encode_reply(reply, &mut wire);
    }
    for chunk in [wire.len(), 1, 2, 5] {
        assert_eq!(
            run(&wire, chunk, &Limits::default()),
            (replies.clone(), None),
            "{chunk}-byte pieces"
        );
    }
}

#[test]
fn maps_error_prefixes_to_statuses() {
    let cases: &[(&[u8], Status, &str)] = &[
        (b"-ERR syntax error\r\n", Status::InvalidArgument, "syntax error"), // plain ERR
        (b"-ERR unknown command 'x'\r\n", Status::UnknownOpcode, "unknown command 'x'"), // unknown command
        (b"-NOAUTH Authentication required.\r\n", Status::NoAuth, "Authentication required."), // NOAUTH
        (b"-OOM full\r\n", Status::OutOfMemory, "full"), // OOM
        (b"-WRONGSHARD 1\r\n", Status::WrongShard, "1"), // WRONGSHARD
        (b"-BUSY x\r\n", Status::Busy, "x"),             // BUSY
        (b"-UNAVAILABLE x\r\n", Status::Unavailable, "x"), // UNAVAILABLE
        (b"-PARTIAL x\r\n", Status::Partial, "x"),       // PARTIAL
        (b"-TIMEOUT x\r\n", Status::Timeout, "x"),       // TIMEOUT
        (b"-WRONGTYPE Operation against a key\r\n", Status::Internal, "Operation against a key"), // other prefix
        (b"-ERR\r\n", Status::InvalidArgument, ""), // prefix only
        (b"-ERR a  b\r\n", Status::InvalidArgument, "a  b"), // inner spaces kept
    ];
    for (input, status, message) in cases {
        let want = Reply::Error(ErrorReply::new(*status, message.to_string()));
        assert_eq!(run(input, 1, &Limits::default()), (vec![want], None));
    }
}

#[test]
fn decodes_other_server_replies() {
    let cases: &[(&[u8], Reply)] = &[
        (b"+QUEUED\r\n", bulk("QUEUED")), // other simple strings become bulk
        (b"*-1\r\n", Reply::Nil),         // nil array
        (b"*2\r\n$-1\r\n*-1\r\n", Reply::Array(vec![Reply::Nil, Reply::Nil])), // nils inside
    ];
    for (input, want) in cases {
        assert_eq!(run(input, 1, &Limits::default()), (vec![want.clone()], None));
    }
}

#[test]
fn rejects_broken_replies() {
    let limits = Limits { max_key_size: 4, max_value_size: 8 };
    let long_line = [b"+".as_slice(), &[b'a'; 70_000]].concat();
    let cases: &[(&[u8], Option<TextError>)] = &[
        (b"$-2\r\n", perr("invalid bulk length")), // below -1
        (b"$9\r\n", perr("invalid bulk length")),  // over max_bulk_len
        (b"$4000000000\r\n", perr("invalid bulk length")), // huge, before the payload
        (b"*-2\r\n", perr("invalid multibulk length")), // below -1
        (b"*1000000000\r\n", perr("invalid multibulk length")), // over MAX_RESP_ARGS
        (b":abc\r\n", perr("invalid integer")),    // not a number
        (b":1x\r\n", perr("invalid integer")),     // junk after digits
        (b"!x\r\n", perr("unexpected reply type '!'")), // RESP3 / junk type byte
        (b"$3\r\nabcXY", perr("expected CRLF after bulk string")), // bad terminator
        (b"+OK\rX", perr("expected CRLF after reply line")), // CR without LF
        (&long_line, perr("too big reply line")),  // status line without end
        (
            b"*9\r\n$8\r\n12345678\r\n$8\r\n12345678\r\n$8\r\n12345678\r\n$8\r\n12345678\r\n$0\r\n",
            perr("too big reply"),
        ), // total over
    ];
    for (input, want) in cases {
        for chunk in [input.len(), 1] {
            assert_eq!(run(input, chunk, &limits), (vec![], want.clone()), "{chunk}-byte pieces");
        }
    }
}

#[test]
fn rejects_nesting_bombs() {
    let ok = [b"*1\r\n".repeat(MAX_REPLY_DEPTH), b":1\r\n".to_vec()].concat();
    let (replies, e) = run(&ok, 1, &Limits::default());
    assert_eq!((replies.len(), e), (1, None), "MAX_REPLY_DEPTH levels are fine");

    let deep = b"*1\r\n".repeat(MAX_REPLY_DEPTH + 1);
    assert_eq!(run(&deep, 1, &Limits::default()), (vec![], perr("reply nested too deeply")));
}

#[test]
fn huge_declared_reply_lengths_do_not_allocate() {
    let mut buf = BytesMut::from(&b"*1000000\r\n:1\r\n"[..]);
    let before = buf.capacity();
    let got = ReplyDecoder::default().decode(&mut buf, &Limits::default());
    assert_eq!(got, Ok(None), "a legal count waits for elements");
    assert_eq!(buf.capacity(), before);
}

#[test]
fn incomplete_reply_consumes_nothing() {
    let mut buf = BytesMut::from(&b"*2\r\n:1\r\n"[..]);
    let mut decoder = ReplyDecoder::default();
    assert_eq!(decoder.decode(&mut buf, &Limits::default()), Ok(None));
    assert_eq!(buf.len(), 8);
    buf.extend_from_slice(b":2\r\n+OK\r\n");
    let want = Reply::Array(vec![Reply::Int(1), Reply::Int(2)]);
    assert_eq!(decoder.decode(&mut buf, &Limits::default()), Ok(Some(want)));
    assert_eq!(decoder.decode(&mut buf, &Limits::default()), Ok(Some(Reply::Ok)));
    assert!(buf.is_empty());
}
