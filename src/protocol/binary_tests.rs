use super::*;

fn req(opcode: u8, key: &'static [u8], value: &'static [u8], ttl_ms: u64) -> RequestFrame {
    RequestFrame {
        opcode,
        flags: 0,
        id: 7,
        ttl_ms,
        key: Bytes::from_static(key),
        value: Bytes::from_static(value),
    }
}

fn body_of(frame: &RequestFrame) -> Bytes {
    let mut buf = BytesMut::new();
    frame.encode(&mut buf);
    buf.split_off(LEN_PREFIX).freeze()
}

#[test]
fn request_round_trips() {
    let f = req(Opcode::Set as u8, b"k", b"value", 1500);
    assert_eq!(RequestFrame::parse(body_of(&f)), Ok(f));
}

#[test]
fn request_len_prefix_matches_body_and_starts_with_zero() {
    let mut buf = BytesMut::new();
    req(Opcode::Get as u8, b"key", b"", 0).encode(&mut buf);
    assert_eq!(buf[0], 0);
    assert_eq!(u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize, buf.len() - 4);
}

#[test]
fn parse_rejects_short_header_with_id_when_readable() {
    // version, op, flags, id = 9, then nothing: the id is echoed.
    let body = Bytes::from_static(&[1, 2, 0, 0, 0, 0, 0, 9]);
    assert_eq!(RequestFrame::parse(body), Err(FrameError::Short { id: 9, len: 8, need: 18 }));
}

#[test]
fn parse_rejects_key_past_end() {
    let mut body = BytesMut::from(&body_of(&req(2, b"", b"", 0))[..]);
    let n = body.len();
    body[n - 1] = 5; // key_len = 5 but no bytes follow
    let err = RequestFrame::parse(body.freeze()).unwrap_err();
    assert!(matches!(err, FrameError::Short { id: 7, need: 23, .. }));
}

#[test]
fn parse_rejects_bad_version_fatally() {
    assert_eq!(RequestFrame::parse(Bytes::from_static(&[2, 1])), Err(FrameError::Version(2)));
}

fn reply_frame(op: Opcode, reply: &Reply) -> ResponseFrame {
    let mut buf = BytesMut::new();
    encode_reply(3, op as u8, reply, &mut buf);
    let body = buf.split_off(LEN_PREFIX).freeze();
    ResponseFrame::parse(body).expect("valid response")
}

#[test]
fn replies_take_the_opcode_shape() {
    let del = reply_frame(Opcode::Del, &Reply::Int(1));
    assert_eq!((del.status, &del.payload[..]), (0, &[1u8][..]));
    let ttl_missing = reply_frame(Opcode::Ttl, &Reply::Int(-2));
    assert_eq!(ttl_missing.status(), Some(Status::NotFound));
    let ttl = reply_frame(Opcode::Ttl, &Reply::Int(1500));
    assert_eq!(&ttl.payload[..], &1500i64.to_be_bytes());
    let miss = reply_frame(Opcode::Get, &Reply::Nil);
    assert_eq!(miss.status(), Some(Status::NotFound));
    let err = reply_frame(Opcode::Get, &Reply::error(Status::Busy, "slow down"));
    assert_eq!((err.status(), &err.payload[..]), (Some(Status::Busy), &b"slow down"[..]));
    assert_eq!(err.id, 3);
}

#[test]
fn to_reply_inverts_encode_reply() {
    let cases = [
        (Opcode::Get, Reply::Bulk(Bytes::from_static(b"v"))),
        (Opcode::Get, Reply::Nil),
        (Opcode::Set, Reply::Ok),
        (Opcode::Del, Reply::Int(1)),
        (Opcode::Del, Reply::Int(0)),
        (Opcode::Ttl, Reply::Int(-1)),
        (Opcode::Ttl, Reply::Int(-2)),
        (Opcode::Ttl, Reply::Int(42)),
        (Opcode::Ping, Reply::Simple("PONG")),
        (Opcode::Ping, Reply::Bulk(Bytes::from_static(b"hi"))),
        (Opcode::Get, Reply::error(Status::WrongShard, "shard 3")),
        (Opcode::Cmd, Reply::Int(7)),
        (Opcode::Cmd, Reply::Nil),
        (Opcode::Cmd, Reply::Array(vec![Reply::Ok, Reply::Bulk(Bytes::from_static(b"x"))])),
        (Opcode::Cmd, Reply::error(Status::InvalidArgument, "syntax error")),
    ];
    for (op, reply) in cases {
        assert_eq!(to_reply(op, &reply_frame(op, &reply)), reply, "{op:?}");
    }
}

#[test]
fn response_parse_rejects_short_and_bad_version() {
    assert!(matches!(
        ResponseFrame::parse(Bytes::from_static(&[1, 0, 0])),
        Err(FrameError::Short { .. })
    ));
    let body = Bytes::from_static(&[9, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(ResponseFrame::parse(body), Err(FrameError::Version(9)));
}

#[test]
fn cmd_replies_are_resp3_payloads() {
    let map = Reply::Map(vec![(Reply::Bulk(Bytes::from_static(b"k")), Reply::Int(1))]);
    let frame = reply_frame(Opcode::Cmd, &map);
    assert_eq!(frame.status(), Some(Status::Ok));
    assert_eq!(&frame.payload[..], b"%1\r\n$1\r\nk\r\n:1\r\n");
    let nil = reply_frame(Opcode::Cmd, &Reply::Nil);
    assert_eq!((nil.status(), &nil.payload[..]), (Some(Status::Ok), &b"_\r\n"[..]));
    let err = reply_frame(Opcode::Cmd, &Reply::error(Status::OutOfMemory, "full"));
    assert_eq!((err.status(), &err.payload[..]), (Some(Status::OutOfMemory), &b"full"[..]));
}

#[test]
fn cmd_frame_carries_a_resp_array() {
    let f = cmd_frame(&["GET", "k"]);
    assert_eq!(f.opcode, Opcode::Cmd as u8);
    assert!(f.key.is_empty());
    assert_eq!(&f.value[..], b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
}
