//! INCRBYFLOAT's arithmetic exactly as Redis does it on x86-64: both operands are read as
//! C's `strtold` reads them into an x87 80-bit `long double` (a 64-bit significand,
//! correctly rounded, hexadecimal and `inf` forms included), added with round-to-nearest-
//! even, and printed the way Redis's `ld2string(.., LD_STR_HUMAN)` does: `%.17Lf`, then
//! trailing zeros and a bare point trimmed, `-0` made `0`. So `0.1 + 0.2` is `0.3` and
//! `1e308 + 1e308` is a 309-digit number, as redis-server answers.
//!
//! Everything is exact integer arithmetic on the stack ([`bignum::Big`]); nothing here
//! allocates, so the edit can run under a stripe lock. Owns no command logic.

mod bignum;

use bignum::Big;

/// Longest text Redis reads as a long double (its `MAX_LONG_DOUBLE_CHARS`): anything this
/// long or longer is not a valid float, and no result is this long.
pub const LONG_DOUBLE_TEXT_MAX: usize = 5 * 1024;

/// Exponent of the least significant bit of the smallest subnormal (2^-16445); every
/// finite value is a multiple of it.
const E_MIN: i64 = -16445;
/// Largest exponent of a 64-bit significand's least significant bit: the largest finite
/// value is (2^64 - 1) * 2^16320.
const E_MAX: i64 = 16320;
/// Decimal exponents past which a non-zero input is out of range for certain: 10^4933 is
/// above the largest value, 10^-4951 below half the smallest subnormal.
const DEC_MAX: i64 = 4933;
const DEC_MIN: i64 = -4951;
/// Digits of the fixed-point part `%.17Lf` prints.
const FRACTION_DIGITS: u32 = 17;

/// An x87 extended-precision value: `m * 2^e`, or an infinity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongDouble {
    /// A finite value (`m == 0` is zero, signed like IEEE zeros).
    Finite {
        /// Negative.
        neg: bool,
        /// Significand.
        m: u64,
        /// Binary exponent of `m`'s least significant bit.
        e: i64,
    },
    /// Positive or negative infinity.
    Inf {
        /// Negative.
        neg: bool,
    },
}

/// An exact value before rounding: `q * 2^lsb`, plus a bit that says the true value is a
/// little more (`sticky`: non-zero bits were dropped below `lsb`).
struct Exact {
    q: u128,
    lsb: i64,
    sticky: bool,
}

impl LongDouble {
    /// Parses `s` as Redis's `string2ld`: what `strtold` takes, all of it, with no leading
    /// space, not NaN, and not out of range (an overflow or a non-zero value that rounds
    /// to zero); `None` otherwise.
    pub fn parse(s: &[u8]) -> Option<Self> {
        if s.is_empty() || s.len() >= LONG_DOUBLE_TEXT_MAX || is_c_space(s[0]) {
            return None;
        }
        let (neg, rest) = match s[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        if rest.eq_ignore_ascii_case(b"inf") || rest.eq_ignore_ascii_case(b"infinity") {
            return Some(LongDouble::Inf { neg });
        }
        let hex = rest.len() > 2 && rest[0] == b'0' && rest[1].eq_ignore_ascii_case(&b'x');
        let exact = if hex { parse_hex(&rest[2..])? } else { parse_decimal(rest)? };
        let Some(exact) = exact else {
            return Some(LongDouble::Finite { neg, m: 0, e: 0 });
        };
        match round(neg, exact) {
            LongDouble::Finite { m: 0, .. } | LongDouble::Inf { .. } => None,
            value => Some(value),
        }
    }

    /// `self + other` rounded to nearest even; `None` for NaN (opposite infinities).
    pub fn checked_add(self, other: Self) -> Option<Self> {
        use LongDouble::{Finite, Inf};
        let (a, b) = match (self, other) {
            (Inf { neg: x }, Inf { neg: y }) if x != y => return None,
            (inf @ Inf { .. }, _) | (_, inf @ Inf { .. }) => return Some(inf),
            (Finite { neg, m, e }, Finite { neg: n2, m: m2, e: e2 }) => ((neg, m, e), (n2, m2, e2)),
        };
        if b.1 == 0 {
            // x + 0 is x, and -0 + -0 stays -0; +0 + -0 is +0.
            return Some(if a.1 == 0 { Finite { neg: a.0 && b.0, m: 0, e: 0 } } else { self });
        }
        if a.1 == 0 {
            return Some(other);
        }
        let (big, small) = if magnitude(a) >= magnitude(b) { (a, b) } else { (b, a) };
        let hi = u128::from(big.1) << 62;
        let shift = u32::try_from(big.2 - small.2).unwrap_or(u32::MAX);
        let lo_full = u128::from(small.1) << 62;
        let (lo, sticky) = match shift {
            0 => (lo_full, false),
            1..=127 => (lo_full >> shift, lo_full & ((1u128 << shift) - 1) != 0),
            _ => (0, true),
        };
        let q = match (big.0 == small.0, sticky) {
            (true, _) => hi + lo,
            (false, false) => hi - lo,
            // The true difference is a little under `hi - lo`: step below and keep sticky.
            (false, true) => hi - lo - 1,
        };
        if q == 0 && !sticky {
            return Some(Finite { neg: false, m: 0, e: 0 });
        }
        Some(round(big.0, Exact { q, lsb: big.2 - 62, sticky }))
    }

    /// Writes the value as Redis's `ld2string(.., LD_STR_HUMAN)` does into `out`; returns
    /// the length.
    pub fn format(self, out: &mut [u8; LONG_DOUBLE_TEXT_MAX]) -> usize {
        let (neg, m, e) = match self {
            LongDouble::Inf { neg } => {
                let text: &[u8] = if neg { b"-inf" } else { b"inf" };
                out[..text.len()].copy_from_slice(text);
                return text.len();
            }
            LongDouble::Finite { neg, m, e } => (neg, m, e),
        };
        let mut digits = [0u8; LONG_DOUBLE_TEXT_MAX];
        let n = scaled_digits(m, e, &mut digits);
        // At least one digit before the point: pad to FRACTION_DIGITS + 1.
        let width = n.max(FRACTION_DIGITS as usize + 1);
        let digits = &digits[digits.len() - n..];
        let int_len = width - FRACTION_DIGITS as usize;
        let mut len = 0;
        let mut push = |b: u8| {
            out[len] = b;
            len += 1;
        };
        if neg {
            push(b'-');
        }
        for i in 0..width {
            if i == int_len {
                push(b'.');
            }
            push(if i < width - n { b'0' } else { digits[i - (width - n)] });
        }
        // Trim the zeros after the point, then the point itself.
        while out[len - 1] == b'0' {
            len -= 1;
        }
        if out[len - 1] == b'.' {
            len -= 1;
        }
        if &out[..len] == b"-0" {
            out[0] = b'0';
            len = 1;
        }
        len
    }
}

/// Whether C's `isspace` is true for `b`.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// A finite value's magnitude, comparable across exponents: (top bit's exponent,
/// significand aligned to it).
fn magnitude((_, m, e): (bool, u64, i64)) -> (i64, u64) {
    let lz = m.leading_zeros();
    (e + 63 - i64::from(lz), m << lz)
}

/// Rounds an exact value to the nearest long double (ties to even), overflowing to
/// infinity; subnormals keep fewer significant bits.
fn round(neg: bool, x: Exact) -> LongDouble {
    if x.q == 0 {
        return LongDouble::Finite { neg, m: 0, e: 0 };
    }
    let top = 127 - i64::from(x.q.leading_zeros()) + x.lsb;
    if top > E_MAX + 63 {
        return LongDouble::Inf { neg };
    }
    let target = (top - 63).max(E_MIN);
    let shift = target - x.lsb;
    let m: u128 = if shift <= 0 {
        x.q << (-shift).min(127)
    } else if shift > 128 {
        0
    } else {
        let kept = if shift == 128 { 0 } else { x.q >> shift };
        let rem = if shift == 128 { x.q } else { x.q & ((1u128 << shift) - 1) };
        let half = 1u128 << (shift - 1);
        let up = rem > half || (rem == half && (x.sticky || kept & 1 == 1));
        kept + u128::from(up)
    };
    let (m, e) = if m == 1 << 64 { (1u128 << 63, target + 1) } else { (m, target) };
    if e > E_MAX {
        return LongDouble::Inf { neg };
    }
    LongDouble::Finite { neg, m: m as u64, e }
}

/// A decimal number (`[digits][.digits][e[+-]digits]`, at least one digit, nothing
/// after): `Some(None)` for zero, `None` if malformed or certainly out of range.
fn parse_decimal(s: &[u8]) -> Option<Option<Exact>> {
    let int_end = s.iter().position(|b| !b.is_ascii_digit()).unwrap_or(s.len());
    let (mut frac_start, mut frac_end) = (int_end, int_end);
    if s.get(int_end) == Some(&b'.') {
        frac_start = int_end + 1;
        let n = s[frac_start..].iter().position(|b| !b.is_ascii_digit());
        frac_end = frac_start + n.unwrap_or(s.len() - frac_start);
    }
    if int_end == 0 && frac_end == frac_start {
        return None;
    }
    let exp = match &s[frac_end..] {
        [] => 0,
        [b'e' | b'E', rest @ ..] => parse_exponent(rest)?,
        _ => return None,
    };
    let digits = || s[..int_end].iter().chain(&s[frac_start..frac_end]);
    let total = i64::try_from(int_end + frac_end - frac_start).ok()?;
    let leading = digits().take_while(|&&d| d == b'0').count();
    // The last non-zero digit, as an index into the digits (integer part first).
    let nonzero = |d: &u8| *d != b'0';
    let last = match s[frac_start..frac_end].iter().rposition(nonzero) {
        Some(p) => int_end + p,
        None => match s[..int_end].iter().rposition(nonzero) {
            Some(p) => p,
            None => return Some(None),
        },
    };
    let zeros = total - 1 - i64::try_from(last).ok()?;
    let n = i64::try_from(last + 1 - leading).ok()?;
    let frac = i64::try_from(frac_end - frac_start).ok()?;
    // Nine digits at a time into the big number.
    let mut big = Big::zero();
    let (mut chunk, mut in_chunk) = (0u32, 0u32);
    for &d in digits().skip(leading).take(last + 1 - leading) {
        chunk = chunk * 10 + u32::from(d - b'0');
        in_chunk += 1;
        if in_chunk == 9 {
            big.mul_add(1_000_000_000, chunk)?;
            (chunk, in_chunk) = (0, 0);
        }
    }
    big.mul_add(10u32.pow(in_chunk), chunk)?;
    let e10 = exp.saturating_sub(frac).saturating_add(zeros);
    let mag = e10.saturating_add(n);
    if mag > DEC_MAX || mag <= DEC_MIN {
        return None;
    }
    Some(Some(scale(big, e10)?))
}

/// The exponent after `e`: an optional sign and at least one digit, saturating far past
/// any range that matters.
fn parse_exponent(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits.iter().fold(0i64, |n, d| (n * 10 + i64::from(d - b'0')).min(1 << 40));
    Some(if neg { -n } else { n })
}

/// `big * 10^e10` as an exact value with at least 66 significant bits (or all of them).
fn scale(mut big: Big, e10: i64) -> Option<Exact> {
    if e10 >= 0 {
        big.mul_pow10(u32::try_from(e10).ok()?)?;
        let (q, shift, sticky) = big.top128();
        return Some(Exact { q, lsb: i64::try_from(shift).ok()?, sticky });
    }
    // big / 10^k: scale one side by a power of two so the quotient has 66 or 67 bits,
    // then divide bit by bit.
    let mut den = Big::from_u128(1);
    den.mul_pow10(u32::try_from(-e10).ok()?)?;
    let s = 66 + den.bits() as i64 - big.bits() as i64;
    if s >= 0 {
        big.shl(usize::try_from(s).ok()?)?;
    } else {
        den.shl(usize::try_from(-s).ok()?)?;
    }
    let steps = big.bits() - den.bits();
    den.shl(steps)?;
    let mut q = 0u128;
    for _ in 0..=steps {
        q <<= 1;
        if big >= den {
            big.sub(&den);
            q |= 1;
        }
        den.shr1();
    }
    Some(Exact { q, lsb: -s, sticky: !big.is_zero() })
}

/// A hexadecimal number after `0x` (`[hex][.hex][p[+-]digits]`, at least one digit).
fn parse_hex(s: &[u8]) -> Option<Option<Exact>> {
    let int_end = s.iter().position(|b| !b.is_ascii_hexdigit()).unwrap_or(s.len());
    let (mut frac_start, mut frac_end) = (int_end, int_end);
    if s.get(int_end) == Some(&b'.') {
        frac_start = int_end + 1;
        let n = s[frac_start..].iter().position(|b| !b.is_ascii_hexdigit());
        frac_end = frac_start + n.unwrap_or(s.len() - frac_start);
    }
    if int_end == 0 && frac_end == frac_start {
        return None;
    }
    let exp = match &s[frac_end..] {
        [] => 0,
        [b'p' | b'P', rest @ ..] => parse_exponent(rest)?,
        _ => return None,
    };
    let mut big = Big::zero();
    for &d in s[..int_end].iter().chain(&s[frac_start..frac_end]) {
        let v = (d as char).to_digit(16)?;
        big.mul_add(16, v)?;
    }
    if big.is_zero() {
        return Some(None);
    }
    let frac = i64::try_from(frac_end - frac_start).ok()?;
    let (q, shift, sticky) = big.top128();
    let lsb = exp.saturating_sub(4 * frac).saturating_add(i64::try_from(shift).ok()?);
    Some(Some(Exact { q, lsb, sticky }))
}

/// The decimal digits of `round(m * 2^e * 10^17)` (ties to even), right-aligned in `out`;
/// returns how many (at least one).
fn scaled_digits(m: u64, e: i64, out: &mut [u8; LONG_DOUBLE_TEXT_MAX]) -> usize {
    let scale = 10u128.pow(FRACTION_DIGITS);
    let mut n = 0;
    let mut put = |d: u8| {
        n += 1;
        out[LONG_DOUBLE_TEXT_MAX - n] = b'0' + d;
    };
    if e < 0 {
        // m * 10^17 < 2^121: shifting by 122 or more leaves less than a half.
        let p = u128::from(m) * scale;
        let sh = u32::try_from(-e).unwrap_or(u32::MAX);
        let mut v = if sh >= 122 {
            0
        } else {
            let (kept, rem, half) = (p >> sh, p & ((1u128 << sh) - 1), 1u128 << (sh - 1));
            kept + u128::from(rem > half || (rem == half && kept & 1 == 1))
        };
        loop {
            put((v % 10) as u8);
            v /= 10;
            if v == 0 {
                return n;
            }
        }
    }
    let mut big = Big::from_u128(u128::from(m));
    // Within range by construction (e <= E_MAX); a failure would only drop digits.
    let _ = big.shl(usize::try_from(e).unwrap_or(0)).and_then(|()| big.mul_pow10(FRACTION_DIGITS));
    loop {
        let mut chunk = big.div_small(1_000_000_000);
        let last = big.is_zero();
        for _ in 0..9 {
            put((chunk % 10) as u8);
            chunk /= 10;
            if last && chunk == 0 {
                break;
            }
        }
        if last {
            return n;
        }
    }
}

#[cfg(test)]
mod tests;
