//! INCR, DECR, INCRBY and DECRBY: a 64-bit signed counter kept as its decimal text, changed
//! in place under the stripe lock (see [`crate::store::Edit`]); an absent key counts as 0,
//! the TTL stays.

use bytes::Bytes;

use crate::cmd::args::{int, key, not_an_integer};
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::text::{Argv, parse_i64};
use crate::protocol::{ErrorReply, Limits, Reply};
use crate::store::{Edit, Plan};

use super::store_error;

/// Bytes of the longest `i64` in decimal (`-9223372036854775808`).
const I64_TEXT_MAX: usize = 20;

/// `n` in decimal, as Redis prints integers, in `buf`; returns the length.
pub fn format_i64(n: i64, buf: &mut [u8; I64_TEXT_MAX]) -> usize {
    let mut digits = [0u8; I64_TEXT_MAX];
    let at = crate::protocol::text::write_decimal(n.unsigned_abs(), &mut digits);
    let mut len = 0;
    if n < 0 {
        buf[0] = b'-';
        len = 1;
    }
    let body = &digits[at..];
    buf[len..len + body.len()].copy_from_slice(body);
    len + body.len()
}

/// The edit behind the INCR family: parses the value as Redis's integers (no spaces, no
/// `+`, no leading zeros), adds `by`, and writes the sum back in place.
#[derive(Debug)]
pub struct Counter {
    by: i64,
    text: [u8; I64_TEXT_MAX],
    len: usize,
    /// The new value, or why there is none.
    pub result: Result<i64, ErrorReply>,
}

impl Counter {
    /// An increment by `by`.
    pub fn by(by: i64) -> Self {
        Self { by, text: [0; I64_TEXT_MAX], len: 0, result: Ok(0) }
    }
}

impl Edit for Counter {
    fn plan(&mut self, old: Option<&[u8]>) -> Plan {
        let current = match old {
            None => Some(0),
            Some(text) => parse_i64(text),
        };
        let Some(current) = current else {
            self.result = Err(not_an_integer());
            return Plan::Keep;
        };
        let Some(new) = current.checked_add(self.by) else {
            self.result = Err(ErrorReply::invalid("increment or decrement would overflow"));
            return Plan::Keep;
        };
        self.result = Ok(new);
        self.len = format_i64(new, &mut self.text);
        Plan::Write(self.len)
    }

    fn apply(&mut self, value: &mut [u8]) {
        value.copy_from_slice(&self.text[..self.len]);
    }
}

/// Arguments of the INCR family: the key and the signed amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncrArgs {
    /// The key.
    pub key: Bytes,
    /// What to add (negative for DECR and DECRBY).
    pub by: i64,
}

/// INCR (`OP = 0`), DECR (1), INCRBY (2) and DECRBY (3): one command in four forms.
#[derive(Debug)]
pub struct CounterCmd<const OP: u8>;

/// INCR key.
pub type Incr = CounterCmd<0>;
/// DECR key.
pub type Decr = CounterCmd<1>;
/// INCRBY key increment.
pub type IncrBy = CounterCmd<2>;
/// DECRBY key decrement.
pub type DecrBy = CounterCmd<3>;

const COUNTER: Spec = Spec::new("incr", 2)
    .flags(&[Flag::Write, Flag::DenyOom, Flag::Fast])
    .acl(&["@write", "@string", "@fast"])
    .keys(&[KeySpec::range(1, 0, 1, &[KeyFlag::Rw, KeyFlag::Access, KeyFlag::Update])])
    .route(Route::ReadModifyWrite);

impl<const OP: u8> Cmd for CounterCmd<OP> {
    type Args = IncrArgs;
    const SPEC: Spec = match OP {
        0 => COUNTER.docs("string", "1.0.0", "O(1)", "Increment the integer value of a key by one"),
        1 => Spec { name: "decr", ..COUNTER }.docs(
            "string",
            "1.0.0",
            "O(1)",
            "Decrement the integer value of a key by one",
        ),
        2 => Spec { name: "incrby", arity: 3, ..COUNTER }.docs(
            "string",
            "1.0.0",
            "O(1)",
            "Increment the integer value of a key by the given amount",
        ),
        _ => Spec { name: "decrby", arity: 3, ..COUNTER }.docs(
            "string",
            "1.0.0",
            "O(1)",
            "Decrement the integer value of a key by the given number",
        ),
    };

    fn parse(argv: &Argv, limits: &Limits) -> Result<IncrArgs, ErrorReply> {
        let by = match OP {
            0 => 1,
            1 => -1,
            2 => int(argv, 2)?,
            _ => int(argv, 2)?
                .checked_neg()
                .ok_or_else(|| ErrorReply::invalid("decrement would overflow"))?,
        };
        Ok(IncrArgs { key: key(argv, 1, limits)?, by })
    }

    fn keys(args: &IncrArgs) -> Keys<'_> {
        Keys::one(&args.key)
    }

    /// The new value.
    fn apply(args: IncrArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let mut counter = Counter::by(args.by);
        ctx.keyspace()?.rewrite(&args.key, &mut counter).map_err(|e| store_error(&e))?;
        counter.result.map(Reply::Int)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_redis() {
        let mut buf = [0; I64_TEXT_MAX];
        for n in [0, 7, -7, 10, i64::MAX, i64::MIN, -1_000_000] {
            let len = format_i64(n, &mut buf);
            assert_eq!(&buf[..len], n.to_string().as_bytes());
        }
    }

    #[test]
    fn counter_plans_from_the_old_text() {
        let plan = |by: i64, old: Option<&[u8]>| {
            let mut c = Counter::by(by);
            let plan = c.plan(old);
            (plan, c.result.map_err(|e| e.message.into_owned()))
        };
        assert_eq!(plan(5, None), (Plan::Write(1), Ok(5)));
        assert_eq!(plan(-1, Some(b"10")), (Plan::Write(1), Ok(9)));
        let nan = Err("value is not an integer or out of range".to_string());
        for bad in [&b" 1"[..], b"1 ", b"+1", b"01", b"-0", b"", b"1.0", b"99999999999999999999"] {
            assert_eq!(plan(1, Some(bad)), (Plan::Keep, nan.clone()), "{bad:?}");
        }
        let over = Err("increment or decrement would overflow".to_string());
        assert_eq!(plan(1, Some(b"9223372036854775807")), (Plan::Keep, over.clone()));
        assert_eq!(plan(-2, Some(b"-9223372036854775807")), (Plan::Keep, over));
        assert_eq!(plan(-1, Some(b"-9223372036854775807")), (Plan::Write(20), Ok(i64::MIN)));
    }
}
