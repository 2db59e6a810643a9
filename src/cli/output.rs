//! Rendering replies the way redis-cli does: quoted for a terminal, raw bytes for pipes,
//! or one JSON value per reply.
//!
//! Owns the three formats and which stream an error reply goes to. Pure functions over
//! [`Reply`], so every format is unit-tested without a server.
//!
//! | reply        | terminal (`Tty`)        | `Raw` (pipes, `--raw`)      | `Json`                  |
//! |--------------|-------------------------|-----------------------------|-------------------------|
//! | bulk string  | `"a\x00b"` (escaped)    | the bytes, then `\n`        | `"a\u0000b"` (lossy)    |
//! | nil          | `(nil)`                 | empty line                  | `null`                  |
//! | integer      | `(integer) 1`           | `1`                         | `1`                     |
//! | status       | `OK`                    | `OK`                        | `"OK"`                  |
//! | array        | `1) "a"` numbered lines | elements one per line       | `["a"]`                 |
//! | error        | `(error) ERR ..` stdout | `ERR ..` on **stderr**      | `{"error":"ERR .."}`    |
//! | stats        | `name:value` lines      | `name:value` lines          | `{"name":"value"}`      |

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::protocol::Reply;

/// How replies are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// redis-cli's terminal format: quoted strings, `(integer)`, `(nil)`, numbered arrays.
    Tty,
    /// Bytes as they are, for scripts: what `--raw` or a non-terminal stdout gives.
    Raw,
    /// One JSON value per reply, one per line.
    Json,
}

/// A reply ready to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// What to write, newline included.
    pub bytes: Vec<u8>,
    /// Write to stderr rather than stdout (error replies in raw mode, as `redis-cli -e`
    /// does, so a script's stdout holds only data).
    pub to_stderr: bool,
    /// The top-level reply was an error: the command failed.
    pub is_error: bool,
}

/// Renders one top-level reply. `verbatim` prints strings unquoted on a terminal too
/// (INFO and STATS text); it does not change JSON.
pub fn render(reply: &Reply, format: Format, verbatim: bool) -> Rendered {
    let is_error = matches!(reply, Reply::Error(_));
    let mut bytes = Vec::new();
    match format {
        Format::Json => {
            bytes = json(reply).to_string().into_bytes();
            bytes.push(b'\n');
        }
        Format::Tty if !verbatim => tty(reply, "", &mut bytes),
        Format::Tty | Format::Raw => {
            raw(reply, &mut bytes);
            if !bytes.ends_with(b"\n") || !verbatim {
                bytes.push(b'\n');
            }
        }
    }
    Rendered { bytes, to_stderr: is_error && format == Format::Raw, is_error }
}

/// redis-cli's `cliFormatReplyTTY`: nested arrays indent by the width of their index.
fn tty(reply: &Reply, prefix: &str, out: &mut Vec<u8>) {
    match reply {
        Reply::Ok => out.extend_from_slice(b"OK\n"),
        Reply::Simple(s) => line(out, s),
        Reply::Bulk(b) => {
            quote(b, out);
            out.push(b'\n');
        }
        // redis-cli prints verbatim text (INFO, CLIENT LIST) as it is.
        Reply::Verbatim(b) => {
            out.extend_from_slice(b);
            if !b.ends_with(b"\n") {
                out.push(b'\n');
            }
        }
        Reply::Nil | Reply::NilArray => out.extend_from_slice(b"(nil)\n"),
        Reply::Int(n) => line(out, &format!("(integer) {n}")),
        Reply::Error(e) => line(out, &format!("(error) {e}")),
        Reply::Raw(status, _) => line(out, &format!("(status) {}", status.name())),
        Reply::Array(items) | Reply::Set(items) if items.is_empty() => {
            out.extend_from_slice(b"(empty array)\n")
        }
        Reply::Array(items) | Reply::Set(items) => {
            let width = items.len().to_string().len();
            let inner = format!("{prefix}{}", " ".repeat(width + 2));
            for (i, item) in items.iter().enumerate() {
                // The first index follows the parent's own index on the same line.
                let lead = if i == 0 { "" } else { prefix };
                out.extend_from_slice(format!("{lead}{:>width$}) ", i + 1).as_bytes());
                tty(item, &inner, out);
            }
        }
        Reply::Map(pairs) => pairs_as_lines(pairs, out),
    }
}

fn line(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(text.as_bytes());
    out.push(b'\n');
}

/// redis-cli's `cliFormatReplyRaw`, without the final newline.
fn raw(reply: &Reply, out: &mut Vec<u8>) {
    match reply {
        Reply::Ok => out.extend_from_slice(b"OK"),
        Reply::Simple(s) => out.extend_from_slice(s.as_bytes()),
        Reply::Bulk(b) | Reply::Verbatim(b) => out.extend_from_slice(b),
        Reply::Nil | Reply::NilArray => {}
        Reply::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Reply::Error(e) => out.extend_from_slice(e.to_string().as_bytes()),
        Reply::Raw(status, _) => out.extend_from_slice(status.name().as_bytes()),
        Reply::Array(items) | Reply::Set(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                raw(item, out);
            }
        }
        Reply::Map(pairs) => {
            pairs_as_lines(pairs, out);
            // The caller adds the final newline.
            out.pop();
        }
    }
}

/// `name:value` lines: how STATS reads in both human formats.
fn pairs_as_lines(pairs: &[(Reply, Reply)], out: &mut Vec<u8>) {
    for (name, value) in pairs {
        raw(name, out);
        out.push(b':');
        raw(value, out);
        out.push(b'\n');
    }
}

/// Quotes like redis-cli's `sdscatrepr`: `\\`, `\"`, `\n`, `\r`, `\t`, `\a`, `\b`, other
/// printable ASCII as is, every other byte as `\xhh`.
pub fn quote(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in bytes {
        match b {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', b]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// The JSON form. Strings that are not UTF-8 are converted lossily (invalid sequences
/// become U+FFFD), because JSON strings cannot hold arbitrary bytes; use `--raw` for
/// binary values.
fn json(reply: &Reply) -> Value {
    match reply {
        Reply::Ok => Value::from("OK"),
        Reply::Simple(s) => Value::from(*s),
        Reply::Bulk(b) | Reply::Verbatim(b) => Value::from(lossy(b)),
        Reply::Nil | Reply::NilArray => Value::Null,
        Reply::Int(n) => Value::from(*n),
        Reply::Error(e) => {
            let mut object = Map::new();
            object.insert("error".to_owned(), Value::from(e.to_string()));
            Value::Object(object)
        }
        Reply::Raw(status, _) => Value::from(status.name()),
        Reply::Array(items) | Reply::Set(items) => Value::Array(items.iter().map(json).collect()),
        Reply::Map(pairs) => {
            let object = pairs.iter().map(|(k, v)| (key_text(k), json(v))).collect();
            Value::Object(object)
        }
    }
}

fn lossy(b: &Bytes) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn key_text(key: &Reply) -> String {
    let mut out = Vec::new();
    raw(key, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ErrorReply, Status};

    fn bulk(s: &'static [u8]) -> Reply {
        Reply::Bulk(Bytes::from_static(s))
    }

    fn text(reply: &Reply, format: Format) -> String {
        String::from_utf8(render(reply, format, false).bytes).unwrap()
    }

    #[test]
    fn formats_table() {
        let err = Reply::Error(ErrorReply::new(Status::UnknownOpcode, "unknown command 'x'"));
        let nested = Reply::Array(vec![bulk(b"a"), Reply::Array(vec![Reply::Int(1), Reply::Nil])]);
        // (reply, tty, raw, json)
        let cases = [
            (bulk(b"v"), "\"v\"\n", "v\n", "\"v\"\n"),
            (bulk(b"q\"\\\n\x01\xff"), "\"q\\\"\\\\\\n\\x01\\xff\"\n", "q\"\\\n\x01\u{fffd}\n", ""),
            (Reply::Nil, "(nil)\n", "\n", "null\n"),
            (Reply::Int(-2), "(integer) -2\n", "-2\n", "-2\n"),
            (Reply::Ok, "OK\n", "OK\n", "\"OK\"\n"),
            (Reply::Simple("PONG"), "PONG\n", "PONG\n", "\"PONG\"\n"),
            (Reply::Array(vec![]), "(empty array)\n", "\n", "[]\n"),
            (
                nested,
                "1) \"a\"\n2) 1) (integer) 1\n   2) (nil)\n",
                "a\n1\n\n",
                "[\"a\",[1,null]]\n",
            ),
            (
                err,
                "(error) ERR unknown command 'x'\n",
                "ERR unknown command 'x'\n",
                "{\"error\":\"ERR unknown command 'x'\"}\n",
            ),
        ];
        for (i, (reply, want_tty, want_raw, want_json)) in cases.into_iter().enumerate() {
            assert_eq!(text(&reply, Format::Tty), want_tty, "tty case {i}");
            // The raw bytes of the invalid UTF-8 case are compared lossily.
            let raw = render(&reply, Format::Raw, false).bytes;
            assert_eq!(String::from_utf8_lossy(&raw), want_raw, "raw case {i}");
            if !want_json.is_empty() {
                assert_eq!(text(&reply, Format::Json), want_json, "json case {i}");
            }
        }
    }

    #[test]
    fn arrays_of_ten_or_more_right_align_indexes() {
        let items = (0..10).map(Reply::Int).collect();
        let out = text(&Reply::Array(items), Format::Tty);
        assert!(out.starts_with(" 1) (integer) 0\n 2)"), "{out}");
        assert!(out.ends_with("10) (integer) 9\n"), "{out}");
    }

    #[test]
    fn errors_go_to_stderr_only_in_raw_mode() {
        let err = Reply::Error(ErrorReply::invalid("syntax error"));
        assert!(render(&err, Format::Raw, false).to_stderr);
        assert!(!render(&err, Format::Tty, false).to_stderr);
        assert!(render(&err, Format::Json, false).is_error);
        assert!(!render(&Reply::Nil, Format::Raw, false).is_error);
    }

    #[test]
    fn stats_and_verbatim_text() {
        let stats = Reply::Map(vec![(bulk(b"keys"), bulk(b"3")), (bulk(b"uptime"), bulk(b"9"))]);
        assert_eq!(render(&stats, Format::Tty, true).bytes, b"keys:3\nuptime:9\n");
        assert_eq!(render(&stats, Format::Raw, true).bytes, b"keys:3\nuptime:9\n");
        assert_eq!(text(&stats, Format::Json), "{\"keys\":\"3\",\"uptime\":\"9\"}\n");
        let info = bulk(b"# Server\r\nkeys:1\r\n");
        assert_eq!(render(&info, Format::Tty, true).bytes, b"# Server\r\nkeys:1\r\n");
    }
}
