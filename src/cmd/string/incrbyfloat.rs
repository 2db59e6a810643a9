//! INCRBYFLOAT key increment: Redis's `long double` arithmetic ([`super::ldouble`]), done
//! in place under the stripe lock like INCR; an absent key counts as 0, the TTL stays.

use bytes::Bytes;

use super::ldouble::{LONG_DOUBLE_TEXT_MAX, LongDouble};
use super::store_error;
use crate::cmd::args::key;
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};
use crate::store::{Edit, Plan};

fn not_a_float() -> ErrorReply {
    ErrorReply::invalid("value is not a valid float")
}

/// Arguments of INCRBYFLOAT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncrByFloatArgs {
    /// The key.
    pub key: Bytes,
    /// The increment, already read as Redis reads it.
    pub by: LongDouble,
}

/// The edit: the sum's text (on the stack: up to 5 KiB), or the error.
struct Adding {
    by: LongDouble,
    text: [u8; LONG_DOUBLE_TEXT_MAX],
    len: usize,
    result: Result<(), ErrorReply>,
}

impl Edit for Adding {
    fn plan(&mut self, old: Option<&[u8]>) -> Plan {
        let zero = LongDouble::Finite { neg: false, m: 0, e: 0 };
        let Some(value) = old.map_or(Some(zero), LongDouble::parse) else {
            self.result = Err(not_a_float());
            return Plan::Keep;
        };
        match value.checked_add(self.by) {
            Some(sum @ LongDouble::Finite { .. }) => {
                self.len = sum.format(&mut self.text);
                self.result = Ok(());
                Plan::Write(self.len)
            }
            _ => {
                self.result = Err(ErrorReply::invalid("increment would produce NaN or Infinity"));
                Plan::Keep
            }
        }
    }

    fn apply(&mut self, value: &mut [u8]) {
        value.copy_from_slice(&self.text[..self.len]);
    }
}

/// INCRBYFLOAT: the new value, as text.
#[derive(Debug)]
pub struct IncrByFloat;

impl Cmd for IncrByFloat {
    type Args = IncrByFloatArgs;
    const SPEC: Spec = Spec::new("incrbyfloat", 3)
        .flags(&[Flag::Write, Flag::DenyOom, Flag::Fast])
        .acl(&["@write", "@string", "@fast"])
        .keys(&[KeySpec::range(1, 0, 1, &[KeyFlag::Rw, KeyFlag::Access, KeyFlag::Update])])
        .route(Route::ReadModifyWrite)
        .docs("string", "2.6.0", "O(1)", "Increment the float value of a key by the given amount");

    fn parse(argv: &Argv, limits: &Limits) -> Result<IncrByFloatArgs, ErrorReply> {
        let by = argv.get(2).and_then(LongDouble::parse).ok_or_else(not_a_float)?;
        Ok(IncrByFloatArgs { key: key(argv, 1, limits)?, by })
    }

    fn keys(args: &IncrByFloatArgs) -> Keys<'_> {
        Keys::one(&args.key)
    }

    fn apply(args: IncrByFloatArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let mut edit =
            Adding { by: args.by, text: [0; LONG_DOUBLE_TEXT_MAX], len: 0, result: Ok(()) };
        ctx.keyspace()?.rewrite(&args.key, &mut edit).map_err(|e| store_error(&e))?;
        edit.result.map(|()| Reply::Bulk(Bytes::copy_from_slice(&edit.text[..edit.len])))
    }
}
