//! Bitmap commands on string values: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP,
//! BITFIELD and BITFIELD_RO. Bits are
//! numbered from the most significant bit of the first byte, as in Redis; a string grows
//! (zero-padded) to hold a bit set past its end. Owns the bit-offset and range rules;
//! the in-place writes go through [`crate::store::Edit`].

mod bits;
mod count;
mod field;
mod op;
#[cfg(test)]
mod tests;

pub use bits::{GetBit, SetBit, SetBitArgs, bad_offset, bit_at, bit_offset, set_bit};
pub use count::{BitCount, BitPos, BitPosArgs, BitRange};
pub use field::{BitField, BitFieldArgs, BitFieldCmd, BitFieldRo, FieldOp, Overflow};
pub use op::{BitOp, BitOpArgs, BitOpCmd, combine};
