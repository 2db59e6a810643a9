//! SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds |
//! PXAT unix-time-milliseconds | KEEPTTL].

use std::time::Duration;

use bytes::Bytes;

use super::options::{self, ExpireOpt, Form};
use super::store_error;
use crate::cmd::args::arg;
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::binary::{check_key, check_value};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};
use crate::store::{Expiry, SetCond, SetOptions};

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

/// SET's options beyond EX/PX, boxed so a plain SET (the hot one) stays small.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SetMore {
    /// NX / XX.
    pub mode: SetMode,
    /// GET: answer the old value instead of OK.
    pub get: bool,
    /// KEEPTTL: keep the key's TTL.
    pub keep_ttl: bool,
    /// EXAT / PXAT: expire at this Unix time, in milliseconds.
    pub at_ms: Option<u64>,
}

/// Arguments of SET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetArgs {
    /// The key (never empty once validated).
    pub key: Bytes,
    /// The value.
    pub value: Bytes,
    /// Time to live (EX / PX); `None` means none, or see `more`.
    pub ttl: Option<Duration>,
    /// NX, XX, GET, KEEPTTL, EXAT, PXAT; `None` when none is given.
    pub more: Option<Box<SetMore>>,
}

impl SetArgs {
    /// A SET of `key` to `value` with an optional TTL and no other option: the form the
    /// binary SET opcode carries and a router fans out as a blind write.
    pub fn plain(key: Bytes, value: Bytes, ttl: Option<Duration>) -> Self {
        Self { key, value, ttl, more: None }
    }

    /// Whether this is [`SetArgs::plain`]: no condition, no GET, KEEPTTL or absolute time.
    pub fn is_plain(&self) -> bool {
        self.more.is_none()
    }

    /// The NX / XX condition.
    pub fn mode(&self) -> SetMode {
        self.more.as_ref().map_or(SetMode::Always, |m| m.mode)
    }
}

/// SET: OK, or nil when the NX/XX condition failed; with GET the old value (or nil).
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
    /// parsed, and a repeated EX (or PX, EXAT, PXAT) overrides.
    fn parse(argv: &Argv, limits: &Limits) -> Result<SetArgs, ErrorReply> {
        let key = check_key(arg(argv, 1), limits)?;
        check_value(&argv[2], limits)?;
        let opts = options::parse(argv, 3, Form::Set, "set")?;
        let mode = match opts.cond {
            SetCond::Always => SetMode::Always,
            SetCond::IfAbsent => SetMode::IfAbsent,
            SetCond::IfPresent => SetMode::IfPresent,
        };
        let mut more = SetMore { mode, get: opts.get, ..SetMore::default() };
        let ttl = match opts.expire? {
            ExpireOpt::In(ttl) => Some(ttl),
            ExpireOpt::At(ms) => {
                more.at_ms = Some(ms);
                None
            }
            ExpireOpt::Keep => {
                more.keep_ttl = true;
                None
            }
            ExpireOpt::Unset | ExpireOpt::Persist => None,
        };
        let more = (more != SetMore::default()).then(|| Box::new(more));
        Ok(SetArgs { key, value: arg(argv, 2), ttl, more })
    }

    fn keys(args: &SetArgs) -> Keys<'_> {
        Keys::one(&args.key)
    }

    /// A plain SET (EX/PX and EXAT/PXAT included) does not depend on the old value;
    /// NX/XX, GET and KEEPTTL do.
    fn route(args: &SetArgs) -> Route {
        let reads = args.more.as_ref().is_some_and(|m| m.get || m.keep_ttl);
        if args.mode() == SetMode::Always && !reads { Route::Write } else { Route::ReadModifyWrite }
    }

    fn apply(args: SetArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let cond = match args.mode() {
            SetMode::Always => SetCond::Always,
            SetMode::IfAbsent => SetCond::IfAbsent,
            SetMode::IfPresent => SetCond::IfPresent,
        };
        let ks = ctx.keyspace()?;
        let Some(more) = args.more else {
            return match ks.set(&args.key, &args.value, args.ttl, cond) {
                Ok(true) => Ok(Reply::Ok),
                Ok(false) => Ok(Reply::Nil),
                Err(e) => Err(store_error(&e)),
            };
        };
        let expiry = match (args.ttl, more.at_ms) {
            (Some(ttl), _) => Expiry::In(ttl),
            (None, Some(ms)) => ExpireOpt::At(ms).expiry(Expiry::Persist, "set")?,
            (None, None) if more.keep_ttl => Expiry::Keep,
            (None, None) => Expiry::Persist,
        };
        let opts = SetOptions { cond, expiry, get: more.get };
        let out = ks.set_with(&args.key, &args.value, opts).map_err(|e| store_error(&e))?;
        Ok(match (more.get, out.written) {
            (true, _) => out.old.map_or(Reply::Nil, Reply::Bulk),
            (false, Some(_)) => Reply::Ok,
            (false, None) => Reply::Nil,
        })
    }
}
