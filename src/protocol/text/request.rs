//! [`RequestDecoder`]: frames one text request (RESP2 array or inline line) at a time.
//!
//! Owns framing and size limits only; what the arguments mean is [`super::parse_command`]'s
//! business. Progress through a partly received array is kept between calls, so a request
//! delivered in many small reads costs time linear in its size.

use bytes::{Bytes, BytesMut};

use super::argv::{Argv, Spans};
use super::split::split_args;
use super::{Line, TextError, find_line, parse_i64, protocol, show_byte};
use crate::protocol::Limits;
use crate::protocol::limits::{MAX_INLINE_LEN, MAX_RESP_ARGS, MAX_RESP_NUMBER_LEN};

/// Most argument slots reserved before the arguments arrive: the declared count is only a
/// claim, so memory grows with bytes actually received.
const INITIAL_ARGS: usize = 64;

/// Longest `*N` / `$N` header content: the type byte plus a (possibly signed) number.
const HEADER_MAX: usize = 1 + MAX_RESP_NUMBER_LEN;

/// Resumable request decoder: RESP2 arrays (`*N\r\n$len\r\n...`) or inline lines, chosen
/// per request by the first byte (`*` = RESP, anything else = inline).
///
/// The caller owns the buffer and must only append to it between calls; the decoder
/// remembers how far into the front request it has parsed and never consumes any of it
/// until the whole request is there.
#[derive(Debug, Default)]
pub struct RequestDecoder {
    progress: Progress,
}

/// How far into the request at the front of the buffer the decoder has got.
#[derive(Debug, Default)]
enum Progress {
    /// Nothing parsed yet (an array header is re-read until complete; it is tiny).
    #[default]
    Idle,
    /// An inline line: `scanned` bytes are known to contain no `\n`.
    Inline { scanned: usize },
    /// A RESP array whose header has been read.
    Array(ArrayProgress),
}

/// A RESP array in progress.
#[derive(Debug)]
struct ArrayProgress {
    /// Declared argument count, already checked against [`MAX_RESP_ARGS`].
    declared: usize,
    /// Offset of the next unread byte (the next `$` header).
    pos: usize,
    /// `(start, len)` of every argument parsed so far, relative to the frame start.
    spans: Spans,
}

/// One step of array parsing.
enum Step {
    /// The array is complete: `pos` bytes make up the frame.
    Done,
    /// Wait for more bytes.
    More,
}

impl RequestDecoder {
    /// Decodes the request at the front of `buf`.
    ///
    /// `Ok(Some(args))` consumed exactly one request from the front of `buf`; the arguments
    /// are zero-copy slices of it (inline arguments with quotes or escapes are copied).
    /// `Ok(None)` means more bytes are needed; only complete no-op requests (`*0`, `*-1`,
    /// empty inline lines) may have been consumed. `Err` means the stream cannot be read
    /// any more.
    pub fn decode(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<Vec<Bytes>>, TextError> {
        Ok(self.decode_argv(buf, limits)?.map(|argv| argv.to_vec()))
    }

    /// [`RequestDecoder::decode`], keeping a RESP request's arguments as spans of its bytes
    /// (see [`Argv`]): the server's path, which slices out only the arguments a command
    /// keeps.
    pub fn decode_argv(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<Argv>, TextError> {
        if matches!(self.progress, Progress::Idle) {
            if let Some(argv) = whole_array(buf, limits) {
                return Ok(Some(argv));
            }
        }
        loop {
            // Taking the progress out means an error leaves the decoder Idle, so no stale
            // offsets outlive a dead stream.
            match std::mem::take(&mut self.progress) {
                Progress::Idle => match buf.first() {
                    None => return Ok(None),
                    Some(b'*') => match start_array(buf)? {
                        Header::Array(array) => self.progress = Progress::Array(array),
                        Header::Skipped => {}
                        Header::Incomplete => return Ok(None),
                    },
                    Some(_) => self.progress = Progress::Inline { scanned: 0 },
                },
                Progress::Inline { mut scanned } => match take_inline(buf, &mut scanned)? {
                    None => {
                        self.progress = Progress::Inline { scanned };
                        return Ok(None);
                    }
                    Some(args) if args.is_empty() => {}
                    Some(args) => return Ok(Some(args.into())),
                },
                Progress::Array(mut array) => match array.advance(buf, limits)? {
                    Step::More => {
                        self.progress = Progress::Array(array);
                        return Ok(None);
                    }
                    Step::Done => return Ok(Some(array.finish(buf))),
                },
            }
        }
    }
}

/// What reading an array header gave.
enum Header {
    /// An array with at least one argument to parse.
    Array(ArrayProgress),
    /// A no-op array (`*0`, `*-1`) that has been consumed.
    Skipped,
    /// The header has not fully arrived.
    Incomplete,
}

/// Reads a `*N\r\n` header at the front of `buf`.
fn start_array(buf: &mut BytesMut) -> Result<Header, TextError> {
    let end = match find_line(buf, 0, 0, HEADER_MAX) {
        Line::Found(end) => end,
        Line::Incomplete => return Ok(Header::Incomplete),
        Line::TooLong => return Err(protocol("too big mbulk count string")),
        Line::BadEnding => return Err(protocol("invalid multibulk length")),
    };
    let declared =
        buf.get(1..end).and_then(parse_i64).ok_or_else(|| protocol("invalid multibulk length"))?;
    if declared <= 0 {
        // Redis treats `*0` and `*-1` as empty requests and moves on.
        let _ = buf.split_to(end + 2);
        return Ok(Header::Skipped);
    }
    let declared = usize::try_from(declared)
        .ok()
        .filter(|&n| n <= MAX_RESP_ARGS)
        .ok_or_else(|| protocol("invalid multibulk length"))?;
    Ok(Header::Array(ArrayProgress {
        declared,
        pos: end + 2,
        spans: Spans::with_capacity(declared.min(INITIAL_ARGS)),
    }))
}

impl ArrayProgress {
    /// Parses as many whole bulk strings as have arrived, starting where the last call
    /// stopped. A bulk string is taken only once its payload and `\r\n` are all present, so
    /// its header may be re-read, but headers are at most [`HEADER_MAX`] + 2 bytes.
    fn advance(&mut self, buf: &[u8], limits: &Limits) -> Result<Step, TextError> {
        while self.spans.len() < self.declared {
            let Some(&first) = buf.get(self.pos) else {
                return Ok(Step::More);
            };
            if first != b'$' {
                return Err(protocol(format!("expected '$', got '{}'", show_byte(first))));
            }
            let end = match find_line(buf, self.pos, self.pos, HEADER_MAX) {
                Line::Found(end) => end,
                Line::Incomplete => return Ok(Step::More),
                Line::TooLong => return Err(protocol("too big bulk count string")),
                Line::BadEnding => return Err(protocol("invalid bulk length")),
            };
            let len = buf
                .get(self.pos + 1..end)
                .and_then(parse_i64)
                .and_then(|n| usize::try_from(n).ok())
                .filter(|&n| n <= limits.max_bulk_len())
                .ok_or_else(|| protocol("invalid bulk length"))?;
            let start = end + 2;
            let frame_end = start
                .checked_add(len)
                .and_then(|n| n.checked_add(2))
                .filter(|&n| n <= limits.max_text_request())
                .ok_or_else(|| protocol("too big request"))?;
            if buf.len() < frame_end {
                return Ok(Step::More);
            }
            if buf.get(start + len..frame_end) != Some(b"\r\n".as_slice()) {
                return Err(protocol("expected CRLF after bulk string"));
            }
            self.spans.push((start, len));
            self.pos = frame_end;
        }
        Ok(Step::Done)
    }

    /// Splits the finished frame off `buf`; the arguments stay spans of it.
    fn finish(self, buf: &mut BytesMut) -> Argv {
        Argv::spans(buf.split_to(self.pos).freeze(), self.spans)
    }
}

/// The common case in one pass: a RESP array that has fully arrived, of at most
/// [`INITIAL_ARGS`] arguments, with every number in its plain form. `None` for anything
/// else (incomplete, unusual or wrong), which the resumable path then takes from the
/// start, so this accepts nothing that path would not, and returns the same spans.
fn whole_array(buf: &mut BytesMut, limits: &Limits) -> Option<Argv> {
    let (declared, mut pos) = plain_number(buf, 0, b'*')?;
    if declared == 0 || declared > INITIAL_ARGS {
        return None;
    }
    let mut spans = Spans::with_capacity(declared);
    for _ in 0..declared {
        let (len, start) = plain_number(buf, pos, b'$')?;
        let end = start.checked_add(len)?;
        if len > limits.max_bulk_len()
            || end + 2 > limits.max_text_request()
            || buf.get(end..end + 2)? != b"\r\n"
        {
            return None;
        }
        spans.push((start, len));
        pos = end + 2;
    }
    Some(Argv::spans(buf.split_to(pos).freeze(), spans))
}

/// Most digits [`plain_number`] reads: a number that long fits in a `usize`, so its
/// arithmetic needs no overflow checks.
const PLAIN_DIGITS: usize = if usize::BITS >= 64 { 18 } else { 9 };

/// A header `<kind><digits>\r\n` at `pos` whose number has no sign and no leading zero
/// (`0` alone aside) and at most [`PLAIN_DIGITS`] digits: its value and where the next
/// line starts.
fn plain_number(buf: &[u8], pos: usize, kind: u8) -> Option<(usize, usize)> {
    if *buf.get(pos)? != kind {
        return None;
    }
    let mut value = 0usize;
    let mut at = pos + 1;
    loop {
        match *buf.get(at)? {
            d @ b'0'..=b'9' if at - pos <= PLAIN_DIGITS && !(value == 0 && at > pos + 1) => {
                value = value * 10 + usize::from(d - b'0');
            }
            b'\r' if at > pos + 1 && *buf.get(at + 1)? == b'\n' => return Some((value, at + 2)),
            _ => return None,
        }
        at += 1;
    }
}

/// Takes one inline line if its `\n` has arrived; `scanned` records how much of it is known
/// to be newline-free so a long line arriving slowly is scanned once.
fn take_inline(buf: &mut BytesMut, scanned: &mut usize) -> Result<Option<Vec<Bytes>>, TextError> {
    // The `\n` may sit at most at index MAX_INLINE_LEN, so the line is at most that long.
    let window_end = buf.len().min(MAX_INLINE_LEN + 1);
    let found = buf.get(*scanned..window_end).and_then(|w| w.iter().position(|&b| b == b'\n'));
    let Some(offset) = found else {
        if buf.len() > MAX_INLINE_LEN {
            return Err(protocol("too big inline request"));
        }
        *scanned = buf.len();
        return Ok(None);
    };
    let newline = *scanned + offset;
    let line = buf.split_to(newline + 1).freeze();
    let content_end =
        if newline > 0 && line.get(newline - 1) == Some(&b'\r') { newline - 1 } else { newline };
    let args = split_args(&line.slice(..content_end))
        .ok_or_else(|| protocol("unbalanced quotes in request"))?;
    // Redis's guard against browsers posting to the cache port: an HTTP request line or
    // header as the first token means the peer is not a Redis client.
    let is_http = |a: &Bytes| a.eq_ignore_ascii_case(b"post") || a.eq_ignore_ascii_case(b"host:");
    if args.first().is_some_and(is_http) {
        return Err(TextError::CrossProtocol);
    }
    Ok(Some(args))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_count_reserves_a_bounded_chunk() {
        let mut buf = BytesMut::from(format!("*{MAX_RESP_ARGS}\r\n$1\r\n").as_bytes());
        let mut decoder = RequestDecoder::default();
        assert_eq!(decoder.decode(&mut buf, &Limits::default()), Ok(None));
        let Progress::Array(array) = &decoder.progress else {
            panic!("expected an array in progress, got {:?}", decoder.progress);
        };
        assert_eq!(array.declared, MAX_RESP_ARGS);
        assert!(array.spans.capacity() <= INITIAL_ARGS);
    }

    #[test]
    fn error_resets_progress() {
        let mut buf = BytesMut::from(&b"*2\r\n$1\r\na\r\nx"[..]);
        let mut decoder = RequestDecoder::default();
        assert!(decoder.decode(&mut buf, &Limits::default()).is_err());
        assert!(matches!(decoder.progress, Progress::Idle));
    }
}
