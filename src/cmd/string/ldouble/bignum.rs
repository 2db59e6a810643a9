//! [`Big`]: a non-negative integer of at most [`BIG_BITS`] bits in a fixed array, with the
//! few operations exact decimal/binary conversion needs. It lives on the stack (no heap,
//! so it may run under a stripe lock); every operation that could exceed the capacity
//! reports it instead of panicking.

use std::cmp::Ordering;

/// 32-bit limbs held: enough for a 5 KiB decimal string scaled to the long double range
/// (about 34 000 bits), with room to spare.
const LIMBS: usize = 1120;

/// The most bits a [`Big`] holds.
pub const BIG_BITS: usize = LIMBS * 32;

/// A fixed-capacity unsigned integer, little-endian limbs, `len` of them in use.
pub struct Big {
    limbs: [u32; LIMBS],
    len: usize,
}

impl Big {
    /// Zero.
    pub fn zero() -> Self {
        Self { limbs: [0; LIMBS], len: 0 }
    }

    /// `v`.
    pub fn from_u128(v: u128) -> Self {
        let mut b = Self::zero();
        for i in 0..4 {
            b.limbs[i] = (v >> (32 * i)) as u32;
        }
        b.len = 4;
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.len > 0 && self.limbs[self.len - 1] == 0 {
            self.len -= 1;
        }
    }

    /// Whether it is zero.
    pub fn is_zero(&self) -> bool {
        self.len == 0
    }

    /// Significant bits (0 for zero).
    pub fn bits(&self) -> usize {
        match self.len {
            0 => 0,
            n => n * 32 - self.limbs[n - 1].leading_zeros() as usize,
        }
    }

    /// `self = self * m + add`; `None` on overflow.
    pub fn mul_add(&mut self, m: u32, add: u32) -> Option<()> {
        let mut carry = u64::from(add);
        for limb in &mut self.limbs[..self.len] {
            let v = u64::from(*limb) * u64::from(m) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            *self.limbs.get_mut(self.len)? = carry as u32;
            self.len += 1;
        }
        Some(())
    }

    /// `self *= 10^k`; `None` on overflow.
    pub fn mul_pow10(&mut self, mut k: u32) -> Option<()> {
        while k >= 9 {
            self.mul_add(1_000_000_000, 0)?;
            k -= 9;
        }
        self.mul_add(10u32.pow(k), 0)
    }

    /// `self <<= n`; `None` on overflow.
    pub fn shl(&mut self, n: usize) -> Option<()> {
        if self.is_zero() {
            return Some(());
        }
        if self.bits() + n + 32 > BIG_BITS {
            return None;
        }
        let (words, bits) = (n / 32, n % 32);
        let old = self.len;
        self.len = old + words + 1;
        for i in (0..old).rev() {
            let v = u64::from(self.limbs[i]) << bits;
            self.limbs[i + words + 1] |= (v >> 32) as u32;
            self.limbs[i + words] = v as u32;
        }
        self.limbs[..words].fill(0);
        self.trim();
        Some(())
    }

    /// `self >>= 1`.
    pub fn shr1(&mut self) {
        for i in 0..self.len {
            let next = if i + 1 < self.len { self.limbs[i + 1] } else { 0 };
            self.limbs[i] = (self.limbs[i] >> 1) | (next << 31);
        }
        self.trim();
    }

    /// `self -= other`, which must not be larger.
    pub fn sub(&mut self, other: &Big) {
        let mut borrow = 0i64;
        for i in 0..self.len {
            let o = if i < other.len { i64::from(other.limbs[i]) } else { 0 };
            let mut v = i64::from(self.limbs[i]) - o - borrow;
            borrow = i64::from(v < 0);
            if v < 0 {
                v += 1 << 32;
            }
            self.limbs[i] = v as u32;
        }
        self.trim();
    }

    /// `self /= d` (d > 0); returns the remainder.
    pub fn div_small(&mut self, d: u32) -> u32 {
        let mut rem = 0u64;
        for limb in self.limbs[..self.len].iter_mut().rev() {
            let v = (rem << 32) | u64::from(*limb);
            *limb = (v / u64::from(d)) as u32;
            rem = v % u64::from(d);
        }
        self.trim();
        rem as u32
    }

    /// The top 128 bits as `(q, shift, sticky)`: `self = q * 2^shift + rest`, `sticky`
    /// when `rest` is not zero.
    pub fn top128(&self) -> (u128, usize, bool) {
        let shift = self.bits().saturating_sub(128);
        let (words, bits) = (shift / 32, shift % 32);
        let limbs = &self.limbs[..self.len];
        let get = |i: usize| limbs.get(i).copied().unwrap_or(0);
        let mut q = 0u128;
        for j in (0..4).rev() {
            let hi = if bits > 0 { get(words + j + 1) << (32 - bits) } else { 0 };
            q = (q << 32) | u128::from((get(words + j) >> bits) | hi);
        }
        let low_words = limbs.iter().take(words).any(|&w| w != 0);
        let low_bits = bits > 0 && get(words) & ((1 << bits) - 1) != 0;
        (q, shift, low_words || low_bits)
    }
}

impl PartialEq for Big {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Big {}

impl PartialOrd for Big {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Big {
    fn cmp(&self, other: &Self) -> Ordering {
        self.len.cmp(&other.len).then_with(|| {
            let (a, b) = (&self.limbs[..self.len], &other.limbs[..other.len]);
            a.iter().rev().cmp(b.iter().rev())
        })
    }
}
