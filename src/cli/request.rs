//! [`Request`]: what one `shale cli` command line asks for, and which opcode carries it.
//!
//! The six operations the binary protocol has typed opcodes for (PING, GET, SET with an
//! optional TTL, DEL of one key, TTL/PTTL, STATS) use them; everything else, and every
//! variant those opcodes cannot express (`SET .. NX`, `DEL a b`, `PING msg`), is sent
//! as its argument vector with the CMD opcode ([`crate::client::Client::cmd`]). The split
//! reuses the server's own parser ([`crate::cmd::parse`]), so "is this a plain SET?" is
//! answered exactly as the server would, and arguments it rejects are sent as they are so
//! the server's error message is the one shown.
//!
//! Owns the CLI-only `--ttl DURATION` option of SET and splitting REPL lines into
//! arguments (with the server's inline-request rules, quotes and escapes included).

use std::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::cmd::expiry::TtlUnit;
use crate::cmd::{Command, parse};
use crate::protocol::text::RequestDecoder;
use crate::protocol::{ErrorReply, Limits};
use crate::units::parse_duration;

/// One command, routed to an opcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// An operation the binary protocol has a typed opcode for.
    Binary(Op),
    /// Anything else, sent with the CMD opcode as these arguments.
    Cmd(Vec<Bytes>),
}

/// The binary protocol's operations, as the CLI uses them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// PING without a message.
    Ping,
    /// GET.
    Get(Bytes),
    /// SET, with a TTL if one was given.
    Set {
        /// The key.
        key: Bytes,
        /// The value, byte for byte.
        value: Bytes,
        /// `EX`, `PX` or `--ttl`.
        ttl: Option<Duration>,
    },
    /// DEL of one key.
    Del(Bytes),
    /// TTL, answered in the unit asked for (TTL = seconds, PTTL = milliseconds).
    Ttl(Bytes, TtlUnit),
    /// STATS.
    Stats,
}

impl Request {
    /// Routes an argument vector (command name first). Fails only for a malformed
    /// CLI-only `--ttl` option; everything the server can judge is left to the server.
    pub fn parse(args: Vec<Bytes>) -> Result<Self, ErrorReply> {
        let args = expand_ttl_option(args)?;
        let Ok(cmd) = parse(&args.clone().into(), &Limits::default()) else {
            return Ok(Request::Cmd(args));
        };
        let op = match cmd {
            Command::Ping(None) => Op::Ping,
            Command::Get(key) => Op::Get(key),
            Command::Set(set) if set.is_plain() => {
                Op::Set { key: set.key, value: set.value, ttl: set.ttl }
            }
            Command::Del(mut keys) if keys.len() == 1 => match keys.pop() {
                Some(key) => Op::Del(key),
                None => return Ok(Request::Cmd(args)),
            },
            Command::Ttl(key) => Op::Ttl(key, TtlUnit::Seconds),
            Command::Pttl(key) => Op::Ttl(key, TtlUnit::Millis),
            Command::Stats(()) => Op::Stats,
            _ => return Ok(Request::Cmd(args)),
        };
        Ok(Request::Binary(op))
    }

    /// Whether the reply is printed as-is even on a terminal, like redis-cli does for
    /// INFO: its text is meant for people and quoting would turn newlines into `\n`.
    pub fn verbatim(&self) -> bool {
        match self {
            Request::Binary(Op::Stats) => true,
            Request::Cmd(args) => args.first().is_some_and(|n| n.eq_ignore_ascii_case(b"info")),
            Request::Binary(_) => false,
        }
    }
}

/// Rewrites `SET .. --ttl DURATION` (a shale CLI extension taking `10s`, `250ms`, `5m`)
/// to `PX <milliseconds>`, which both dialects understand.
fn expand_ttl_option(mut args: Vec<Bytes>) -> Result<Vec<Bytes>, ErrorReply> {
    let is_set = args.first().is_some_and(|n| n.eq_ignore_ascii_case(b"set"));
    // Options start after `SET key value`.
    let Some(at) = args.iter().skip(3).position(|a| a.as_ref() == b"--ttl") else {
        return Ok(args);
    };
    if !is_set {
        return Ok(args);
    }
    let at = at + 3;
    let given = args.get(at + 1).ok_or_else(|| ErrorReply::invalid("--ttl needs a duration"))?;
    let text = std::str::from_utf8(given).unwrap_or_default();
    let ttl = parse_duration(text).map_err(|e| ErrorReply::invalid(e.to_string()))?;
    let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
    args[at] = Bytes::from_static(b"PX");
    args[at + 1] = Bytes::from(millis.to_string());
    Ok(args)
}

/// Splits a REPL line into arguments exactly like the server splits an inline request
/// (Redis's `sdssplitargs`: `"double"` quotes with `\n`/`\xHH` escapes, `'single'`
/// quotes). `Ok(empty)` for a blank line; `Err` for unbalanced quotes or a line longer
/// than [`crate::protocol::limits::MAX_INLINE_LEN`].
pub fn split_line(line: &[u8]) -> Result<Vec<Bytes>, String> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    // The leading space keeps a line starting with `*` from being read as RESP framing.
    let mut buf = BytesMut::with_capacity(line.len() + 3);
    buf.extend_from_slice(b" ");
    buf.extend_from_slice(line);
    buf.extend_from_slice(b"\r\n");
    match RequestDecoder::default().decode(&mut buf, &Limits::default()) {
        Ok(Some(args)) => Ok(args),
        Ok(None) => Ok(Vec::new()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<Bytes> {
        split_line(line.as_bytes()).unwrap()
    }

    fn route(line: &str) -> Request {
        Request::parse(args(line)).unwrap()
    }

    #[test]
    fn binary_operations_are_recognised() {
        let b = |s: &'static str| Bytes::from_static(s.as_bytes());
        let secs = Duration::from_secs;
        // (line, request)
        let cases = [
            ("PING", Op::Ping),
            ("get k", Op::Get(b("k"))),
            ("set k v", Op::Set { key: b("k"), value: b("v"), ttl: None }),
            ("set k v EX 10", Op::Set { key: b("k"), value: b("v"), ttl: Some(secs(10)) }),
            (
                "set k v px 1500",
                Op::Set {
                    key: b("k"),
                    value: b("v"),
                    ttl: Some(secs(1) + Duration::from_millis(500)),
                },
            ),
            ("set k v --ttl 1m", Op::Set { key: b("k"), value: b("v"), ttl: Some(secs(60)) }),
            ("del k", Op::Del(b("k"))),
            ("ttl k", Op::Ttl(b("k"), TtlUnit::Seconds)),
            ("pttl k", Op::Ttl(b("k"), TtlUnit::Millis)),
            ("stats", Op::Stats),
        ];
        for (line, want) in cases {
            assert_eq!(route(line), Request::Binary(want), "{line}");
        }
    }

    #[test]
    fn everything_else_goes_as_cmd() {
        for line in [
            "mget a b",
            "del a b",
            "ping hello",
            "set k v NX",
            "set k v EX 0",
            "set k v EX ten",
            "get",
            "dbsize",
            "nosuchcommand x",
        ] {
            assert!(matches!(route(line), Request::Cmd(_)), "{line}");
        }
        assert_eq!(route("set k v NX --ttl 2s"), Request::Cmd(args("set k v NX PX 2000")));
    }

    #[test]
    fn bad_ttl_option_is_a_local_error() {
        assert!(Request::parse(args("set k v --ttl")).is_err());
        assert!(Request::parse(args("set k v --ttl soon")).is_err());
        // Only SET options are rewritten; a value that happens to be "--ttl" is data.
        assert!(matches!(route("set k --ttl"), Request::Binary(Op::Set { .. })));
    }

    #[test]
    fn split_line_follows_inline_rules() {
        assert_eq!(args(r#"set k "a b\x41""#), vec!["set", "k", "a bA"]);
        assert_eq!(args("*weird  'x y'\r\n"), vec!["*weird", "x y"]);
        assert!(args("   ").is_empty());
        assert!(split_line(br#"set k "open"#).is_err());
    }

    #[test]
    fn info_and_stats_print_verbatim() {
        assert!(route("INFO").verbatim());
        assert!(route("stats").verbatim());
        assert!(!route("get k").verbatim());
    }
}
