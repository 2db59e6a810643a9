//! GETRANGE key start end (and its old name SUBSTR) and SETRANGE key offset value.

use bytes::Bytes;

use super::append::too_long;
use super::store_error;
use crate::cmd::args::{int, key, value};
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};
use crate::store::{Edit, Plan};

/// Arguments of GETRANGE: the key and the inclusive range, as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeArgs {
    /// The key.
    pub key: Bytes,
    /// First byte (negative: from the end).
    pub start: i64,
    /// Last byte, inclusive (negative: from the end).
    pub end: i64,
}

/// The byte range `start..=end` of a `len`-byte string as Redis resolves it: negative
/// indexes count from the end, both are clamped into the string, and a range that ends
/// up empty (or starts after it ends, both negative) is `None`.
pub fn byte_range(start: i64, end: i64, len: usize) -> Option<std::ops::Range<usize>> {
    let n = i64::try_from(len).unwrap_or(i64::MAX);
    if (start < 0 && end < 0 && start > end) || n == 0 {
        return None;
    }
    let start = if start < 0 { (n + start).max(0) } else { start };
    let end = if end < 0 { (n + end).max(0) } else { end.min(n - 1) };
    let (start, end) = (usize::try_from(start).ok()?, usize::try_from(end).ok()?);
    (start <= end).then_some(start..end + 1)
}

/// GETRANGE (`OLD = false`) and SUBSTR (`OLD = true`): the bytes of the range, empty when
/// the key is absent or the range is.
#[derive(Debug)]
pub struct GetRangeCmd<const OLD: bool>;

/// GETRANGE key start end.
pub type GetRange = GetRangeCmd<false>;
/// SUBSTR key start end.
pub type Substr = GetRangeCmd<true>;

const GETRANGE: Spec = Spec::new("getrange", 4)
    .flags(&[Flag::ReadOnly])
    .acl(&["@read", "@string", "@slow"])
    .keys(&[KeySpec::range(1, 0, 1, &[KeyFlag::Ro, KeyFlag::Access])])
    .route(Route::Read);

const GETRANGE_COMPLEXITY: &str = "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.";

impl<const OLD: bool> Cmd for GetRangeCmd<OLD> {
    type Args = RangeArgs;
    const SPEC: Spec = if OLD {
        Spec { name: "substr", ..GETRANGE }.docs(
            "string",
            "1.0.0",
            GETRANGE_COMPLEXITY,
            "Get a substring of the string stored at a key",
        )
    } else {
        GETRANGE.docs(
            "string",
            "2.4.0",
            GETRANGE_COMPLEXITY,
            "Get a substring of the string stored at a key",
        )
    };

    fn parse(argv: &Argv, limits: &Limits) -> Result<RangeArgs, ErrorReply> {
        let (start, end) = (int(argv, 2)?, int(argv, 3)?);
        Ok(RangeArgs { key: key(argv, 1, limits)?, start, end })
    }

    fn keys(args: &RangeArgs) -> Keys<'_> {
        Keys::one(&args.key)
    }

    fn apply(args: RangeArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let mut out = Bytes::new();
        ctx.keyspace()?.read(&args.key, &mut |v| {
            let v = v.unwrap_or_default();
            if let Some(r) = byte_range(args.start, args.end, v.len()) {
                out = Bytes::copy_from_slice(&v[r]);
            }
        });
        Ok(Reply::Bulk(out))
    }
}

/// Arguments of SETRANGE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetRangeArgs {
    /// The key.
    pub key: Bytes,
    /// Where the value goes.
    pub offset: usize,
    /// The bytes to write there.
    pub value: Bytes,
}

/// The edit behind SETRANGE: the length after the write.
struct Overwrite<'a> {
    offset: usize,
    value: &'a [u8],
    len: usize,
}

impl Edit for Overwrite<'_> {
    fn plan(&mut self, old: Option<&[u8]>) -> Plan {
        self.len = old.map_or(0, <[u8]>::len);
        if self.value.is_empty() {
            return Plan::Keep;
        }
        self.len = self.len.max(self.offset + self.value.len());
        Plan::Write(self.len)
    }

    fn apply(&mut self, value: &mut [u8]) {
        value[self.offset..self.offset + self.value.len()].copy_from_slice(self.value);
    }
}

/// SETRANGE: the length after writing `value` at `offset`, zero-padding a shorter (or
/// absent) string; an empty value changes nothing and creates no key. The TTL stays.
#[derive(Debug)]
pub struct SetRange;

impl Cmd for SetRange {
    type Args = SetRangeArgs;
    const SPEC: Spec = Spec::new("setrange", 4)
        .flags(&[Flag::Write, Flag::DenyOom])
        .acl(&["@write", "@string", "@slow"])
        .keys(&[KeySpec::range(1, 0, 1, &[KeyFlag::Rw, KeyFlag::Update])])
        .route(Route::ReadModifyWrite)
        .docs(
            "string",
            "2.2.0",
            "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.",
            "Overwrite part of a string at key starting at the specified offset",
        );

    /// A negative offset is refused before anything else; the size check, as in Redis,
    /// only when there is something to write.
    fn parse(argv: &Argv, limits: &Limits) -> Result<SetRangeArgs, ErrorReply> {
        let offset = usize::try_from(int(argv, 2)?)
            .map_err(|_| ErrorReply::invalid("offset is out of range"))?;
        let value = value(argv, 3, limits)?;
        if !value.is_empty() && offset.saturating_add(value.len()) > limits.max_value_size {
            return Err(too_long());
        }
        Ok(SetRangeArgs { key: key(argv, 1, limits)?, offset, value })
    }

    fn keys(args: &SetRangeArgs) -> Keys<'_> {
        Keys::one(&args.key)
    }

    fn apply(args: SetRangeArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let mut edit = Overwrite { offset: args.offset, value: &args.value, len: 0 };
        ctx.keyspace()?.rewrite(&args.key, &mut edit).map_err(|e| store_error(&e))?;
        Ok(Reply::count(edit.len))
    }
}
