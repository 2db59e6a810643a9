//! The binary decode harnesses: [`server_binary_decode`] drives [`ServerCodec`] in its binary
//! dialect and [`client_response_decode`] drives [`ClientCodec`] and [`to_reply`]. Both cut
//! the input into reads, decode after each read as the connection loop does, and check
//! every item against the bytes it came from.

use bytes::BytesMut;
use tokio_util::codec::Decoder;

use crate::codec::{ClientCodec, ClientCodecError, CodecError, Dialect, ServerCodec, Shape};
use crate::protocol::binary::{FrameError, ResponseFrame, encode_reply, to_reply};
use crate::protocol::limits::{LEN_PREFIX, RESPONSE_HEADER_LEN};
use crate::protocol::{Opcode, Reply, Status, text};

use super::Config;
use super::check::{Stream, check_command, origin_of};

/// Feeds `[0x00] + input` (the `0x00` only if the input does not already start with it, so
/// the codec picks binary) to a [`ServerCodec`] and checks every item: it consumed exactly
/// one `len`-prefixed frame, its id and shape come from that frame, its command is within
/// the limits and its error reply is an error status; a fatal error names a real fault.
pub fn server_binary_decode(data: &[u8]) {
    let (cfg, rest) = Config::split(data);
    let mut bytes = Vec::with_capacity(rest.len() + 1);
    if rest.first() != Some(&0) {
        bytes.push(0);
    }
    bytes.extend_from_slice(rest);
    let limits = cfg.limits;
    let mut codec = ServerCodec::new(limits);
    let mut stream = Stream::new(limits.max_frame_len());
    let mut frame_start = 0;
    for chunk in cfg.chunks(&bytes) {
        stream.feed(chunk);
        loop {
            match stream.step(|buf| codec.decode(buf)) {
                Ok(Some((inbound, consumed))) => {
                    let end = stream.fed() - stream.buf.len();
                    let frame = &bytes[frame_start..end];
                    assert!(consumed <= frame.len(), "item took bytes of an earlier call");
                    check_frame_len(frame, limits.max_frame_len());
                    let body = &frame[LEN_PREFIX..];
                    assert_eq!(inbound.id, frame_id(body), "id of frame {frame:02x?}");
                    let opcode = body.get(1).copied().unwrap_or(0);
                    assert_eq!(inbound.shape, Shape::Binary { opcode });
                    match &inbound.command {
                        Ok(cmd) => check_command(cmd, &limits, origin_of(opcode)),
                        Err(e) => assert!(e.status.is_error() && !e.status.is_fatal(), "{e:?}"),
                    }
                    let mut out = BytesMut::new();
                    let reply = inbound.command.map_or_else(Reply::Error, |_| Reply::Ok);
                    crate::codec::encode_outbound(
                        inbound.id,
                        inbound.shape,
                        &reply,
                        false,
                        &mut out,
                    );
                    frame_start = end;
                }
                Ok(None) => break,
                Err(e) => return check_server_fatal(&e, &codec, &bytes[frame_start..], &limits),
            }
        }
    }
    assert_eq!(codec.dialect(), (!bytes.is_empty()).then_some(Dialect::Binary));
}

/// Asserts `frame` is exactly its `len` prefix plus `len` bytes, `len` within `max`.
fn check_frame_len(frame: &[u8], max: usize) {
    let len = declared_len(frame).expect("a decoded frame has its length prefix");
    assert!(len <= max, "frame of {len} bytes decoded, max {max}");
    assert_eq!(frame.len(), LEN_PREFIX + len, "item consumed other than one frame");
}

/// The big-endian `len` prefix at the front of `bytes`, if all four bytes are there.
fn declared_len(bytes: &[u8]) -> Option<usize> {
    let prefix: [u8; 4] = bytes.get(..LEN_PREFIX)?.try_into().ok()?;
    Some(u32::from_be_bytes(prefix) as usize)
}

/// The id a body carries: bytes 4..8 when the header got that far, else 0.
fn frame_id(body: &[u8]) -> u32 {
    body.get(4..8).map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// A fatal binary error must be justified by the frame it stopped at: a `len` over the limit
/// (FRAME_TOO_LARGE) or a version byte other than 1 (PROTOCOL_ERROR).
fn check_server_fatal(
    e: &CodecError,
    codec: &ServerCodec,
    rest: &[u8],
    limits: &crate::protocol::Limits,
) {
    let CodecError::Fatal { status, message } = e else {
        panic!("binary dialect returned {e:?}");
    };
    match status {
        Status::FrameTooLarge => {
            let len = declared_len(rest).expect("FRAME_TOO_LARGE after a whole prefix");
            assert!(len > limits.max_frame_len(), "{len} bytes is within the limit: {message}");
        }
        Status::ProtocolError => {
            let version = rest.get(LEN_PREFIX).copied();
            assert!(version.is_some_and(|v| v != 1), "PROTOCOL_ERROR on version {version:?}");
        }
        other => panic!("fatal binary error with status {other:?}: {message}"),
    }
    let mut out = BytesMut::new();
    codec.encode_fatal(*status, message, &mut out);
    assert!(out.starts_with(&[0]), "binary fatal reply is a binary frame");
}

/// Feeds the input (after the config byte) to a [`ClientCodec`] whose frame cap comes from
/// the config, checks each response frame against its bytes, and checks [`to_reply`] for
/// every opcode: the reply has that opcode's shape and is a fixed point of
/// `to_reply(parse(encode_reply(reply)))`.
pub fn client_response_decode(data: &[u8]) {
    let (cfg, bytes) = Config::split(data);
    let max = cfg.limits.max_frame_len();
    let mut codec = ClientCodec::new(max);
    let mut stream = Stream::new(max);
    let mut frame_start = 0;
    for chunk in cfg.chunks(bytes) {
        stream.feed(chunk);
        loop {
            match stream.step(|buf| codec.decode(buf)) {
                Ok(Some((frame, _))) => {
                    let end = stream.fed() - stream.buf.len();
                    let raw = &bytes[frame_start..end];
                    check_frame_len(raw, max);
                    check_response(&frame, &raw[LEN_PREFIX..]);
                    Opcode::ALL.into_iter().for_each(|op| check_to_reply(op, &frame));
                    frame_start = end;
                }
                Ok(None) => break,
                Err(e) => return check_client_error(&e, &bytes[frame_start..], max),
            }
        }
    }
}

/// A response frame holds exactly the fields of its body.
fn check_response(frame: &ResponseFrame, body: &[u8]) {
    assert!(body.len() >= RESPONSE_HEADER_LEN && body[0] == 1, "bad body accepted: {body:02x?}");
    assert_eq!(frame.status, body[1]);
    assert_eq!(frame.flags, u16::from_be_bytes([body[2], body[3]]));
    assert_eq!(frame.id, frame_id(body));
    assert_eq!(&frame.payload[..], &body[RESPONSE_HEADER_LEN..]);
}

/// The reply to an `op` request has the shapes `op` produces, and re-encoding it for the
/// same opcode reads back the same reply.
fn check_to_reply(op: Opcode, frame: &ResponseFrame) {
    let reply = to_reply(op, frame);
    let shape_ok = match (&reply, op) {
        (Reply::Error(e), _) => {
            let want = frame.status().unwrap_or(Status::Internal);
            assert!(e.status == want || e.status == Status::Internal, "{e:?} for {frame:?}");
            e.status.is_error()
        }
        (Reply::Nil, Opcode::Ttl) => false,
        (Reply::Nil, _) => true,
        (Reply::Int(n), Opcode::Del | Opcode::VSet | Opcode::VDel) => *n == 0 || *n == 1,
        (Reply::Int(_), Opcode::Ttl) => true,
        (Reply::Bulk(_), op) if op.answers_bulk() || op == Opcode::Ping => true,
        (Reply::Int(_), Opcode::Sync) => true,
        (Reply::Raw(Status::Stale, _), _) => frame.status() == Some(Status::Stale),
        (Reply::Simple("PONG"), Opcode::Ping) => true,
        (Reply::Ok, Opcode::Set | Opcode::Auth) => true,
        _ => false,
    };
    assert!(shape_ok, "{op:?} response {frame:?} became {reply:?}");
    let mut buf = BytesMut::new();
    encode_reply(frame.id, op as u8, &reply, &mut buf);
    let again = ClientCodec::default().decode(&mut buf).expect("re-encoded reply parses");
    let again = again.expect("re-encoded reply is whole");
    assert_eq!(to_reply(op, &again), reply, "{op:?} reply is not a fixed point");
    let mut text_out = BytesMut::new();
    text::encode_reply(&reply, &mut text_out);
}

/// A client-side error must be justified by the frame it stopped at.
fn check_client_error(e: &ClientCodecError, rest: &[u8], max: usize) {
    let len = declared_len(rest).expect("an error needs a whole prefix");
    let body = rest.get(LEN_PREFIX..LEN_PREFIX + len);
    match e {
        ClientCodecError::FrameTooLarge { len: got, max: cap } => {
            assert_eq!((*got, *cap), (len, max));
            assert!(len > max, "{len} bytes is within {max}");
        }
        ClientCodecError::Frame(FrameError::Short { len: got, .. }) => {
            assert_eq!(*got, len);
            assert!(len < RESPONSE_HEADER_LEN, "{len}-byte body called short");
        }
        ClientCodecError::Frame(FrameError::Version(v)) => {
            assert!(*v != 1 && body.and_then(|b| b.first()) == Some(v), "version {v}");
        }
        ClientCodecError::Io(io) => panic!("decoding raised an I/O error: {io}"),
    }
}
