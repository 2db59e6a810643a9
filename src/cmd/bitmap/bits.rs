//! SETBIT key offset value and GETBIT key offset, and the bit-offset rules they share with
//! BITFIELD.

use bytes::Bytes;

use crate::cmd::args::key;
use crate::cmd::string::store_error;
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::text::{Argv, parse_i64};
use crate::protocol::{ErrorReply, Limits, Reply};
use crate::store::{Edit, Plan};

/// `bit offset is not an integer or out of range`.
pub fn bad_offset() -> ErrorReply {
    ErrorReply::invalid("bit offset is not an integer or out of range")
}

/// A bit offset as Redis reads one (`getBitOffsetFromArgument`): a non-negative integer,
/// or for BITFIELD `#n` meaning `n * width`, whose byte lies within the largest value
/// (shale's value limit stands for `proto-max-bulk-len`).
pub fn bit_offset(arg: &[u8], width: Option<u32>, limits: &Limits) -> Result<u64, ErrorReply> {
    let (hash, digits) = match (arg.split_first(), width) {
        (Some((b'#', rest)), Some(w)) => (Some(w), rest),
        _ => (None, arg),
    };
    let n = parse_i64(digits).ok_or_else(bad_offset)?;
    let n = match hash {
        Some(w) => n.checked_mul(i64::from(w)).ok_or_else(bad_offset)?,
        None => n,
    };
    let n = u64::try_from(n).map_err(|_| bad_offset())?;
    if (n >> 3) >= limits.max_value_size as u64 {
        return Err(bad_offset());
    }
    Ok(n)
}

/// The bit at `offset` of `value` (most significant bit of byte 0 first; 0 past the end).
pub fn bit_at(value: &[u8], offset: u64) -> bool {
    let byte = usize::try_from(offset >> 3).ok().and_then(|i| value.get(i));
    byte.is_some_and(|b| b & (0x80 >> (offset & 7)) != 0)
}

/// Sets (`on`) or clears the bit at `offset` of `value`, which must hold it.
pub fn set_bit(value: &mut [u8], offset: u64, on: bool) {
    let (byte, mask) = ((offset >> 3) as usize, 0x80u8 >> (offset & 7));
    if on {
        value[byte] |= mask;
    } else {
        value[byte] &= !mask;
    }
}

/// Arguments of SETBIT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetBitArgs {
    /// The key.
    pub key: Bytes,
    /// Which bit.
    pub offset: u64,
    /// Set (1) or clear (0).
    pub on: bool,
}

/// The edit behind SETBIT: grows the value to hold the bit, then sets or clears it; an
/// equal bit in a long enough value writes nothing.
struct BitSetter {
    offset: u64,
    on: bool,
    was: bool,
}

impl Edit for BitSetter {
    fn plan(&mut self, old: Option<&[u8]>) -> Plan {
        let old = old.unwrap_or_default();
        self.was = bit_at(old, self.offset);
        let need = usize::try_from(self.offset >> 3).map_or(usize::MAX, |b| b + 1);
        if need <= old.len() && self.was == self.on {
            return Plan::Keep;
        }
        Plan::Write(old.len().max(need))
    }

    fn apply(&mut self, value: &mut [u8]) {
        set_bit(value, self.offset, self.on);
    }
}

/// SETBIT: the bit's old value; the string grows (zero-padded) to hold it. The TTL stays.
#[derive(Debug)]
pub struct SetBit;

impl Cmd for SetBit {
    type Args = SetBitArgs;
    const SPEC: Spec = Spec::new("setbit", 4)
        .flags(&[Flag::Write, Flag::DenyOom])
        .acl(&["@write", "@bitmap", "@slow"])
        .keys(&[KeySpec::range(1, 0, 1, &[KeyFlag::Rw, KeyFlag::Access, KeyFlag::Update])])
        .route(Route::ReadModifyWrite)
        .docs(
            "bitmap",
            "2.2.0",
            "O(1)",
            "Sets or clears the bit at offset in the string value stored at key",
        );

    fn parse(argv: &Argv, limits: &Limits) -> Result<SetBitArgs, ErrorReply> {
        let offset = bit_offset(argv.get(2).unwrap_or_default(), None, limits)?;
        let on = match argv.get(3).and_then(parse_i64) {
            Some(0) => false,
            Some(1) => true,
            _ => return Err(ErrorReply::invalid("bit is not an integer or out of range")),
        };
        Ok(SetBitArgs { key: key(argv, 1, limits)?, offset, on })
    }

    fn keys(args: &SetBitArgs) -> Keys<'_> {
        Keys::one(&args.key)
    }

    fn apply(args: SetBitArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let mut edit = BitSetter { offset: args.offset, on: args.on, was: false };
        ctx.keyspace()?.rewrite(&args.key, &mut edit).map_err(|e| store_error(&e))?;
        Ok(Reply::Int(i64::from(edit.was)))
    }
}

/// GETBIT: the bit at the offset, 0 past the end or for an absent key.
#[derive(Debug)]
pub struct GetBit;

impl Cmd for GetBit {
    type Args = (Bytes, u64);
    const SPEC: Spec = Spec::new("getbit", 3)
        .flags(&[Flag::ReadOnly, Flag::Fast])
        .acl(&["@read", "@bitmap", "@fast"])
        .keys(&[KeySpec::range(1, 0, 1, &[KeyFlag::Ro, KeyFlag::Access])])
        .route(Route::Read)
        .docs(
            "bitmap",
            "2.2.0",
            "O(1)",
            "Returns the bit value at offset in the string value stored at key",
        );

    fn parse(argv: &Argv, limits: &Limits) -> Result<(Bytes, u64), ErrorReply> {
        let offset = bit_offset(argv.get(2).unwrap_or_default(), None, limits)?;
        Ok((key(argv, 1, limits)?, offset))
    }

    fn keys((key, _): &(Bytes, u64)) -> Keys<'_> {
        Keys::one(key)
    }

    fn apply((key, offset): (Bytes, u64), ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let mut bit = false;
        ctx.keyspace()?.read(&key, &mut |v| bit = bit_at(v.unwrap_or_default(), offset));
        Ok(Reply::Int(i64::from(bit)))
    }
}
