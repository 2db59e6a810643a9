//! SET key value [EX seconds | PX milliseconds] [NX | XX].

use std::time::Duration;

use bytes::Bytes;

use super::store_error;
use crate::cmd::args::{arg, not_an_integer, syntax_error};
use crate::cmd::expiry::{TtlUnit, to_duration};
use crate::cmd::{BlindWrites, Cmd, Ctx, Expiry, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::binary::{check_key, check_value};
use crate::protocol::limits::MAX_TTL;
use crate::protocol::text::{Argv, parse_i64};
use crate::protocol::{ErrorReply, Limits, Reply};
use crate::store::SetCond;

/// Condition under which SET writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SetMode {
    /// Always write (plain SET).
    #[default]
    Always,
    /// Only if the key is absent (NX).
    IfAbsent,
    /// Only if the key is present (XX).
    IfPresent,
}

/// Arguments of SET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetArgs {
    /// The key (never empty once validated).
    pub key: Bytes,
    /// The value.
    pub value: Bytes,
    /// Time to live; `None` means the key never expires.
    pub ttl: Option<Duration>,
    /// NX / XX condition.
    pub mode: SetMode,
}

/// SET: OK, or nil when the NX/XX condition failed.
#[derive(Debug)]
pub struct Set;

impl Cmd for Set {
    type Args = SetArgs;
    const SPEC: Spec = Spec::new("set", -3)
        .flags(&[Flag::Write, Flag::DenyOom])
        .acl(&["@write", "@string", "@slow"])
        .keys(&[KeySpec::range(
            1,
            0,
            1,
            &[KeyFlag::Rw, KeyFlag::Access, KeyFlag::Update, KeyFlag::VariableFlags],
        )
        .notes("RW and ACCESS due to the optional `GET` argument")])
        .route(Route::ReadModifyWrite)
        .docs("string", "1.0.0", "O(1)", "Set the string value of a key");

    /// Like Redis, the whole option list is checked for syntax before the expire value is
    /// parsed, and a repeated EX (or PX) overrides.
    fn parse(argv: &Argv, limits: &Limits) -> Result<SetArgs, ErrorReply> {
        let key = check_key(arg(argv, 1), limits)?;
        check_value(&argv[2], limits)?;
        let value = arg(argv, 2);
        let mut mode = SetMode::Always;
        let mut expire: Option<(TtlUnit, &[u8])> = None;
        let mut it = argv.iter().skip(3);
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
            let clashes = expire.is_some_and(|(u, _)| u != unit);
            match it.next() {
                Some(amount) if !clashes => expire = Some((unit, amount)),
                _ => return Err(syntax_error()),
            }
        }
        let ttl = expire.map(|(unit, amount)| set_ttl(amount, unit)).transpose()?;
        Ok(SetArgs { key, value, ttl, mode })
    }

    fn keys(args: &SetArgs) -> Keys<'_> {
        Keys::one(&args.key)
    }

    /// A plain SET does not depend on the old value; NX/XX do.
    fn route(args: &SetArgs) -> Route {
        match args.mode {
            SetMode::Always => Route::Write,
            SetMode::IfAbsent | SetMode::IfPresent => Route::ReadModifyWrite,
        }
    }

    /// A plain SET stores its value with its TTL.
    fn blind_writes(args: &SetArgs) -> BlindWrites<'_> {
        match args.mode {
            SetMode::Always => {
                let expiry = args.ttl.map_or(Expiry::Never, Expiry::In);
                BlindWrites::set(&args.key, &args.value, expiry)
            }
            SetMode::IfAbsent | SetMode::IfPresent => BlindWrites::none(),
        }
    }

    fn apply(args: SetArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let cond = match args.mode {
            SetMode::Always => SetCond::Always,
            SetMode::IfAbsent => SetCond::IfAbsent,
            SetMode::IfPresent => SetCond::IfPresent,
        };
        match ctx.keyspace()?.set(&args.key, &args.value, args.ttl, cond) {
            Ok(true) => Ok(Reply::Ok),
            Ok(false) => Ok(Reply::Nil),
            Err(e) => Err(store_error(&e)),
        }
    }
}

/// The TTL of SET: a positive integer no longer than [`MAX_TTL`].
fn set_ttl(amount: &[u8], unit: TtlUnit) -> Result<Duration, ErrorReply> {
    let n = parse_i64(amount).ok_or_else(not_an_integer)?;
    let invalid = || ErrorReply::invalid("invalid expire time in 'set' command");
    let n = u64::try_from(n).ok().filter(|&n| n > 0).ok_or_else(invalid)?;
    to_duration(n, unit).filter(|ttl| *ttl <= MAX_TTL).ok_or_else(invalid)
}
