//! [`parse_command`]: a Redis argument vector to a [`Command`], with Redis's error messages.
//!
//! Owns command names, arity, option syntax and key/value size checks. Does not own
//! framing (the decoder) or semantics such as "only DB 0 exists" or "that password is
//! wrong" (the server answers those).

use std::time::Duration;

use bytes::Bytes;

use crate::protocol::limits::MAX_TTL;
use crate::protocol::{Command, ErrorReply, HelloArgs, Limits, SetArgs, SetMode, Status, TtlUnit};

use super::parse_i64;

/// Longest command name or argument quoted back in an "unknown command" error, as in Redis.
const ECHO_LIMIT: usize = 128;

/// How many arguments a command takes, counting its name.
#[derive(Clone, Copy)]
enum Arity {
    Exact(usize),
    AtLeast(usize),
    Range(usize, usize),
}

impl Arity {
    fn admits(self, n: usize) -> bool {
        match self {
            Arity::Exact(want) => n == want,
            Arity::AtLeast(min) => n >= min,
            Arity::Range(min, max) => (min..=max).contains(&n),
        }
    }
}

type Parser = fn(Vec<Bytes>, &Limits) -> Result<Command, ErrorReply>;

/// One row of the command table; `name` is lower case, as Redis prints it in errors.
struct Spec {
    name: &'static str,
    arity: Arity,
    parse: Parser,
}

const fn spec(name: &'static str, arity: Arity, parse: Parser) -> Spec {
    Spec { name, arity, parse }
}

/// Every text command. Parsers run only after the arity check, so they may rely on it.
const COMMANDS: &[Spec] = &[
    spec("get", Arity::Exact(2), |a, l| Ok(Command::Get(key(a, 1, l)?))),
    spec("set", Arity::AtLeast(3), parse_set),
    spec("ping", Arity::Range(1, 2), |a, _| Ok(Command::Ping(a.into_iter().nth(1)))),
    spec("echo", Arity::Exact(2), |a, _| Ok(Command::Echo(arg(a, 1)))),
    spec("del", Arity::AtLeast(2), |a, l| Ok(Command::Del(keys(a, l)?))),
    spec("exists", Arity::AtLeast(2), |a, l| Ok(Command::Exists(keys(a, l)?))),
    spec("mget", Arity::AtLeast(2), |a, l| Ok(Command::MGet(keys(a, l)?))),
    spec("mset", Arity::AtLeast(3), parse_mset),
    spec("ttl", Arity::Exact(2), |a, l| parse_ttl(a, l, TtlUnit::Seconds)),
    spec("pttl", Arity::Exact(2), |a, l| parse_ttl(a, l, TtlUnit::Millis)),
    spec("expire", Arity::Exact(3), |a, l| parse_expire(a, l, TtlUnit::Seconds)),
    spec("pexpire", Arity::Exact(3), |a, l| parse_expire(a, l, TtlUnit::Millis)),
    spec("persist", Arity::Exact(2), |a, l| Ok(Command::Persist(key(a, 1, l)?))),
    spec("dbsize", Arity::Exact(1), |_, _| Ok(Command::DbSize)),
    spec("flushall", Arity::AtLeast(1), parse_flush),
    spec("flushdb", Arity::AtLeast(1), parse_flush),
    spec("info", Arity::Range(1, 2), parse_info),
    spec("stats", Arity::Exact(1), |_, _| Ok(Command::Stats)),
    spec("auth", Arity::AtLeast(2), parse_auth),
    spec("quit", Arity::AtLeast(1), |_, _| Ok(Command::Quit)),
    spec("select", Arity::Exact(2), parse_select),
    spec("hello", Arity::AtLeast(1), parse_hello),
    spec("command", Arity::AtLeast(1), |a, _| Ok(Command::CommandDocs(rest(a)))),
    spec("config", Arity::AtLeast(2), parse_config),
    spec("client", Arity::AtLeast(2), |a, _| Ok(Command::Client(rest(a)))),
];

/// Turns a request's arguments into a [`Command`]. Command names are case-insensitive.
/// Errors carry Redis's exact message without the `ERR` prefix (the status picks it), so
/// client libraries that match on messages keep working.
pub fn parse_command(args: Vec<Bytes>, limits: &Limits) -> Result<Command, ErrorReply> {
    let name = args.first().map(|n| n.as_ref()).unwrap_or_default();
    let Some(spec) = COMMANDS.iter().find(|s| name.eq_ignore_ascii_case(s.name.as_bytes())) else {
        return Err(unknown_command(&args));
    };
    if !spec.arity.admits(args.len()) {
        return Err(wrong_arity(spec.name));
    }
    (spec.parse)(args, limits)
}

fn wrong_arity(name: &str) -> ErrorReply {
    ErrorReply::invalid(format!("wrong number of arguments for '{name}' command"))
}

fn syntax_error() -> ErrorReply {
    ErrorReply::invalid("syntax error")
}

fn not_an_integer() -> ErrorReply {
    ErrorReply::invalid("value is not an integer or out of range")
}

/// Redis's "unknown command" text: the name, then the first arguments quoted, together at
/// most about [`ECHO_LIMIT`] bytes so a huge request cannot make a huge reply.
fn unknown_command(args: &[Bytes]) -> ErrorReply {
    let name = args.first().map(|n| n.as_ref()).unwrap_or_default();
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
fn lossy(b: &[u8], max: usize) -> String {
    let b = b.get(..max.min(b.len())).unwrap_or_default();
    String::from_utf8_lossy(b).replace(['\r', '\n'], " ")
}

/// Argument `i`, which the arity check guarantees exists.
fn arg(args: Vec<Bytes>, i: usize) -> Bytes {
    args.into_iter().nth(i).unwrap_or_default()
}

/// Everything after the command name.
fn rest(args: Vec<Bytes>) -> Vec<Bytes> {
    args.into_iter().skip(1).collect()
}

/// Checks a key against the limits.
fn check_key(key: &[u8], limits: &Limits) -> Result<(), ErrorReply> {
    if key.is_empty() {
        return Err(ErrorReply::invalid("empty key"));
    }
    if key.len() > limits.max_key_size {
        return Err(ErrorReply::new(
            Status::KeyTooLarge,
            format!("key too large ({} bytes, max {})", key.len(), limits.max_key_size),
        ));
    }
    Ok(())
}

fn check_value(value: &[u8], limits: &Limits) -> Result<(), ErrorReply> {
    if value.len() > limits.max_value_size {
        return Err(ErrorReply::new(
            Status::ValueTooLarge,
            format!("value too large ({} bytes, max {})", value.len(), limits.max_value_size),
        ));
    }
    Ok(())
}

fn key(args: Vec<Bytes>, i: usize, limits: &Limits) -> Result<Bytes, ErrorReply> {
    let key = arg(args, i);
    check_key(&key, limits)?;
    Ok(key)
}

fn keys(args: Vec<Bytes>, limits: &Limits) -> Result<Vec<Bytes>, ErrorReply> {
    let keys = rest(args);
    keys.iter().try_for_each(|k| check_key(k, limits))?;
    Ok(keys)
}

/// `SET key value [EX s | PX ms] [NX | XX]`. Like Redis, the whole option list is checked
/// for syntax before the expire value is parsed, and a repeated EX (or PX) overrides.
fn parse_set(args: Vec<Bytes>, limits: &Limits) -> Result<Command, ErrorReply> {
    let mut it = args.into_iter().skip(1);
    let (key, value) = (it.next().unwrap_or_default(), it.next().unwrap_or_default());
    check_key(&key, limits)?;
    check_value(&value, limits)?;
    let mut mode = SetMode::Always;
    let mut expire: Option<(TtlUnit, Bytes)> = None;
    while let Some(opt) = it.next() {
        let unit = if opt.eq_ignore_ascii_case(b"nx") && mode != SetMode::IfPresent {
            mode = SetMode::IfAbsent;
            continue;
        } else if opt.eq_ignore_ascii_case(b"xx") && mode != SetMode::IfAbsent {
            mode = SetMode::IfPresent;
            continue;
        } else if opt.eq_ignore_ascii_case(b"ex") {
            TtlUnit::Seconds
        } else if opt.eq_ignore_ascii_case(b"px") {
            TtlUnit::Millis
        } else {
            return Err(syntax_error());
        };
        let clashes = expire.as_ref().is_some_and(|(u, _)| *u != unit);
        match it.next() {
            Some(amount) if !clashes => expire = Some((unit, amount)),
            _ => return Err(syntax_error()),
        }
    }
    let ttl = match expire {
        None => None,
        Some((unit, amount)) => Some(set_ttl(&amount, unit)?),
    };
    Ok(Command::Set(SetArgs { key, value, ttl, mode }))
}

/// The TTL of SET: a positive integer no longer than [`MAX_TTL`].
fn set_ttl(amount: &[u8], unit: TtlUnit) -> Result<Duration, ErrorReply> {
    let n = parse_i64(amount).ok_or_else(not_an_integer)?;
    let invalid = || ErrorReply::invalid("invalid expire time in 'set' command");
    let n = u64::try_from(n).ok().filter(|&n| n > 0).ok_or_else(invalid)?;
    to_duration(n, unit).filter(|ttl| *ttl <= MAX_TTL).ok_or_else(invalid)
}

fn to_duration(n: u64, unit: TtlUnit) -> Option<Duration> {
    match unit {
        TtlUnit::Seconds => n.checked_mul(1000).map(Duration::from_millis),
        TtlUnit::Millis => Some(Duration::from_millis(n)),
    }
}

/// `MSET k v [k v ...]`: the name plus pairs makes an odd count.
fn parse_mset(args: Vec<Bytes>, limits: &Limits) -> Result<Command, ErrorReply> {
    if args.len() % 2 == 0 {
        return Err(wrong_arity("mset"));
    }
    let mut pairs = Vec::with_capacity(args.len() / 2);
    let mut it = args.into_iter().skip(1);
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        check_key(&k, limits)?;
        check_value(&v, limits)?;
        pairs.push((k, v));
    }
    Ok(Command::MSet(pairs))
}

fn parse_ttl(args: Vec<Bytes>, limits: &Limits, unit: TtlUnit) -> Result<Command, ErrorReply> {
    Ok(Command::Ttl { key: key(args, 1, limits)?, unit })
}

/// `EXPIRE key s` / `PEXPIRE key ms`. Zero or negative means "expire now", which the store
/// applies as a delete (`Duration::ZERO`).
fn parse_expire(args: Vec<Bytes>, limits: &Limits, unit: TtlUnit) -> Result<Command, ErrorReply> {
    let n = args.get(2).and_then(|a| parse_i64(a)).ok_or_else(not_an_integer)?;
    let ttl = match u64::try_from(n) {
        Err(_) => Duration::ZERO,
        Ok(n) => to_duration(n, unit).filter(|ttl| *ttl <= MAX_TTL).ok_or_else(|| {
            let name = if unit == TtlUnit::Seconds { "expire" } else { "pexpire" };
            ErrorReply::invalid(format!("invalid expire time in '{name}' command"))
        })?,
    };
    Ok(Command::Expire { key: key(args, 1, limits)?, ttl })
}

/// `FLUSHALL [ASYNC|SYNC]`: both modes flush the same way here.
fn parse_flush(args: Vec<Bytes>, _: &Limits) -> Result<Command, ErrorReply> {
    match args.get(1..).unwrap_or_default() {
        [] => Ok(Command::FlushAll),
        [mode] if mode.eq_ignore_ascii_case(b"async") || mode.eq_ignore_ascii_case(b"sync") => {
            Ok(Command::FlushAll)
        }
        _ => Err(syntax_error()),
    }
}

/// `INFO [section]`: sections are case-insensitive, so they are passed on lower-cased.
fn parse_info(args: Vec<Bytes>, _: &Limits) -> Result<Command, ErrorReply> {
    let section = args.get(1).map(|s| String::from_utf8_lossy(s).to_ascii_lowercase());
    Ok(Command::Info(section))
}

/// `AUTH password` or `AUTH username password`; only the password is checked.
fn parse_auth(args: Vec<Bytes>, _: &Limits) -> Result<Command, ErrorReply> {
    if args.len() > 3 {
        return Err(syntax_error());
    }
    Ok(Command::Auth(crate::protocol::Secret(args.into_iter().last().unwrap_or_default())))
}

/// `SELECT n`: `n` must fit Redis's `int`; which DBs exist is the server's call.
fn parse_select(args: Vec<Bytes>, _: &Limits) -> Result<Command, ErrorReply> {
    let db = args
        .get(1)
        .and_then(|a| parse_i64(a))
        .filter(|n| i32::try_from(*n).is_ok())
        .ok_or_else(not_an_integer)?;
    Ok(Command::Select(db))
}

/// `HELLO [protover [AUTH user pass] [SETNAME name]]`, with options checked like Redis
/// does. Of AUTH only the password is kept, as for the AUTH command.
fn parse_hello(args: Vec<Bytes>, _: &Limits) -> Result<Command, ErrorReply> {
    let mut hello = HelloArgs::default();
    let Some(version) = args.get(1) else {
        return Ok(Command::Hello(hello));
    };
    let version = parse_i64(version)
        .ok_or_else(|| ErrorReply::invalid("Protocol version is not an integer or out of range"))?;
    hello.version = Some(version);
    let mut i = 2;
    while let Some(opt) = args.get(i) {
        let more = args.len() - 1 - i;
        if opt.eq_ignore_ascii_case(b"auth") && more >= 2 {
            hello.auth = args.get(i + 2).cloned();
            i += 3;
        } else if opt.eq_ignore_ascii_case(b"setname") && more >= 1 {
            hello.setname = args.get(i + 1).cloned();
            i += 2;
        } else {
            return Err(ErrorReply::invalid(format!(
                "Syntax error in HELLO option '{}'",
                lossy(opt, ECHO_LIMIT)
            )));
        }
    }
    Ok(Command::Hello(hello))
}

/// `CONFIG GET pattern...`; other subcommands are not supported.
fn parse_config(args: Vec<Bytes>, _: &Limits) -> Result<Command, ErrorReply> {
    let sub = args.get(1).map(|s| s.as_ref()).unwrap_or_default();
    if !sub.eq_ignore_ascii_case(b"get") {
        return Err(ErrorReply::invalid(format!(
            "unknown subcommand '{}'. Try CONFIG HELP.",
            lossy(sub, ECHO_LIMIT)
        )));
    }
    if args.len() < 3 {
        return Err(wrong_arity("config|get"));
    }
    Ok(Command::ConfigGet(args.into_iter().skip(2).collect()))
}
