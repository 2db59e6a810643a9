//! The option list SET and GETEX share (Redis's `parseExtendedStringArgumentsOrReply`):
//! NX, XX, GET, KEEPTTL (SET only), PERSIST (GETEX only), EX, PX, EXAT, PXAT, with Redis's
//! rules for which may be combined, and the expire time's validation
//! (`getExpireMillisecondsOrReply`). Absolute times become a TTL when the command runs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::cmd::args::{not_an_integer, syntax_error};
use crate::protocol::ErrorReply;
use crate::protocol::limits::MAX_TTL;
use crate::protocol::text::{Argv, parse_i64};
use crate::store::{Expiry, SetCond};

/// Which command the options belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// SET key value [options]: NX, XX, GET and KEEPTTL allowed.
    Set,
    /// GETEX key [options]: PERSIST allowed.
    GetEx,
}

/// An expiry option, its time checked positive and within [`MAX_TTL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpireOpt {
    /// None given: SET clears the TTL, GETEX leaves it.
    #[default]
    Unset,
    /// KEEPTTL.
    Keep,
    /// PERSIST.
    Persist,
    /// EX / PX: this long from when the command runs.
    In(Duration),
    /// EXAT / PXAT: at this Unix time, in milliseconds.
    At(u64),
}

/// The parsed option list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// NX / XX.
    pub cond: SetCond,
    /// GET.
    pub get: bool,
    /// The expiry, or the error its time gave (GETEX answers nil for a missing key before
    /// it looks at the time, as Redis does).
    pub expire: Result<ExpireOpt, ErrorReply>,
}

/// What an option word sets: which flag, and whether a time follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Word {
    Nx,
    Xx,
    Get,
    KeepTtl,
    Persist,
    Timed { millis: bool, absolute: bool },
}

fn word(opt: &[u8]) -> Option<Word> {
    let is = |w: &str| opt.eq_ignore_ascii_case(w.as_bytes());
    let timed = |millis, absolute| Some(Word::Timed { millis, absolute });
    match () {
        _ if is("nx") => Some(Word::Nx),
        _ if is("xx") => Some(Word::Xx),
        _ if is("get") => Some(Word::Get),
        _ if is("keepttl") => Some(Word::KeepTtl),
        _ if is("persist") => Some(Word::Persist),
        _ if is("ex") => timed(false, false),
        _ if is("px") => timed(true, false),
        _ if is("exat") => timed(false, true),
        _ if is("pxat") => timed(true, true),
        _ => None,
    }
}

/// Parses the options from argument `from` on. Like Redis, a word is refused (syntax
/// error) when it clashes with one already given (NX with XX; KEEPTTL or PERSIST with a
/// time; two different time units), or belongs to the other command; repeating the same
/// one is allowed and the last time given wins. The whole list is checked before the time
/// is parsed, so a syntax error wins over a bad number.
pub fn parse(argv: &Argv, from: usize, form: Form, name: &str) -> Result<Options, ErrorReply> {
    let mut opts = Options { cond: SetCond::Always, get: false, expire: Ok(ExpireOpt::Unset) };
    let (mut keep, mut persist) = (false, false);
    let mut timed: Option<(Word, &[u8])> = None;
    let mut i = from;
    while let Some(opt) = argv.get(i) {
        let w = word(opt).ok_or_else(syntax_error)?;
        let set = form == Form::Set;
        let ok = match w {
            Word::Nx => set && opts.cond != SetCond::IfPresent,
            Word::Xx => set && opts.cond != SetCond::IfAbsent,
            Word::Get => set,
            Word::KeepTtl => set && !persist && timed.is_none(),
            Word::Persist => !set && !keep && timed.is_none(),
            Word::Timed { .. } => {
                !keep && !persist && timed.is_none_or(|(t, _)| t == w) && argv.get(i + 1).is_some()
            }
        };
        if !ok {
            return Err(syntax_error());
        }
        match w {
            Word::Nx => opts.cond = SetCond::IfAbsent,
            Word::Xx => opts.cond = SetCond::IfPresent,
            Word::Get => opts.get = true,
            Word::KeepTtl => keep = true,
            Word::Persist => persist = true,
            Word::Timed { .. } => {
                i += 1;
                timed = argv.get(i).map(|t| (w, t));
            }
        }
        i += 1;
    }
    opts.expire = match timed {
        Some((Word::Timed { millis, absolute }, amount)) => time(amount, millis, absolute, name),
        _ if keep => Ok(ExpireOpt::Keep),
        _ if persist => Ok(ExpireOpt::Persist),
        _ => Ok(ExpireOpt::Unset),
    };
    Ok(opts)
}

/// An expire time: a positive integer whose milliseconds fit, then (when relative) no
/// longer than [`MAX_TTL`]; errors say `invalid expire time in 'set' command`.
pub fn time(
    amount: &[u8],
    millis: bool,
    absolute: bool,
    name: &str,
) -> Result<ExpireOpt, ErrorReply> {
    let n = parse_i64(amount).ok_or_else(not_an_integer)?;
    let invalid = || invalid_expire(name);
    let n = u64::try_from(n).ok().filter(|&n| n > 0).ok_or_else(invalid)?;
    let ms = if millis { Some(n) } else { n.checked_mul(1000) };
    let ms = ms.filter(|&ms| i64::try_from(ms).is_ok()).ok_or_else(invalid)?;
    if absolute {
        return Ok(ExpireOpt::At(ms));
    }
    let ttl = Duration::from_millis(ms);
    if ttl > MAX_TTL {
        return Err(invalid());
    }
    Ok(ExpireOpt::In(ttl))
}

/// `invalid expire time in 'set' command`.
pub fn invalid_expire(name: &str) -> ErrorReply {
    ErrorReply::invalid(format!("invalid expire time in '{name}' command"))
}

impl ExpireOpt {
    /// The store's [`Expiry`] now, for a command whose default is `unset` (SET: persist,
    /// GETEX: keep). An absolute time in the past is a zero TTL (the key goes); one more
    /// than [`MAX_TTL`] ahead is refused like a relative one.
    pub fn expiry(self, unset: Expiry, name: &str) -> Result<Expiry, ErrorReply> {
        Ok(match self {
            ExpireOpt::Unset => unset,
            ExpireOpt::Keep => Expiry::Keep,
            ExpireOpt::Persist => Expiry::Persist,
            ExpireOpt::In(ttl) => Expiry::In(ttl),
            ExpireOpt::At(ms) => {
                let ttl = Duration::from_millis(ms.saturating_sub(unix_ms()));
                if ttl > MAX_TTL {
                    return Err(invalid_expire(name));
                }
                Expiry::In(ttl)
            }
        })
    }
}

/// Milliseconds since the Unix epoch now (0 if the clock is before it).
pub fn unix_ms() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}
