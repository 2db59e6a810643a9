//! BITCOUNT key [start end [BYTE | BIT]] and BITPOS key bit [start [end [BYTE | BIT]]].
//! As in Redis 7.2, the arguments are checked before the key is looked up, so a bad range
//! is an error even for an absent key (7.0 answered 0 there).

use bytes::Bytes;

use super::bits::bit_at;
use crate::cmd::args::{int, key, syntax_error};
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// A range as given: start, end (inclusive; negative counts from the end), in bits or
/// bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitRange {
    /// First index.
    pub start: i64,
    /// Last index, if given (BITPOS may leave it out).
    pub end: Option<i64>,
    /// BIT rather than BYTE.
    pub bits: bool,
}

/// The unit word after a range: BYTE or BIT.
fn unit(word: &[u8]) -> Result<bool, ErrorReply> {
    match () {
        _ if word.eq_ignore_ascii_case(b"bit") => Ok(true),
        _ if word.eq_ignore_ascii_case(b"byte") => Ok(false),
        _ => Err(syntax_error()),
    }
}

/// The inclusive bit range `[first, last]` a range picks in a `len`-byte value, clamped as
/// Redis clamps it; `None` when empty.
fn resolve(r: BitRange, len: usize, default_end: i64) -> Option<(u64, u64)> {
    let n = i64::try_from(len).unwrap_or(i64::MAX / 8);
    let n = if r.bits { n * 8 } else { n };
    let end = r.end.unwrap_or(default_end);
    let start = if r.start < 0 { (n + r.start).max(0) } else { r.start };
    let end = if end < 0 { (n + end).max(0) } else { end.min(n - 1) };
    if start > end || n == 0 {
        return None;
    }
    let (start, end) = (u64::try_from(start).ok()?, u64::try_from(end).ok()?);
    Some(if r.bits { (start, end) } else { (start * 8, end * 8 + 7) })
}

/// Set bits of `value` in the inclusive bit range.
fn count_bits(value: &[u8], (first, last): (u64, u64)) -> i64 {
    let (fb, lb) = ((first / 8) as usize, (last / 8) as usize);
    let mut count: u64 = value[fb..=lb].iter().map(|b| u64::from(b.count_ones())).sum();
    // Take off the bits of the edge bytes outside the range.
    count -= u64::from((value[fb] & !(0xffu8 >> (first % 8))).count_ones());
    let after = 0xffu8.checked_shr((last % 8 + 1) as u32).unwrap_or(0);
    count -= u64::from((value[lb] & after).count_ones());
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// BITCOUNT: the number of set bits, in the range if given.
#[derive(Debug)]
pub struct BitCount;

impl Cmd for BitCount {
    type Args = (Bytes, Option<BitRange>);
    const SPEC: Spec = Spec::new("bitcount", -2)
        .flags(&[Flag::ReadOnly])
        .acl(&["@read", "@bitmap", "@slow"])
        .keys(&[KeySpec::range(1, 0, 1, &[KeyFlag::Ro, KeyFlag::Access])])
        .route(Route::Read)
        .docs("bitmap", "2.6.0", "O(N)", "Count set bits in a string");

    fn parse(argv: &Argv, limits: &Limits) -> Result<Self::Args, ErrorReply> {
        let range = match argv.len() {
            2 => None,
            4 | 5 => {
                let (start, end) = (int(argv, 2)?, int(argv, 3)?);
                let bits = argv.get(4).map(unit).transpose()?.unwrap_or(false);
                Some(BitRange { start, end: Some(end), bits })
            }
            _ => return Err(syntax_error()),
        };
        Ok((key(argv, 1, limits)?, range))
    }

    fn keys((key, _): &Self::Args) -> Keys<'_> {
        Keys::one(key)
    }

    fn apply((key, range): Self::Args, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let mut count = 0;
        ctx.keyspace()?.read(&key, &mut |v| {
            let v = v.unwrap_or_default();
            let whole = BitRange { start: 0, end: Some(-1), bits: false };
            let r = range.unwrap_or(whole);
            // Both ends negative and crossed: empty, before any clamping (as Redis).
            let crossed = r.start < 0 && r.end.is_some_and(|e| e < 0 && r.start > e);
            count = match resolve(r, v.len(), -1) {
                Some(bits) if !crossed => count_bits(v, bits),
                _ => 0,
            };
        });
        Ok(Reply::Int(count))
    }
}

/// Arguments of BITPOS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitPosArgs {
    /// The key.
    pub key: Bytes,
    /// Look for a 1 (or a 0).
    pub bit: bool,
    /// The range, if given.
    pub range: Option<BitRange>,
}

/// Where the first `bit` is in `value` within `range`: -1 when none. Looking for a 0 with
/// no end given, the string counts as followed by zeros (the answer can be its length in
/// bits); an absent key is all zeros.
fn bitpos(value: Option<&[u8]>, bit: bool, range: Option<BitRange>) -> i64 {
    let Some(value) = value else { return if bit { -1 } else { 0 } };
    let r = range.unwrap_or(BitRange { start: 0, end: None, bits: false });
    let Some((first, last)) = resolve(r, value.len(), i64::MAX) else { return -1 };
    match find_bit(value, bit, first, last) {
        Some(i) => i64::try_from(i).unwrap_or(-1),
        None if !bit && r.end.is_none() => i64::try_from(last + 1).unwrap_or(-1),
        None => -1,
    }
}

/// The first bit equal to `bit` in the inclusive bit range of `value`.
fn find_bit(value: &[u8], bit: bool, first: u64, last: u64) -> Option<u64> {
    let mut i = first;
    while i <= last {
        if i % 8 == 0 && i + 7 <= last {
            // A whole byte that cannot hold the bit is skipped at once.
            let skip = if bit { 0x00 } else { 0xff };
            if value.get((i / 8) as usize) == Some(&skip) {
                i += 8;
                continue;
            }
        }
        if bit_at(value, i) == bit {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// BITPOS: the position of the first set (or clear) bit.
#[derive(Debug)]
pub struct BitPos;

impl Cmd for BitPos {
    type Args = BitPosArgs;
    const SPEC: Spec = Spec::new("bitpos", -3)
        .flags(&[Flag::ReadOnly])
        .acl(&["@read", "@bitmap", "@slow"])
        .keys(&[KeySpec::range(1, 0, 1, &[KeyFlag::Ro, KeyFlag::Access])])
        .route(Route::Read)
        .docs("bitmap", "2.8.7", "O(N)", "Find first bit set or clear in a string");

    /// In Redis's order: the bit, the start, the unit, then the end.
    fn parse(argv: &Argv, limits: &Limits) -> Result<BitPosArgs, ErrorReply> {
        let bit = match int(argv, 2)? {
            0 => false,
            1 => true,
            _ => return Err(ErrorReply::invalid("The bit argument must be 1 or 0.")),
        };
        let range = match argv.len() {
            3 => None,
            4..=6 => {
                let start = int(argv, 3)?;
                let bits = argv.get(5).map(unit).transpose()?.unwrap_or(false);
                let end = if argv.len() >= 5 { Some(int(argv, 4)?) } else { None };
                Some(BitRange { start, end, bits })
            }
            _ => return Err(syntax_error()),
        };
        Ok(BitPosArgs { key: key(argv, 1, limits)?, bit, range })
    }

    fn keys(args: &BitPosArgs) -> Keys<'_> {
        Keys::one(&args.key)
    }

    fn apply(args: BitPosArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let mut pos = 0;
        ctx.keyspace()?.read(&args.key, &mut |v| pos = bitpos(v, args.bit, args.range));
        Ok(Reply::Int(pos))
    }
}
