use bytes::Bytes;

use super::*;
use crate::cmd::string::SetArgs;
use crate::protocol::binary::RequestFrame;

fn frame_bytes(opcode: u8, id: u32, key: &'static [u8], value: &'static [u8]) -> BytesMut {
    let f = RequestFrame {
        opcode,
        id,
        key: Bytes::from_static(key),
        value: Bytes::from_static(value),
        ..Default::default()
    };
    let mut buf = BytesMut::new();
    f.encode(&mut buf);
    buf
}

fn decode_all(codec: &mut ServerCodec, buf: &mut BytesMut) -> Vec<Inbound> {
    let mut out = Vec::new();
    for _ in 0..100_000 {
        match codec.decode(buf).expect("decodes") {
            Some(item) => out.push(item),
            None => break,
        }
    }
    out
}

#[test]
fn decodes_binary_get() {
    let mut codec = ServerCodec::new(Limits::default());
    let mut buf = frame_bytes(Opcode::Get as u8, 5, b"k", b"");
    let got = decode_all(&mut codec, &mut buf);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id, 5);
    assert_eq!(got[0].command, Ok(Command::Get(Bytes::from_static(b"k"))));
    assert_eq!(codec.dialect(), Some(Dialect::Binary));
    assert!(buf.is_empty());
}

#[test]
fn binary_bytes_delivered_in_pieces_decode_the_same() {
    let mut whole = BytesMut::new();
    for id in 0..20u32 {
        whole.extend_from_slice(&frame_bytes(Opcode::Set as u8, id, b"key", b"some value"));
    }
    for piece in [1usize, 2, 3, 7, 18, 64] {
        let mut codec = ServerCodec::new(Limits::default());
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for chunk in whole.chunks(piece) {
            buf.extend_from_slice(chunk);
            got.extend(decode_all(&mut codec, &mut buf));
        }
        assert_eq!(got.len(), 20, "piece size {piece}");
        for (i, item) in got.iter().enumerate() {
            assert_eq!(item.id, i as u32);
            let want = Command::Set(SetArgs {
                key: Bytes::from_static(b"key"),
                value: Bytes::from_static(b"some value"),
                ttl: None,
                more: None,
            });
            assert_eq!(item.command, Ok(want));
        }
    }
}

#[test]
fn decode_rejects_len_over_max_before_buffering() {
    let limits = Limits { max_key_size: 16, max_value_size: 16 };
    let mut codec = ServerCodec::new(limits);
    let mut buf = BytesMut::from(&[0u8, 0, 2, 0][..]); // len = 512 > 18 + 32 + FORWARD_OVERHEAD
    match codec.decode(&mut buf) {
        Err(CodecError::Fatal { status, .. }) => assert_eq!(status, Status::FrameTooLarge),
        other => panic!("expected fatal, got {other:?}"),
    }
}

#[test]
fn huge_declared_len_does_not_allocate() {
    let mut codec = ServerCodec::new(Limits::default());
    // len just under the default max: incomplete, must not reserve it.
    let len = (Limits::default().max_frame_len() as u32).to_be_bytes();
    let mut buf = BytesMut::with_capacity(64);
    buf.extend_from_slice(&len);
    buf.extend_from_slice(&[1, 2, 0, 0]);
    assert!(codec.decode(&mut buf).expect("incomplete is fine").is_none());
    assert!(buf.capacity() <= 64);
    assert!(codec.is_mid_frame(&buf));
}

#[test]
fn short_frame_is_an_error_reply_not_fatal() {
    let mut codec = ServerCodec::new(Limits::default());
    // len = 8: version, opcode GET, flags, id = 42; then a valid frame follows.
    let mut buf = BytesMut::from(&[0u8, 0, 0, 8, 1, 2, 0, 0, 0, 0, 0, 42][..]);
    buf.extend_from_slice(&frame_bytes(Opcode::Ping as u8, 43, b"", b""));
    let got = decode_all(&mut codec, &mut buf);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].id, 42);
    assert_eq!(got[0].command.as_ref().map_err(|e| e.status), Err(Status::InvalidArgument));
    assert_eq!(got[1].command, Ok(Command::Ping(None)));
}

#[test]
fn bad_version_is_fatal() {
    let mut codec = ServerCodec::new(Limits::default());
    let mut buf = BytesMut::from(&[0u8, 0, 0, 2, 9, 1][..]);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(CodecError::Fatal { status: Status::ProtocolError, .. })
    ));
}

#[test]
fn fatal_reply_uses_the_dialect() {
    let mut codec = ServerCodec::new(Limits::default());
    let mut buf = BytesMut::from(&b"PING\r\n"[..]);
    let _ = decode_all(&mut codec, &mut buf);
    let mut out = BytesMut::new();
    codec.encode_fatal(Status::ProtocolError, "Protocol error: x", &mut out);
    assert_eq!(&out[..], b"-ERR Protocol error: x\r\n");
}

#[test]
fn client_codec_round_trips_a_response() {
    let mut buf = BytesMut::new();
    binary::encode_response_parts(9, Status::Ok as u8, b"payload", &mut buf);
    let mut codec = ClientCodec::default();
    let mut partial = BytesMut::new();
    let mut got = None;
    for b in buf.iter() {
        partial.extend_from_slice(&[*b]);
        if let Some(f) = codec.decode(&mut partial).expect("decodes") {
            got = Some(f);
        }
    }
    let f = got.expect("one frame");
    assert_eq!((f.id, f.status(), &f.payload[..]), (9, Some(Status::Ok), &b"payload"[..]));
}

#[test]
fn client_codec_rejects_oversize_response() {
    let mut codec = ClientCodec::new(10);
    let mut buf = BytesMut::from(&[0u8, 0, 0, 11][..]);
    assert!(matches!(codec.decode(&mut buf), Err(ClientCodecError::FrameTooLarge { .. })));
}
