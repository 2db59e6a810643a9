//! The shard map file's lexical rules: shard keys and node addresses.

use std::net::IpAddr;

use super::error::MapError;

/// Parses a `"shards"` key: decimal digits only (no sign, no spaces), in `1..=num_shards`.
pub(super) fn parse_shard_key(key: &str, num_shards: u32) -> Result<u32, MapError> {
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_digit()) {
        return Err(MapError::ShardKeyNotInteger { key: key.to_owned() });
    }
    match key.parse::<u32>() {
        Ok(shard) if (1..=num_shards).contains(&shard) => Ok(shard),
        // Digits that overflow `u32` are still a number, just a very out-of-range one.
        _ => Err(MapError::ShardOutOfRange { shard: key.to_owned(), num_shards }),
    }
}

/// An IP address (IPv6 without brackets) or an RFC 1123 hostname: dot-separated labels of
/// 1-63 letters, digits and hyphens, no label starting or ending with a hyphen, at most 253
/// bytes. An all-numeric last label is refused so `999.1.1.1` is not taken for a hostname.
pub(super) fn is_ip_or_hostname(address: &str) -> bool {
    if address.parse::<IpAddr>().is_ok() {
        return true;
    }
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let last_numeric =
        address.rsplit('.').next().is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    address.len() <= 253 && address.split('.').all(label_ok) && !last_numeric
}
