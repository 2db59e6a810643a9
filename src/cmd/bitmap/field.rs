//! BITFIELD key [GET enc offset | [OVERFLOW WRAP | SAT | FAIL] SET enc offset value |
//! [OVERFLOW ...] INCRBY enc offset increment ...] and BITFIELD_RO key [GET enc offset ...]:
//! integers of 1 to 64 bits (`i1`..`i64`, `u1`..`u63`) at any bit offset of a string,
//! read and changed as Redis does (its `bitfieldGeneric`). With a SET or INCRBY the string
//! is first grown, zero-padded, to the farthest bit written (created if absent) even when
//! an OVERFLOW FAIL then writes nothing; all of it is one edit under the stripe lock.

use bytes::Bytes;

use super::bits::bit_offset;
use crate::cmd::args::{key, syntax_error};
use crate::cmd::string::store_error;
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::text::{Argv, parse_i64};
use crate::protocol::{ErrorReply, Limits, Reply};
use crate::store::{Edit, Plan};

/// What an out-of-range SET or INCRBY does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Wrap around (the default).
    Wrap,
    /// Saturate at the type's minimum or maximum.
    Sat,
    /// Write nothing and answer nil.
    Fail,
}

/// One subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldOp {
    /// GET (`None`), SET (`Some((false, value))`) or INCRBY (`Some((true, increment))`).
    pub write: Option<(bool, i64)>,
    /// Signed.
    pub signed: bool,
    /// Width in bits.
    pub bits: u32,
    /// Bit offset of the most significant bit.
    pub offset: u64,
    /// The OVERFLOW in force.
    pub overflow: Overflow,
}

/// Arguments of BITFIELD and BITFIELD_RO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitFieldArgs {
    /// The key.
    pub key: Bytes,
    /// The subcommands in order.
    pub ops: Vec<FieldOp>,
}

fn bad_type() -> ErrorReply {
    ErrorReply::invalid(
        "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
    )
}

/// `i1`..`i64` or `u1`..`u63`: (signed, bits).
fn encoding(arg: &[u8]) -> Result<(bool, u32), ErrorReply> {
    let (signed, digits) = match arg.split_first() {
        Some((b'i', rest)) => (true, rest),
        Some((b'u', rest)) => (false, rest),
        _ => return Err(bad_type()),
    };
    let bits = parse_i64(digits).ok_or_else(bad_type)?;
    let max = if signed { 64 } else { 63 };
    u32::try_from(bits)
        .ok()
        .filter(|b| (1..=max).contains(b))
        .map(|b| (signed, b))
        .ok_or_else(bad_type)
}

/// Parses the subcommands from argument 2 on, as Redis does: each checked in turn, a
/// missing argument being a syntax error.
fn parse_ops(argv: &Argv, limits: &Limits) -> Result<Vec<FieldOp>, ErrorReply> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while let Some(word) = argv.get(j) {
        let rem = argv.len() - j - 1;
        let is = |w: &str| word.eq_ignore_ascii_case(w.as_bytes());
        let write = match () {
            _ if is("get") && rem >= 2 => None,
            _ if is("set") && rem >= 3 => Some(false),
            _ if is("incrby") && rem >= 3 => Some(true),
            _ if is("overflow") && rem >= 1 => {
                let kind = argv.get(j + 1).unwrap_or_default();
                let is = |w: &str| kind.eq_ignore_ascii_case(w.as_bytes());
                overflow = match () {
                    _ if is("wrap") => Overflow::Wrap,
                    _ if is("sat") => Overflow::Sat,
                    _ if is("fail") => Overflow::Fail,
                    _ => return Err(ErrorReply::invalid("Invalid OVERFLOW type specified")),
                };
                j += 2;
                continue;
            }
            _ => return Err(syntax_error()),
        };
        let (signed, bits) = encoding(argv.get(j + 1).unwrap_or_default())?;
        let offset = bit_offset(argv.get(j + 2).unwrap_or_default(), Some(bits), limits)?;
        let write = match write {
            None => None,
            Some(incr) => {
                let n = argv.get(j + 3).and_then(parse_i64);
                Some((incr, n.ok_or_else(crate::cmd::args::not_an_integer)?))
            }
        };
        ops.push(FieldOp { write, signed, bits, offset, overflow });
        j += if write.is_some() { 4 } else { 3 };
    }
    Ok(ops)
}

/// The `bits`-bit unsigned integer at bit `offset` of `v` (zeros past its end).
fn read_bits(v: &[u8], offset: u64, bits: u32) -> u64 {
    (0..u64::from(bits))
        .fold(0, |acc, i| (acc << 1) | u64::from(super::bits::bit_at(v, offset + i)))
}

/// Writes the low `bits` bits of `x` at bit `offset` of `v` (long enough by construction).
fn write_bits(v: &mut [u8], offset: u64, bits: u32, x: u64) {
    for i in 0..u64::from(bits) {
        super::bits::set_bit(v, offset + i, (x >> (u64::from(bits) - 1 - i)) & 1 == 1);
    }
}

/// The field's value as Redis reports it (sign-extended when signed).
fn get(v: &[u8], op: &FieldOp) -> i64 {
    let raw = read_bits(v, op.offset, op.bits);
    if op.signed && op.bits < 64 && raw >> (op.bits - 1) == 1 {
        (raw | (u64::MAX << op.bits)) as i64
    } else {
        raw as i64
    }
}

/// `x` brought into the field's range per the overflow policy: `None` on FAIL.
fn fit(x: i128, op: &FieldOp) -> Option<i128> {
    let (min, max) = if op.signed {
        (-(1i128 << (op.bits - 1)), (1i128 << (op.bits - 1)) - 1)
    } else {
        (0, (1i128 << op.bits) - 1)
    };
    if (min..=max).contains(&x) {
        return Some(x);
    }
    match op.overflow {
        Overflow::Fail => None,
        Overflow::Sat => Some(x.clamp(min, max)),
        Overflow::Wrap => {
            let w = x.rem_euclid(1i128 << op.bits);
            Some(if op.signed && w > max { w - (1i128 << op.bits) } else { w })
        }
    }
}

/// One SET or INCRBY on `v`: what it answers (`None`: failed).
fn change(v: &mut [u8], op: &FieldOp, incr: bool, n: i64) -> Option<i64> {
    let old = get(v, op);
    // An unsigned SET takes the value's 64-bit pattern, as Redis's uint64_t does.
    let wanted = match (incr, op.signed) {
        (true, _) => i128::from(old) + i128::from(n),
        (false, true) => i128::from(n),
        (false, false) => i128::from(n as u64),
    };
    let new = fit(wanted, op)?;
    write_bits(v, op.offset, op.bits, new as u64);
    Some(if incr { new as i64 } else { old })
}

/// The edit: grows the value to the farthest bit written, then runs every subcommand.
struct Fields<'a> {
    ops: &'a [FieldOp],
    out: Vec<Option<i64>>,
}

impl Edit for Fields<'_> {
    fn plan(&mut self, old: Option<&[u8]>) -> Plan {
        let last = self.ops.iter().filter(|o| o.write.is_some());
        let need = last.map(|o| (o.offset + u64::from(o.bits) - 1) / 8 + 1).max().unwrap_or(0);
        let need = usize::try_from(need).unwrap_or(usize::MAX);
        Plan::Write(old.map_or(0, <[u8]>::len).max(need))
    }

    fn apply(&mut self, value: &mut [u8]) {
        self.out.clear();
        for op in self.ops {
            let r = match op.write {
                None => Some(get(value, op)),
                Some((incr, n)) => change(value, op, incr, n),
            };
            self.out.push(r);
        }
    }
}

fn replies(out: Vec<Option<i64>>) -> Reply {
    Reply::Array(out.into_iter().map(|r| r.map_or(Reply::Nil, Reply::Int)).collect())
}

/// BITFIELD_RO (`RO = true`) and BITFIELD: an array with one integer (or nil, for an
/// OVERFLOW FAIL) per GET, SET or INCRBY.
#[derive(Debug)]
pub struct BitFieldCmd<const RO: bool>;

/// BITFIELD key [subcommand ...].
pub type BitField = BitFieldCmd<false>;
/// BITFIELD_RO key [GET encoding offset ...].
pub type BitFieldRo = BitFieldCmd<true>;

const BITFIELD_RO: Spec = Spec::new("bitfield_ro", -2)
    .flags(&[Flag::ReadOnly, Flag::Fast])
    .acl(&["@read", "@bitmap", "@fast"])
    .keys(&[KeySpec::range(1, 0, 1, &[KeyFlag::Ro, KeyFlag::Access])])
    .route(Route::Read)
    .docs(
        "bitmap",
        "6.0.0",
        "O(1) for each subcommand specified",
        "Performs arbitrary read-only bitfield integer operations on strings",
    );

const BITFIELD: Spec = Spec::new("bitfield", -2)
    .flags(&[Flag::Write, Flag::DenyOom])
    .acl(&["@write", "@bitmap", "@slow"])
    .keys(&[KeySpec::range(
        1,
        0,
        1,
        &[KeyFlag::Rw, KeyFlag::Access, KeyFlag::Update, KeyFlag::VariableFlags],
    )
    .notes("This command allows both access and modification of the key")])
    .route(Route::ReadModifyWrite)
    .docs(
        "bitmap",
        "3.2.0",
        "O(1) for each subcommand specified",
        "Performs arbitrary bitfield integer operations on strings",
    );

impl<const RO: bool> Cmd for BitFieldCmd<RO> {
    type Args = BitFieldArgs;
    const SPEC: Spec = if RO { BITFIELD_RO } else { BITFIELD };

    fn parse(argv: &Argv, limits: &Limits) -> Result<BitFieldArgs, ErrorReply> {
        let ops = parse_ops(argv, limits)?;
        if RO && ops.iter().any(|o| o.write.is_some()) {
            return Err(ErrorReply::invalid("BITFIELD_RO only supports the GET subcommand"));
        }
        Ok(BitFieldArgs { key: key(argv, 1, limits)?, ops })
    }

    fn keys(args: &BitFieldArgs) -> Keys<'_> {
        Keys::one(&args.key)
    }

    /// Only GETs: a read.
    fn route(args: &BitFieldArgs) -> Route {
        if args.ops.iter().any(|o| o.write.is_some()) {
            Route::ReadModifyWrite
        } else {
            Route::Read
        }
    }

    fn apply(args: BitFieldArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let ks = ctx.keyspace()?;
        if args.ops.iter().all(|o| o.write.is_none()) {
            let mut out = Vec::with_capacity(args.ops.len());
            ks.read(&args.key, &mut |v| {
                let v = v.unwrap_or_default();
                out.clear();
                out.extend(args.ops.iter().map(|op| Some(get(v, op))));
            });
            return Ok(replies(out));
        }
        let mut edit = Fields { ops: &args.ops, out: Vec::with_capacity(args.ops.len()) };
        ks.rewrite(&args.key, &mut edit).map_err(|e| store_error(&e))?;
        Ok(replies(edit.out))
    }
}
