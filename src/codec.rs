//! tokio-util `Decoder`/`Encoder`s over [`crate::protocol`]: [`ServerCodec`] for the
//! server and router's listening side (binary or Redis text, detected from the first
//! byte, each request parsed into a [`Command`] by [`crate::cmd`]), [`ClientCodec`] for the
//! client and router's backend side (binary only).
//!
//! Decoder discipline: `Ok(None)` while a frame is incomplete, exactly one frame consumed
//! per `Some`, and the declared length is checked before any bytes are buffered. Nothing
//! reserves memory from a length read off the wire: buffers grow only with bytes that
//! actually arrived. A frame whose boundary is intact but whose content is bad decodes
//! to an [`Inbound`] carrying an error reply; only an unreadable stream is a
//! [`CodecError`].

use std::io;

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::cmd::{self, Command};
use crate::protocol::binary::{self, FrameError, RequestFrame, ResponseFrame};
use crate::protocol::limits::{LEN_PREFIX, MAX_FRAME_LEN_HARD};
use crate::protocol::{ErrorReply, Limits, Opcode, Reply, Status, text};

/// Which protocol a server-side connection speaks; fixed by its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Length-prefixed binary frames (first byte 0x00).
    Binary,
    /// Redis RESP2 or inline commands.
    Text,
}

/// How a reply must be rendered: the dialect, and for binary the request's opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A binary response to a request with this opcode byte.
    Binary {
        /// The request's raw opcode.
        opcode: u8,
    },
    /// A RESP2 (or, after `HELLO 3`, RESP3) reply.
    Text,
    /// No reply at all (CLIENT REPLY OFF or SKIP).
    Silent,
}

/// One decoded request: its id (0 for text), reply shape, and the command or the error
/// reply its content earned. The arguments it came as are kept apart
/// ([`ServerCodec::take_argv`]) so this stays small enough to move cheaply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// The client-chosen id, echoed in the reply (binary only).
    pub id: u32,
    /// How to render the reply.
    pub shape: Shape,
    /// The command, or an error reply for bad content inside an intact frame.
    pub command: Result<Command, ErrorReply>,
}

/// A reply ready to encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    /// The id of the request this answers.
    pub id: u32,
    /// Rendering shape from the request.
    pub shape: Shape,
    /// The reply.
    pub reply: Reply,
}

/// Why a stream can no longer be read.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The stream is corrupt or over a limit: send a last error reply, then close.
    #[error("{status:?}: {message}")]
    Fatal {
        /// PROTOCOL_ERROR or FRAME_TOO_LARGE.
        status: Status,
        /// What was wrong, including the limit and the actual value where relevant.
        message: String,
    },
    /// An HTTP request or similar on the cache port: close without a reply.
    #[error("cross-protocol request")]
    CrossProtocol,
    /// The underlying stream failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Binary frame-boundary state, so a header is parsed once, not on every read.
#[derive(Debug, Clone, Copy)]
enum Frame {
    Head,
    Data(usize),
}

impl Frame {
    /// One step of framing: `Ok(Some(len))` when a whole frame of `len` bytes is buffered
    /// (its prefix already consumed), `Ok(None)` when more bytes are needed, `Err(len)` when
    /// the declared length is over `max`, before any of the body is buffered.
    fn next(&mut self, src: &mut BytesMut, max: usize) -> Result<Option<usize>, usize> {
        let len = match *self {
            Frame::Data(n) => n,
            Frame::Head => {
                if src.len() < LEN_PREFIX {
                    return Ok(None);
                }
                let len = src.get_u32() as usize;
                if len > max {
                    return Err(len);
                }
                *self = Frame::Data(len);
                len
            }
        };
        if src.len() < len {
            return Ok(None);
        }
        *self = Frame::Head;
        Ok(Some(len))
    }
}

/// Server-side codec: detects the dialect, then decodes requests and encodes replies.
#[derive(Debug)]
pub struct ServerCodec {
    limits: Limits,
    dialect: Option<Dialect>,
    frame: Frame,
    text: text::RequestDecoder,
    /// The arguments of the request decoded last (text and CMD requests), until taken.
    argv: Option<text::Argv>,
}

impl ServerCodec {
    /// A codec enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        Self { limits, dialect: None, frame: Frame::Head, text: Default::default(), argv: None }
    }

    /// Enforces `limits` from the next request on (after authentication, for instance).
    /// Call it between requests: a request being decoded may have been checked already.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The arguments of the request the last `decode` returned, if it had any (a text or
    /// CMD request; the typed binary opcodes have none). MONITOR and the slow log show
    /// them; taking them right after each `decode` keeps them paired with their request.
    pub fn take_argv(&mut self) -> Option<text::Argv> {
        self.argv.take()
    }

    /// The dialect, once the first byte has arrived.
    pub fn dialect(&self) -> Option<Dialect> {
        self.dialect
    }

    /// Whether a request has started but not completed (for the slow-frame timeout).
    pub fn is_mid_frame(&self, buf: &BytesMut) -> bool {
        !buf.is_empty() || matches!(self.frame, Frame::Data(_))
    }

    /// Encodes the last reply for a fatal error in the connection's dialect.
    pub fn encode_fatal(&self, status: Status, message: &str, dst: &mut BytesMut) {
        match self.dialect {
            Some(Dialect::Binary) => {
                binary::encode_response_parts(0, status as u8, message.as_bytes(), dst)
            }
            _ => {
                let reply = Reply::error(Status::ProtocolError, message.to_owned());
                text::encode_reply(&reply, dst);
            }
        }
    }

    fn decode_binary(&mut self, src: &mut BytesMut) -> Result<Option<Inbound>, CodecError> {
        let max = self.limits.max_frame_len();
        let len = match self.frame.next(src, max) {
            Ok(Some(len)) => len,
            Ok(None) => return Ok(None),
            Err(len) => {
                let message = format!("frame length {len} exceeds limit {max}");
                return Err(CodecError::Fatal { status: Status::FrameTooLarge, message });
            }
        };
        let body = src.split_to(len).freeze();
        let opcode = body.get(1).copied().unwrap_or(0);
        let shape = Shape::Binary { opcode };
        let inbound = match RequestFrame::parse(body) {
            Ok(frame) if frame.opcode == Opcode::Cmd as u8 && frame.flags == 0 => {
                let id = frame.id;
                match cmd::cmd_argv(frame.value, &self.limits) {
                    Ok(argv) => {
                        let command = cmd::parse(&argv, &self.limits);
                        self.argv = Some(argv);
                        Inbound { id, shape, command }
                    }
                    Err(e) => Inbound { id, shape, command: Err(e) },
                }
            }
            Ok(frame) => {
                Inbound { id: frame.id, shape, command: cmd::from_frame(frame, &self.limits) }
            }
            Err(FrameError::Short { id, len, need }) => {
                let msg = format!("short frame: {len} bytes, need at least {need}");
                Inbound { id, shape, command: Err(ErrorReply::invalid(msg)) }
            }
            Err(e @ FrameError::Version(_)) => {
                let message = e.to_string();
                return Err(CodecError::Fatal { status: Status::ProtocolError, message });
            }
        };
        Ok(Some(inbound))
    }

    fn decode_text(&mut self, src: &mut BytesMut) -> Result<Option<Inbound>, CodecError> {
        match self.text.decode_argv(src, &self.limits) {
            Ok(Some(argv)) => {
                let command = cmd::parse(&argv, &self.limits);
                self.argv = Some(argv);
                Ok(Some(Inbound { id: 0, shape: Shape::Text, command }))
            }
            Ok(None) => Ok(None),
            Err(text::TextError::CrossProtocol) => Err(CodecError::CrossProtocol),
            Err(text::TextError::Protocol(msg)) => Err(CodecError::Fatal {
                status: Status::ProtocolError,
                message: format!("Protocol error: {msg}"),
            }),
        }
    }
}

impl Decoder for ServerCodec {
    type Item = Inbound;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Inbound>, CodecError> {
        self.argv = None;
        let dialect = match self.dialect {
            Some(d) => d,
            None => {
                let Some(&first) = src.first() else { return Ok(None) };
                let d = if first == 0 { Dialect::Binary } else { Dialect::Text };
                self.dialect = Some(d);
                d
            }
        };
        match dialect {
            Dialect::Binary => self.decode_binary(src),
            Dialect::Text => self.decode_text(src),
        }
    }
}

impl Encoder<Outbound> for ServerCodec {
    type Error = CodecError;

    fn encode(&mut self, item: Outbound, dst: &mut BytesMut) -> Result<(), CodecError> {
        encode_outbound(item.id, item.shape, &item.reply, false, dst);
        Ok(())
    }
}

/// Renders a reply in the given shape (text in RESP3 when `resp3`); the allocation-free
/// path the connection loop uses.
pub fn encode_outbound(id: u32, shape: Shape, reply: &Reply, resp3: bool, dst: &mut BytesMut) {
    match shape {
        Shape::Binary { opcode } => binary::encode_reply(id, opcode, reply, dst),
        Shape::Text if resp3 => text::encode_reply_resp3(reply, dst),
        Shape::Text => text::encode_reply(reply, dst),
        Shape::Silent => {}
    }
}

/// Why a client-side stream can no longer be read.
#[derive(Debug, thiserror::Error)]
pub enum ClientCodecError {
    /// A response frame declared a length over the limit.
    #[error("response frame length {len} exceeds limit {max}")]
    FrameTooLarge {
        /// Declared length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A response frame could not be parsed.
    #[error("bad response frame: {0}")]
    Frame(#[from] FrameError),
    /// The underlying stream failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Client-side codec: encodes binary requests and decodes binary responses.
#[derive(Debug)]
pub struct ClientCodec {
    max_frame_len: usize,
    frame: Frame,
}

impl Default for ClientCodec {
    fn default() -> Self {
        Self::new(MAX_FRAME_LEN_HARD)
    }
}

impl ClientCodec {
    /// A codec accepting response frames up to `max_frame_len` (capped at the hard limit).
    pub fn new(max_frame_len: usize) -> Self {
        Self { max_frame_len: max_frame_len.min(MAX_FRAME_LEN_HARD), frame: Frame::Head }
    }
}

impl Decoder for ClientCodec {
    type Item = ResponseFrame;
    type Error = ClientCodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<ResponseFrame>, ClientCodecError> {
        let max = self.max_frame_len;
        let len = match self.frame.next(src, max) {
            Ok(Some(len)) => len,
            Ok(None) => return Ok(None),
            Err(len) => return Err(ClientCodecError::FrameTooLarge { len, max }),
        };
        Ok(Some(ResponseFrame::parse(src.split_to(len).freeze())?))
    }
}

impl Encoder<&RequestFrame> for ClientCodec {
    type Error = ClientCodecError;

    fn encode(&mut self, item: &RequestFrame, dst: &mut BytesMut) -> Result<(), ClientCodecError> {
        item.encode(dst);
        Ok(())
    }
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
