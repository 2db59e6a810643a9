//! [`Input`]: reads structure (numbers, choices, byte strings) off raw fuzz bytes, so the
//! structured harnesses need no `arbitrary` dependency. Running out of bytes yields zeros
//! and empty slices, never an error: every input means *something*.

/// Bytes of generated filler (see [`Input::fill_len`]) one input may ask for in total, so a
/// few bytes describing "64 KiB of `x`" cannot, repeated, make one run allocate hundreds of
/// megabytes and crawl.
const FILL_BUDGET: usize = 256 * 1024;

/// A cursor over fuzz input.
#[derive(Debug, Clone)]
pub(crate) struct Input<'a> {
    data: &'a [u8],
    fill_left: usize,
}

impl<'a> Input<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { data, fill_left: FILL_BUDGET }
    }

    /// Grants up to `wanted` bytes of generated filler out of the input's budget.
    pub(crate) fn fill_len(&mut self, wanted: usize) -> usize {
        let granted = wanted.min(self.fill_left);
        self.fill_left -= granted;
        granted
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub(crate) fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    /// Big-endian, zero-padded when the input runs out.
    fn be<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for b in &mut out {
            *b = self.u8();
        }
        out
    }

    pub(crate) fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.be())
    }

    pub(crate) fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.be())
    }

    pub(crate) fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.be())
    }

    pub(crate) fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// A value in `0..n` from one byte (0 when `n` is 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { usize::from(self.u8()) % n }
    }

    /// One of `items` (which must not be empty).
    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// Up to `n` bytes (fewer if the input runs out).
    pub(crate) fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.data.split_at(n.min(self.data.len()));
        self.data = tail;
        head
    }

    /// A length byte, then that many bytes (at most `max`).
    pub(crate) fn short_bytes(&mut self, max: usize) -> &'a [u8] {
        let n = self.below(max + 1);
        self.bytes(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_numbers_big_endian_and_pads_with_zeros() {
        let mut input = Input::new(&[0x12, 0x34, 0x56]);
        assert_eq!(input.u16(), 0x1234);
        assert_eq!(input.u32(), 0x5600_0000);
        assert!(input.is_empty());
        assert_eq!(input.u8(), 0);
        assert_eq!(input.bytes(4), b"");
    }

    #[test]
    fn filler_is_budgeted() {
        let mut input = Input::new(&[]);
        assert_eq!(input.fill_len(FILL_BUDGET - 1), FILL_BUDGET - 1);
        assert_eq!(input.fill_len(10), 1);
        assert_eq!(input.fill_len(10), 0);
    }

    #[test]
    fn short_bytes_takes_a_length_then_bytes() {
        let mut input = Input::new(&[2, b'a', b'b', b'c']);
        assert_eq!(input.short_bytes(10), b"ab");
        assert_eq!(input.bytes(10), b"c");
    }
}
