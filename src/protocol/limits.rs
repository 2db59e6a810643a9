//! Every protocol limit as a named constant; each has a row in protocol.md's limits table.
//!
//! Hard caps are properties of the wire format and never change. Defaults seed
//! [`Limits`], which a server or client may tighten (or, within the hard caps, loosen).

use std::time::Duration;

/// Bytes in the binary request header after `len`: version, opcode, flags, id, ttl_ms, key_len.
pub const REQUEST_HEADER_LEN: usize = 1 + 1 + 2 + 4 + 8 + 2;
/// Bytes in the binary response header after `len`: version, status, flags, id.
pub const RESPONSE_HEADER_LEN: usize = 1 + 1 + 2 + 4;
/// Bytes of the `len` prefix of every binary frame.
pub const LEN_PREFIX: usize = 4;
/// Hard cap on a binary frame's `len`: always below 2^24, so a binary stream starts with 0x00.
pub const MAX_FRAME_LEN_HARD: usize = (1 << 24) - 1;
/// Hard cap on a key: `key_len` is a u16.
pub const MAX_KEY_SIZE_HARD: usize = u16::MAX as usize;
/// The only binary protocol version.
pub const PROTOCOL_VERSION: u8 = 1;
/// Bytes a router (or a node copying from a peer) may add around a client's key and value
/// when it forwards them: the 8-byte version of a versioned write and, for an outcome of a
/// read-modify-write, its ids (a count byte and up to 16 of 8 bytes: `rmw::MAX_RMW_IDS`,
/// which asserts it fits), with room to spare. Every frame limit counts it, so a request
/// that passed the router's key and value limits can never become a frame a node refuses
/// (and closes the shared backend connection over).
pub const FORWARD_OVERHEAD: usize = 256;

/// Default largest key accepted.
pub const DEFAULT_MAX_KEY_SIZE: usize = 8 * 1024;
/// Default largest value accepted.
pub const DEFAULT_MAX_VALUE_SIZE: usize = 1024 * 1024;
/// Longest inline (telnet-style) command line, as in Redis.
pub const MAX_INLINE_LEN: usize = 64 * 1024;
/// Most elements in one RESP request array (`*N`).
pub const MAX_RESP_ARGS: usize = 1024 * 1024;
/// Most digits accepted in a RESP length or integer line.
pub const MAX_RESP_NUMBER_LEN: usize = 20;
/// Deepest nesting of arrays in a RESP reply the client side decodes, so a hostile server
/// cannot force deep recursion or unbounded bookkeeping.
pub const MAX_REPLY_DEPTH: usize = 32;
/// Longest TTL accepted: 100 years, so deadlines never overflow.
pub const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Size limits the codec enforces. All default to the constants above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest key in bytes (at most [`MAX_KEY_SIZE_HARD`]).
    pub max_key_size: usize,
    /// Largest value in bytes.
    pub max_value_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_key_size: DEFAULT_MAX_KEY_SIZE, max_value_size: DEFAULT_MAX_VALUE_SIZE }
    }
}

impl Limits {
    /// Largest binary frame `len` these limits admit: a header, a key, a value and the
    /// [`FORWARD_OVERHEAD`] a router adds, capped at the hard limit. Anything larger cannot
    /// be a valid request, so it is fatal.
    pub fn max_frame_len(&self) -> usize {
        self.max_request_len().saturating_add(FORWARD_OVERHEAD).min(MAX_FRAME_LEN_HARD)
    }

    /// A header, a largest key and a largest value: the biggest request a client can need.
    fn max_request_len(&self) -> usize {
        REQUEST_HEADER_LEN
            .saturating_add(self.max_key_size.min(MAX_KEY_SIZE_HARD))
            .saturating_add(self.max_value_size)
    }

    /// Largest RESP bulk string accepted: the larger of key and value limits.
    pub fn max_bulk_len(&self) -> usize {
        self.max_key_size.max(self.max_value_size)
    }

    /// Largest whole text request (all bulk strings of one command together).
    pub fn max_text_request(&self) -> usize {
        self.max_request_len().min(MAX_FRAME_LEN_HARD).saturating_mul(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_frame_fits_under_hard_cap() {
        let l = Limits::default();
        assert_eq!(
            l.max_frame_len(),
            REQUEST_HEADER_LEN + FORWARD_OVERHEAD + 8 * 1024 + 1024 * 1024
        );
        assert!(l.max_frame_len() <= MAX_FRAME_LEN_HARD);
    }

    #[test]
    fn huge_limits_are_capped() {
        let l = Limits { max_key_size: usize::MAX, max_value_size: usize::MAX };
        assert_eq!(l.max_frame_len(), MAX_FRAME_LEN_HARD);
    }
}
