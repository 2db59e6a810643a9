//! APPEND key value and STRLEN key.

use bytes::Bytes;

use crate::cmd::args::{key, value};
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};
use crate::store::{Edit, Plan};

use super::store_error;

/// Redis's answer when a write would make a string longer than the largest value allowed
/// (shale's `--max-value-size` plays the part of `proto-max-bulk-len`).
pub fn too_long() -> ErrorReply {
    ErrorReply::invalid("string exceeds maximum allowed size (proto-max-bulk-len)")
}

/// Arguments of APPEND: the key, the bytes to add, and the longest value allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendArgs {
    /// The key.
    pub key: Bytes,
    /// What to append.
    pub value: Bytes,
    /// The longest value the result may be (the connection's value limit).
    pub max: usize,
}

/// The edit behind APPEND: the new length, or the size error.
struct Appending<'a> {
    suffix: &'a [u8],
    max: usize,
    result: Result<usize, ErrorReply>,
}

impl Edit for Appending<'_> {
    fn plan(&mut self, old: Option<&[u8]>) -> Plan {
        let len = old.map_or(0, <[u8]>::len) + self.suffix.len();
        if old.is_some() && len > self.max {
            self.result = Err(too_long());
            return Plan::Keep;
        }
        self.result = Ok(len);
        Plan::Write(len)
    }

    fn apply(&mut self, value: &mut [u8]) {
        let at = value.len() - self.suffix.len();
        value[at..].copy_from_slice(self.suffix);
    }
}

/// APPEND: the length after appending (an absent key starts empty, even for an empty
/// value). The TTL stays.
#[derive(Debug)]
pub struct Append;

impl Cmd for Append {
    type Args = AppendArgs;
    const SPEC: Spec = Spec::new("append", 3)
        .flags(&[Flag::Write, Flag::DenyOom, Flag::Fast])
        .acl(&["@write", "@string", "@fast"])
        .keys(&[KeySpec::range(1, 0, 1, &[KeyFlag::Rw, KeyFlag::Insert])])
        .route(Route::ReadModifyWrite)
        .docs(
            "string",
            "2.0.0",
            "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.",
            "Append a value to a key",
        );

    fn parse(argv: &Argv, limits: &Limits) -> Result<AppendArgs, ErrorReply> {
        let (key, value) = (key(argv, 1, limits)?, value(argv, 2, limits)?);
        Ok(AppendArgs { key, value, max: limits.max_value_size })
    }

    fn keys(args: &AppendArgs) -> Keys<'_> {
        Keys::one(&args.key)
    }

    fn apply(args: AppendArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let mut edit = Appending { suffix: &args.value, max: args.max, result: Ok(0) };
        ctx.keyspace()?.rewrite(&args.key, &mut edit).map_err(|e| store_error(&e))?;
        edit.result.map(Reply::count)
    }
}

/// STRLEN: the value's length, 0 when absent.
#[derive(Debug)]
pub struct Strlen;

impl Cmd for Strlen {
    type Args = Bytes;
    const SPEC: Spec = Spec::new("strlen", 2)
        .flags(&[Flag::ReadOnly, Flag::Fast])
        .acl(&["@read", "@string", "@fast"])
        .keys(&[KeySpec::range(1, 0, 1, &[KeyFlag::Ro])])
        .route(Route::Read)
        .docs("string", "2.2.0", "O(1)", "Get the length of the value stored in a key");

    fn parse(argv: &Argv, limits: &Limits) -> Result<Bytes, ErrorReply> {
        key(argv, 1, limits)
    }

    fn keys(key: &Bytes) -> Keys<'_> {
        Keys::one(key)
    }

    fn apply(key: Bytes, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let mut len = 0;
        ctx.keyspace()?.read(&key, &mut |v| len = v.map_or(0, <[u8]>::len));
        Ok(Reply::count(len))
    }
}
