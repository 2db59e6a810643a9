//! The [`round_trip`] harness: builds values from the input by hand (no `arbitrary`
//! dependency), encodes them, decodes them, and compares.
//!
//! Each case starts with a selector byte; the input is a sequence of cases:
//!
//! | case | encode | decode | expect |
//! |---|---|---|---|
//! | request frame | `RequestFrame::encode` | `RequestFrame::parse`, `ServerCodec` | identity; the command a reference model predicts |
//! | response frame | `ResponseFrame::encode` | `ClientCodec` | identity (flags 0, see below) |
//! | binary reply | `binary::encode_reply(op)` | `ClientCodec`, `to_reply(op)` | identity for every shape `op` produces |
//! | text command | `encode_command`, inline (plain and quoted) | `RequestDecoder`, `ServerCodec` | the same arguments, or the limit error |
//! | text reply | `text::encode_reply` | `ReplyDecoder` | the same reply, modulo the lossy mappings below |
//!
//! Lossy by design, so not asserted as identity: `ResponseFrame::encode` always writes
//! `flags = 0`; a binary DEL answers one byte (`Int(n > 0)`), PING with an empty payload is
//! `+PONG`, `Nil` to TTL is `-2`; a RESP `+OK` is [`Reply::Ok`], any other status line
//! except `+PONG` a bulk string; an error's status survives RESP only through its prefix
//! (`ERR` covers several statuses), and `\r`/`\n` are dropped from RESP error and status
//! lines; a map is, in RESP2, a flat array of keys and values; arrays and maps have no binary
//! form (INTERNAL); `encode_command` of no arguments is `*0`, a no-op request.
//!
//! [`Reply::Ok`]: crate::protocol::Reply::Ok

mod binary;
mod text;

use bytes::Bytes;

use super::input::Input;

/// Most cases one input runs, so a long input cannot make one execution slow.
const MAX_CASES: usize = 64;

/// Runs the cases the input describes; see the module docs.
pub fn round_trip(data: &[u8]) {
    let mut input = Input::new(data);
    for _ in 0..MAX_CASES {
        if input.is_empty() {
            break;
        }
        match input.below(5) {
            0 => binary::request_frame(&mut input),
            1 => binary::response_frame(&mut input),
            2 => binary::reply(&mut input),
            3 => text::command(&mut input),
            _ => text::reply(&mut input),
        }
    }
}

/// Byte strings for keys, values and arguments: usually a few input bytes, sometimes one
/// byte repeated to a length near a limit (cheap to describe, costly to mishandle).
fn blob(input: &mut Input<'_>) -> Bytes {
    match input.below(8) {
        0 => {
            let len = input.u16().into();
            let len = input.fill_len(len);
            Bytes::from(vec![input.u8(); len])
        }
        1 => Bytes::from(vec![input.u8(); input.below(20)]),
        _ => Bytes::copy_from_slice(input.short_bytes(24)),
    }
}

/// A UTF-8 message for error replies, possibly with line breaks and multi-byte text.
fn message(input: &mut Input<'_>) -> String {
    match input.below(4) {
        0 => String::new(),
        1 => "unknown command 'x'".to_owned(),
        _ => String::from_utf8_lossy(input.short_bytes(32)).into_owned(),
    }
}
