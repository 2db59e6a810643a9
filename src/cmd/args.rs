//! Argument-parsing helpers every command's `parse` uses, with Redis's error texts, and the
//! parser entry points: [`parse`] (name lookup, arity, subcommand) over the registry.

use bytes::Bytes;

use super::registry::Entry;
use super::{COMMANDS, Command};
use crate::protocol::binary::{check_key, check_value};
use crate::protocol::text::{Argv, parse_i64};
use crate::protocol::{ErrorReply, Limits, Status};

/// Longest command name or argument quoted back in an error, as in Redis.
pub const ECHO_LIMIT: usize = 128;

/// Turns a request's arguments into a [`Command`]: finds the command by name
/// (case-insensitive), checks its arity (and a container's subcommand and its arity),
/// then runs its parser. Errors carry Redis's exact message without the `ERR` prefix (the
/// status picks it), so clients that match on messages keep working.
pub fn parse(argv: &Argv, limits: &Limits) -> Result<Command, ErrorReply> {
    let name = argv.get(0).unwrap_or_default();
    let Some(entry) = lookup(name) else {
        return Err(unknown_command(argv));
    };
    let spec = entry.spec;
    if !spec.admits(argv.len()) {
        return Err(wrong_arity(spec.name));
    }
    // A container takes a subcommand; COMMAND alone (arity -1) is its own form.
    if let (false, Some(sub)) = (spec.subcommands.is_empty(), argv.get(1)) {
        let Some(sub_spec) = spec.subcommand(sub) else {
            return Err(unknown_subcommand(sub, spec.name));
        };
        if !sub_spec.admits(argv.len()) {
            return Err(wrong_arity(sub_spec.name));
        }
    }
    (entry.parse)(argv, limits)
}

/// The registry row for a command name, ignoring case. The registry lists the hot
/// commands first and the length is compared before the bytes, so GET and SET are found
/// in a couple of comparisons.
pub fn lookup(name: &[u8]) -> Option<&'static Entry> {
    COMMANDS.iter().find(|e| {
        e.spec.name.len() == name.len() && name.eq_ignore_ascii_case(e.spec.name.as_bytes())
    })
}

/// `wrong number of arguments for 'get' command`.
pub fn wrong_arity(name: &str) -> ErrorReply {
    ErrorReply::invalid(format!("wrong number of arguments for '{name}' command"))
}

/// `syntax error`.
pub fn syntax_error() -> ErrorReply {
    ErrorReply::invalid("syntax error")
}

/// `value is not an integer or out of range`.
pub fn not_an_integer() -> ErrorReply {
    ErrorReply::invalid("value is not an integer or out of range")
}

/// `unknown subcommand 'x'. Try CONFIG HELP.`
pub fn unknown_subcommand(sub: &[u8], container: &str) -> ErrorReply {
    ErrorReply::invalid(format!(
        "unknown subcommand '{}'. Try {} HELP.",
        lossy(sub, ECHO_LIMIT),
        container.to_ascii_uppercase()
    ))
}

/// Redis's "unknown command" text: the name, then the first arguments quoted, together at
/// most about [`ECHO_LIMIT`] bytes so a huge request cannot make a huge reply.
pub fn unknown_command(args: &Argv) -> ErrorReply {
    let name = args.get(0).unwrap_or_default();
    let mut shown = String::new();
    for arg in args.iter().skip(1) {
        if shown.len() >= ECHO_LIMIT {
            break;
        }
        let room = ECHO_LIMIT - shown.len();
        shown.push('\'');
        shown.push_str(&lossy(arg, room));
        shown.push_str("' ");
    }
    let message =
        format!("unknown command '{}', with args beginning with: {shown}", lossy(name, ECHO_LIMIT));
    ErrorReply::new(Status::UnknownOpcode, message)
}

/// At most `max` bytes of `b` as text, with line breaks blanked (as Redis does) so the
/// message cannot break RESP framing.
pub fn lossy(b: &[u8], max: usize) -> String {
    let b = b.get(..max.min(b.len())).unwrap_or_default();
    String::from_utf8_lossy(b).replace(['\r', '\n'], " ")
}

/// Argument `i` (empty if absent: parsers run after the arity check).
pub fn arg(argv: &Argv, i: usize) -> Bytes {
    argv.bytes(i).unwrap_or_default()
}

/// Argument `i` as a key within the limits.
pub fn key(argv: &Argv, i: usize, limits: &Limits) -> Result<Bytes, ErrorReply> {
    check_key(arg(argv, i), limits)
}

/// Every argument from `from` on, each a key within the limits.
pub fn keys_from(argv: &Argv, from: usize, limits: &Limits) -> Result<Vec<Bytes>, ErrorReply> {
    (from..argv.len()).map(|i| check_key(arg(argv, i), limits)).collect()
}

/// Argument `i` as a value within the limits.
pub fn value(argv: &Argv, i: usize, limits: &Limits) -> Result<Bytes, ErrorReply> {
    let v = arg(argv, i);
    check_value(&v, limits)?;
    Ok(v)
}

/// Argument `i` as an integer, with Redis's message when it is not one.
pub fn int(argv: &Argv, i: usize) -> Result<i64, ErrorReply> {
    argv.get(i).and_then(parse_i64).ok_or_else(not_an_integer)
}

/// Whether argument `i` is `word`, ignoring case.
pub fn is(argv: &Argv, i: usize, word: &str) -> bool {
    argv.get(i).is_some_and(|a| a.eq_ignore_ascii_case(word.as_bytes()))
}

/// Argument `i` as UTF-8 text (lossily), lower-cased.
pub fn lower(argv: &Argv, i: usize) -> String {
    String::from_utf8_lossy(argv.get(i).unwrap_or_default()).to_ascii_lowercase()
}

/// Argument `i` as a database index: an integer that fits Redis's `int`, with Redis's
/// range error otherwise.
pub fn db_index(argv: &Argv, i: usize) -> Result<i64, ErrorReply> {
    let n = int(argv, i)?;
    i32::try_from(n).map(i64::from).map_err(|_| {
        ErrorReply::invalid(format!(
            "value is out of range, value must between {} and {}",
            i32::MIN,
            i32::MAX
        ))
    })
}

/// `Ok` for database 0, the only one; Redis's error for any other index.
pub fn db_zero(db: i64) -> Result<(), ErrorReply> {
    if db == 0 { Ok(()) } else { Err(ErrorReply::invalid("DB index is out of range")) }
}
