//! The RESP2 requests redis-benchmark and redis-cli send (arrays of bulk strings, and inline
//! commands), parsed across reads and answered from constants.

use std::io;

/// A command's header line, or an inline command, longer than this is malformed.
const MAX_LINE: usize = 64 * 1024;
const MAX_ARGS: i64 = 1024 * 1024;
const MAX_BULK: i64 = 1024 * 1024;
/// A connection holding more unparsed input than this is dropped.
const MAX_INPUT: usize = 16 * 1024 * 1024;
/// A GET hit on redis-benchmark's `-d 32` value.
const GET_REPLY: &[u8] = b"$32\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n";

/// Input that is not RESP2 (or an inline command) as redis-benchmark and redis-cli send it.
struct Malformed;

/// Answers every complete command at the start of `buf`, appending the replies to `out`, and
/// returns how many bytes those commands took: the rest is the start of an incomplete one.
fn serve(buf: &[u8], out: &mut Vec<u8>) -> Result<usize, Malformed> {
    let mut pos = 0;
    while let Some((used, name)) = command(&buf[pos..])? {
        pos += used;
        let Some(name) = name else { continue };
        out.extend_from_slice(match name {
            n if n.eq_ignore_ascii_case(b"SET") => b"+OK\r\n",
            n if n.eq_ignore_ascii_case(b"GET") => GET_REPLY,
            n if n.eq_ignore_ascii_case(b"PING") => b"+PONG\r\n",
            n if n.eq_ignore_ascii_case(b"CONFIG") => b"*0\r\n",
            _ => b"-ERR unknown command\r\n",
        });
    }
    Ok(pos)
}

/// The first command in a buffer: its length and name (None for an empty one, which gets no
/// reply, as in Redis), or None if it is not all there yet.
type Command<'a> = Result<Option<(usize, Option<&'a [u8]>)>, Malformed>;

fn command(buf: &[u8]) -> Command<'_> {
    match buf.first() {
        None => Ok(None),
        Some(b'*') => multibulk(buf),
        Some(_) => {
            let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
                return if buf.len() > MAX_LINE { Err(Malformed) } else { Ok(None) };
            };
            let name = buf[..nl].split(|b| b.is_ascii_whitespace()).find(|w| !w.is_empty());
            Ok(Some((nl + 1, name)))
        }
    }
}

/// `*N\r\n` then N times `$len\r\n<len bytes>\r\n`.
fn multibulk(buf: &[u8]) -> Command<'_> {
    let Some((count, mut pos)) = header(buf, 0)? else { return Ok(None) };
    if count > MAX_ARGS {
        return Err(Malformed);
    }
    let mut name = None;
    for i in 0..count {
        match buf.get(pos) {
            None => return Ok(None),
            Some(b'$') => {}
            Some(_) => return Err(Malformed),
        }
        let Some((len, start)) = header(buf, pos)? else { return Ok(None) };
        if len > MAX_BULK {
            return Err(Malformed);
        }
        let end = start + len as usize;
        match buf.get(end..end + 2) {
            None => return Ok(None),
            Some(b"\r\n") => {}
            Some(_) => return Err(Malformed),
        }
        if i == 0 {
            name = Some(&buf[start..end]);
        }
        pos = end + 2;
    }
    Ok(Some((pos, name)))
}

/// The number of the `*N\r\n` or `$len\r\n` line at `at`, and where the line ends.
fn header(buf: &[u8], at: usize) -> Result<Option<(i64, usize)>, Malformed> {
    let line = &buf[at + 1..];
    let Some(cr) = line.iter().take(MAX_LINE).position(|&b| b == b'\r') else {
        return if line.len() > MAX_LINE { Err(Malformed) } else { Ok(None) };
    };
    match line.get(cr + 1) {
        None => return Ok(None),
        Some(b'\n') => {}
        Some(_) => return Err(Malformed),
    }
    let digits = &line[..cr]; // no negative counts or lengths: no client sends them
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(Malformed);
    }
    let n = digits.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
    Ok(Some((n, at + 1 + cr + 2)))
}

/// Serves the complete commands in `input`, keeping the rest for the next read.
pub fn consume(input: &mut Vec<u8>, output: &mut Vec<u8>) -> io::Result<()> {
    let used = serve(input, output).map_err(|_| io::Error::other("malformed request"))?;
    input.drain(..used);
    if input.len() > MAX_INPUT {
        return Err(io::Error::other("request too large"));
    }
    Ok(())
}
