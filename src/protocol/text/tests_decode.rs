//! Spec tests for `RequestDecoder`: every fixture is decoded whole and in small pieces, and
//! both must agree.

use std::time::{Duration, Instant};

use bytes::BytesMut;

use super::{RequestDecoder, TextError, encode_command};
use crate::protocol::Limits;
use crate::protocol::limits::MAX_INLINE_LEN;

type Requests = Vec<Vec<Vec<u8>>>;

/// The requests decoded and the error that ended the stream, if any.
type Outcome = (Requests, Option<TextError>);

/// Feeds `input` in `chunk`-byte pieces, decoding after each; returns the requests seen and
/// the error that ended the stream, if any.
fn run(input: &[u8], chunk: usize, limits: &Limits) -> Outcome {
    let mut decoder = RequestDecoder::default();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf, limits) {
                Ok(Some(args)) => out.push(args.iter().map(|a| a.to_vec()).collect()),
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}

fn req(args: &[&str]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.as_bytes().to_vec()).collect()
}

fn perr(msg: &str) -> Option<TextError> {
    Some(TextError::Protocol(msg.to_string()))
}

/// Checks one fixture whole and in pieces of 1, 2, 3 and 7 bytes.
fn check(input: &[u8], want: &Outcome, limits: &Limits) {
    for chunk in [input.len(), 1, 2, 3, 7] {
        let got = run(input, chunk, limits);
        assert_eq!(got, *want, "input {:?} in {chunk}-byte pieces", String::from_utf8_lossy(input));
    }
}

#[test]
fn decodes_fixtures_whole_and_in_pieces() {
    let cases: Vec<(&[u8], Outcome)> = vec![
        (b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", (vec![req(&["GET", "k"])], None)), // RESP
        (b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n", (vec![req(&["SET", "k", ""])], None)), // empty bulk
        (b"*1\r\n$4\r\na\r\nb\r\n", (vec![req(&["a\r\nb"])], None)), // payload with CRLF inside
        (b"*1\r\n$1\r\nA\r\n*1\r\n$1\r\nB\r\n", (vec![req(&["A"]), req(&["B"])], None)), // pipelined RESP
        (b"PING\r\n", (vec![req(&["PING"])], None)), // inline with CRLF
        (b"PING\nPING\n", (vec![req(&["PING"]), req(&["PING"])], None)), // inline with bare LF
        (b"SET k \"a b\"\r\n", (vec![req(&["SET", "k", "a b"])], None)), // inline quoting
        (b"GET \"\\x41\"\r\n", (vec![req(&["GET", "A"])], None)), // inline hex escape
        (b"\r\n\n   \r\nPING\r\n", (vec![req(&["PING"])], None)), // empty lines skipped
        (b"*0\r\n*-1\r\n*1\r\n$1\r\nx\r\n", (vec![req(&["x"])], None)), // no-op arrays skipped
        (
            b"PING\r\n*1\r\n$4\r\nPING\r\nECHO hi\n",
            (vec![req(&["PING"]), req(&["PING"]), req(&["ECHO", "hi"])], None),
        ), // mixed
        (b"*2\r\n$3\r\nGET\r\n", (vec![], None)),    // incomplete array waits
        (b"PING", (vec![], None)),                   // incomplete line waits
        (b"*abc\r\n", (vec![], perr("invalid multibulk length"))), // not a number
        (b"*+1\r\n", (vec![], perr("invalid multibulk length"))), // plus sign
        (b"* 1\r\n", (vec![], perr("invalid multibulk length"))), // space
        (b"*01\r\n", (vec![], perr("invalid multibulk length"))), // leading zero
        (b"*1048577\r\n", (vec![], perr("invalid multibulk length"))), // over MAX_RESP_ARGS
        (b"*3\rX", (vec![], perr("invalid multibulk length"))), // CR without LF
        (b"*123456789012345678901234\r\n", (vec![], perr("too big mbulk count string"))), // header too long
        (b"*1\r\nx", (vec![], perr("expected '$', got 'x'"))), // not a bulk string
        (b"*1\r\n\x01", (vec![], perr("expected '$', got '\\x01'"))), // unprintable shown escaped
        (b"*1\r\n$-1\r\n", (vec![], perr("invalid bulk length"))), // negative bulk in a request
        (b"*1\r\n$1x\r\n", (vec![], perr("invalid bulk length"))), // junk length
        (b"*1\r\n$12345678901234567890123\r\n", (vec![], perr("too big bulk count string"))), // bulk header too long
        (b"*1\r\n$3\r\nabcXY", (vec![], perr("expected CRLF after bulk string"))), // bad terminator
        (b"*1\r\n$1\r\nA\r\n*1\r\nx", (vec![req(&["A"])], perr("expected '$', got 'x'"))), // error after a good one
        (b"SET k \"abc\r\n", (vec![], perr("unbalanced quotes in request"))), // unterminated quote
        (b"SET k \"a\"b\r\n", (vec![], perr("unbalanced quotes in request"))), // text after quote
        (b"POST / HTTP/1.1\r\n", (vec![], Some(TextError::CrossProtocol))),   // HTTP request line
        (b"Host: x\r\n", (vec![], Some(TextError::CrossProtocol))),           // HTTP header
        (b"post /x\r\n", (vec![], Some(TextError::CrossProtocol))),           // any case
        (b"POSTS x\r\n", (vec![req(&["POSTS", "x"])], None)), // only the exact token
    ];
    for (input, want) in &cases {
        check(input, want, &Limits::default());
    }
}

#[test]
fn enforces_request_limits() {
    // max_bulk_len = 8; max_text_request = 2 * (18 + 4 + 8) = 60.
    let limits = Limits { max_key_size: 4, max_value_size: 8 };
    let mut too_big = b"*5\r\n".to_vec();
    too_big.extend(b"$8\r\n12345678\r\n".repeat(4)); // 60 bytes: exactly the limit
    too_big.extend(b"$0\r\n"); // its payload would end at 66
    let cases: Vec<(&[u8], Outcome)> = vec![
        (b"*1\r\n$8\r\n12345678\r\n", (vec![req(&["12345678"])], None)), // bulk at the limit
        (b"*1\r\n$9\r\n", (vec![], perr("invalid bulk length"))),        // over, before the payload
        (&too_big, (vec![], perr("too big request"))),                   // whole request over
    ];
    for (input, want) in &cases {
        check(input, want, &limits);
    }
}

#[test]
fn inline_line_limit() {
    let limits = Limits::default();
    let mut at_limit = vec![b'a'; MAX_INLINE_LEN];
    at_limit.push(b'\n');
    // One-byte pieces also show the newline search resumes instead of restarting.
    let (reqs, e) = run(&at_limit, 1, &limits);
    assert_eq!((reqs.len(), e), (1, None), "a line of exactly MAX_INLINE_LEN is accepted");

    let over = vec![b'a'; MAX_INLINE_LEN + 1];
    assert_eq!(run(&over, 1, &limits).1, perr("too big inline request"));
}

#[test]
fn huge_declared_lengths_fail_at_once_without_allocating() {
    let limits = Limits::default();
    for input in [&b"*1000000000\r\n"[..], b"*1\r\n$4000000000\r\n"] {
        let mut buf = BytesMut::from(input);
        let before = buf.capacity();
        let got = RequestDecoder::default().decode(&mut buf, &limits);
        assert!(matches!(got, Err(TextError::Protocol(_))), "{got:?}");
        assert_eq!(buf.capacity(), before, "the decoder never grows the buffer");
        assert!(buf.capacity() < 1024);
    }
}

#[test]
fn many_args_in_one_byte_pieces_is_linear() {
    let args: Vec<String> = (0..10_000).map(|i| format!("key{i:05}")).collect();
    let mut wire = BytesMut::new();
    encode_command(&args, &mut wire);
    let started = Instant::now();
    let (reqs, e) = run(&wire, 1, &Limits::default());
    let elapsed = started.elapsed();
    assert_eq!(e, None);
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].len(), 10_000);
    assert_eq!(reqs[0][9_999], b"key09999");
    // About 160 000 calls; re-parsing from byte 0 each time would take minutes.
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
}

#[test]
fn resp_args_are_zero_copy() {
    let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"[..]);
    let base = buf.as_ptr() as usize;
    let args = RequestDecoder::default()
        .decode(&mut buf, &Limits::default())
        .expect("valid")
        .expect("complete");
    assert_eq!(args[1].as_ptr() as usize, base + 17);
}

#[test]
fn noop_requests_alone_leave_an_empty_buffer() {
    let mut buf = BytesMut::from(&b"*0\r\n\r\n*-1\r\n"[..]);
    let got = RequestDecoder::default().decode(&mut buf, &Limits::default());
    assert_eq!(got, Ok(None));
    assert!(buf.is_empty());
}

#[test]
fn whole_requests_decode_as_requests_in_pieces_do() {
    // A request that has fully arrived takes a one-pass path, one in pieces the resumable
    // one: every header form, plain or not, must get the same answer from both.
    let counts =
        ["1", "2", "0", "-1", "01", "+1", "64", "65", "999999999999999999", "9999999999999999999"];
    let lens =
        ["0", "1", "3", "03", "-0", "+3", "8", "9", "123456789012345678", "1234567890123456789"];
    let limits = Limits { max_key_size: 4, max_value_size: 8 };
    let mut inputs = 0;
    for count in counts {
        for len in lens {
            for tail in [&b"abc\r\n"[..], b"abcdefgh\r\n", b"\r\n", b"abc\rX", b"a"] {
                let mut input = format!("*{count}\r\n${len}\r\n").into_bytes();
                input.extend_from_slice(tail);
                input.extend_from_slice(b"*1\r\n$1\r\nz\r\n");
                for limits in [Limits::default(), limits] {
                    let whole = run(&input, input.len(), &limits);
                    assert_eq!(
                        whole,
                        run(&input, 1, &limits),
                        "{}",
                        String::from_utf8_lossy(&input)
                    );
                    inputs += 1;
                }
            }
        }
    }
    let many: Vec<String> = (0..65).map(|i| i.to_string()).collect();
    for n in [63, 64, 65] {
        let mut wire = BytesMut::new();
        encode_command(&many[..n], &mut wire);
        let (reqs, e) = run(&wire, wire.len(), &Limits::default());
        assert_eq!((reqs.len(), reqs[0].len(), e), (1, n, None));
        inputs += 1;
    }
    assert_eq!(inputs, 1003);
}
