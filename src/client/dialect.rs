//! Telling what speaks on a port before using it: shale's binary protocol, or only Redis
//! text (a real redis-server, twemproxy). A binary request sent to a Redis port gets no
//! answer at all (Redis waits for a newline), so `shale cli`, `bench` and `stress` would only
//! time out; [`probe`] lets them say what is wrong instead. Checking costs one extra
//! connection and round trip when a tool starts.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Default time [`probe`] waits to connect and for the first byte of the answer.
pub const DIALECT_PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// What answered the probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// shale (server or router), which speaks the binary protocol too.
    Binary,
    /// A Redis-text-only server (redis-server, a proxy): no binary protocol there.
    RedisText,
    /// No answer in time, a refused connection, or bytes that are neither.
    Unknown,
}

/// Most bytes of the probe's answer looked at.
const PROBE_READ: usize = 512;

/// Asks `INFO server` in Redis text, which shale and Redis both answer, and reads the start
/// of the answer: shale's names `shale_version`, Redis's does not, and a text-only proxy
/// answers an error. (A binary probe cannot work: Redis looks for the end of a text line
/// with C string functions, which stop at the binary frame's leading zero byte, so it
/// would wait for more bytes forever.) `NOAUTH` says nothing about the dialect.
pub async fn probe(addr: &str, timeout: Duration) -> Dialect {
    let attempt = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        stream.write_all(b"INFO server\r\n").await.ok()?;
        let mut seen = Vec::with_capacity(PROBE_READ);
        let mut chunk = [0u8; PROBE_READ];
        while seen.len() < PROBE_READ {
            let n = stream.read(&mut chunk[..PROBE_READ - seen.len()]).await.ok()?;
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&chunk[..n]);
            if verdict(&seen, false) != Dialect::Unknown {
                break;
            }
        }
        Some(verdict(&seen, true))
    };
    tokio::time::timeout(timeout, attempt).await.ok().flatten().unwrap_or(Dialect::Unknown)
}

/// What the answer so far says; `done`: nothing more will come.
fn verdict(seen: &[u8], done: bool) -> Dialect {
    let has = |needle: &[u8]| seen.windows(needle.len()).any(|w| w == needle);
    if has(b"shale_version:") {
        Dialect::Binary
    } else if seen.starts_with(b"-NOAUTH") {
        Dialect::Unknown
    } else if seen.starts_with(b"-") || (seen.starts_with(b"$") && (done || has(b"redis_version:")))
    {
        Dialect::RedisText
    } else {
        Dialect::Unknown
    }
}

/// The sentence `shale cli`, `bench` and `stress` print for a Redis-text port; `hint` is
/// how to talk to it instead, if the tool can.
pub fn redis_text_message(addr: &str, hint: Option<&str>) -> String {
    let base = format!("{addr} answers Redis text, not the shale binary protocol");
    match hint {
        Some(hint) => format!("{base}; {hint}"),
        None => base,
    }
}
