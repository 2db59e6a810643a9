//! The [`split`] harness: a decoder must not care how its input was cut into reads.

use bytes::BytesMut;
use tokio_util::codec::Decoder;

use crate::codec::{ClientCodec, Inbound, ServerCodec};
use crate::protocol::binary::ResponseFrame;
use crate::protocol::limits::{MAX_FRAME_LEN_HARD, MAX_INLINE_LEN};
use crate::protocol::text::ReplyDecoder;
use crate::protocol::{Limits, Reply};

use super::check::Stream;
use super::{Config, cut};

/// Inputs up to this long are also fed one byte per read.
const BYTEWISE_MAX: usize = 1024;

/// What a decoder run produced, in order: items, then how it ended.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    Server(Inbound),
    Client(ResponseFrame),
    Reply(Reply),
    /// The error that ended the stream, by its `Debug` text (the codec errors hold
    /// `io::Error`, which has no equality).
    Failed(String),
    /// Ran out of input with this many bytes still buffered.
    Pending(usize),
}

/// The decoders under test.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// `ServerCodec`, dialect picked by the first byte (binary or text).
    Server,
    /// `ServerCodec` with a `0x00` put in front unless the input starts with one.
    ServerBinary,
    /// `ClientCodec` with the config's frame limit.
    Client,
    /// `ReplyDecoder`.
    Replies,
}

/// Input: a config byte, a selector byte (low two bits pick the decoder, the rest seed the
/// cut points), then the stream. The stream decoded whole, cut at pseudo-random points, and
/// (when short) one byte at a time must give the same items, the same error and the same
/// number of bytes left buffered.
pub fn split(data: &[u8]) {
    let (cfg, rest) = Config::split(data);
    let (selector, stream) = rest.split_first().map_or((0, rest), |(b, r)| (*b, r));
    let target = [Target::Server, Target::ServerBinary, Target::Client, Target::Replies]
        [usize::from(selector & 0b11)];
    let mut bytes = Vec::with_capacity(stream.len() + 1);
    if matches!(target, Target::ServerBinary) && stream.first() != Some(&0) {
        bytes.push(0);
    }
    bytes.extend_from_slice(stream);

    let whole = run(target, &cfg.limits, &[&bytes]);
    let cuts = Config { chunk_seed: (selector >> 2).max(1), ..cfg }.chunks(&bytes);
    assert_eq!(run(target, &cfg.limits, &cuts), whole, "cut at {:?}", sizes(&cuts));
    if bytes.len() <= BYTEWISE_MAX {
        let bytewise = cut(&bytes, |_| 1);
        assert_eq!(run(target, &cfg.limits, &bytewise), whole, "fed one byte at a time");
    }
}

fn sizes(pieces: &[&[u8]]) -> Vec<usize> {
    pieces.iter().map(|p| p.len()).collect()
}

/// Feeds `pieces` one read at a time, decoding until each read is used up, and records
/// every item and how the stream ended.
fn run(target: Target, limits: &Limits, pieces: &[&[u8]]) -> Vec<Event> {
    let mut server = ServerCodec::new(*limits);
    let mut client = ClientCodec::new(limits.max_frame_len());
    let mut replies = ReplyDecoder::default();
    // Generous: this harness checks agreement; the decode harnesses check the exact bounds.
    let mut stream =
        Stream::new(MAX_FRAME_LEN_HARD.max(limits.max_text_request()) + MAX_INLINE_LEN);
    let mut events = Vec::new();
    for piece in pieces {
        stream.feed(piece);
        loop {
            let step = match target {
                Target::Server | Target::ServerBinary => stream
                    .step(|buf| server.decode(buf))
                    .map(|item| item.map(|(i, _)| Event::Server(i)))
                    .map_err(|e| format!("{e:?}")),
                Target::Client => stream
                    .step(|buf| client.decode(buf))
                    .map(|item| item.map(|(f, _)| Event::Client(f)))
                    .map_err(|e| format!("{e:?}")),
                Target::Replies => stream
                    .step(|buf: &mut BytesMut| replies.decode(buf, limits))
                    .map(|item| item.map(|(r, _)| Event::Reply(r)))
                    .map_err(|e| format!("{e:?}")),
            };
            match step {
                Ok(Some(event)) => events.push(event),
                Ok(None) => break,
                Err(e) => {
                    events.push(Event::Failed(e));
                    return events;
                }
            }
        }
    }
    events.push(Event::Pending(stream.buf.len()));
    events
}
