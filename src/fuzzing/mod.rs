//! Fuzz harnesses: pure functions `fn(&[u8])` that drive the protocol, codec and store with
//! arbitrary bytes and panic when an invariant breaks.
//!
//! Owns: the harnesses and the invariants they assert. Each is shared by a cargo-fuzz target
//! in `fuzz/fuzz_targets/` (which only calls it) and by `tests/fuzz_corpus.rs` (which replays
//! the committed corpus and regressions through it, so CI covers every harness on stable).
//! Does not own: any protocol or store behaviour, and it needs no dependency beyond the
//! crate's own. It is `#[doc(hidden)]`: a test aid, not part of the API.
//!
//! | harness | drives | asserts (beyond "never panics") |
//! |---|---|---|
//! | [`server_binary_decode`] | `ServerCodec`, binary dialect, chunked | one whole frame per item, ids, bounded buffer, commands within limits |
//! | [`client_response_decode`] | `ClientCodec` + `to_reply`, chunked | one whole frame per item, length cap, reply shapes per opcode |
//! | [`text_decode`] | `RequestDecoder` + `parse_command`, `ReplyDecoder` | arg counts and sizes, progress, re-encoding is a fixed point |
//! | [`round_trip`] | every encoder against its decoder | encode then decode gives the value back (documented lossy cases aside) |
//! | [`split`] | every decoder | whole input and arbitrary cuts decode to the same items and error |
//! | [`store_model`] | `Store` on a `ManualClock` | agrees with a `BTreeMap` model of TTLs, tombstones and versions; never serves an expired value or a tombstone |
//!
//! Most harnesses read a leading *config byte* ([`Config`]) that picks the limits and how the
//! rest of the input is cut into reads, so one corpus file pins one exact scenario.

mod check;
mod decode;
mod input;
mod round_trip;
mod split;
mod store_model;
mod text;

pub use decode::{client_response_decode, server_binary_decode};
pub use round_trip::round_trip;
pub use split::split;
pub use store_model::store_model;
pub use text::text_decode;

use crate::protocol::Limits;
use crate::protocol::limits::MAX_FRAME_LEN_HARD;

/// A harness: runs one input, panicking if an invariant breaks.
pub type Harness = fn(&[u8]);

/// Every harness by name, in the order of the fuzz targets; the corpus test walks this list.
pub const HARNESSES: [(&str, Harness); 6] = [
    ("server_binary_decode", server_binary_decode),
    ("client_response_decode", client_response_decode),
    ("text_decode", text_decode),
    ("round_trip", round_trip),
    ("split", split),
    ("store_model", store_model),
];

/// Most decode calls one harness makes: far more than any input of `-max_len` bytes can
/// need, since every item must consume at least one byte.
const MAX_DECODE_CALLS: usize = 1 << 20;

/// What a harness's leading config byte selects.
///
/// ```text
///  bit  7 6 5 4 3 2 | 1 0
///      chunk seed   | limits profile (see `Config::limits`)
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Size limits to decode under.
    pub limits: Limits,
    /// Seeds the read sizes a stream is cut into.
    pub chunk_seed: u8,
}

impl Config {
    /// Splits `data` into its config byte and the rest. An empty input uses profile 0.
    pub fn split(data: &[u8]) -> (Config, &[u8]) {
        let (byte, rest) = data.split_first().map_or((0, data), |(b, r)| (*b, r));
        (Config { limits: Self::limits(byte & 0b11), chunk_seed: byte >> 2 }, rest)
    }

    /// Profile 0 is the server default; the others are tiny so short inputs reach every
    /// limit boundary: 1 is key 4 / value 8, 2 is key 1 / value 0, 3 is the hard caps.
    pub(crate) fn limits(profile: u8) -> Limits {
        match profile {
            1 => Limits { max_key_size: 4, max_value_size: 8 },
            2 => Limits { max_key_size: 1, max_value_size: 0 },
            3 => Limits { max_key_size: u16::MAX as usize, max_value_size: MAX_FRAME_LEN_HARD },
            _ => Limits::default(),
        }
    }

    /// Read sizes for a stream: chunk seed 0 delivers it whole, others cut it pseudo-randomly
    /// into pieces of 1..=max bytes, where `max` grows with the seed's top bits.
    pub fn chunks<'a>(&self, data: &'a [u8]) -> Vec<&'a [u8]> {
        if self.chunk_seed == 0 {
            return vec![data];
        }
        let max = [1usize, 3, 16, 256][usize::from(self.chunk_seed >> 4)];
        let mut rng = Rng::new(u64::from(self.chunk_seed) ^ data.len() as u64);
        cut(data, |_| 1 + rng.below(max))
    }
}

/// Cuts `data` into consecutive pieces whose sizes `size(i)` picks (clamped to what is left).
fn cut(data: &[u8], mut size: impl FnMut(usize) -> usize) -> Vec<&[u8]> {
    let mut pieces = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let n = size(pieces.len()).clamp(1, rest.len());
        let (piece, tail) = rest.split_at(n);
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

/// A tiny deterministic PRNG (xorshift64*): chunk sizes and the corpus test's inputs must
/// be reproducible from a seed, with no dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value, zero included).
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next_u64() % n as u64) as usize }
    }
}
