//! [`Stats`]: the server's STATS reply (`name:value` lines) parsed into a map.
//!
//! Owns parsing and lookup only; which fields exist is the server's contract
//! (`crate::server::cmd`).

use std::collections::BTreeMap;

/// Server statistics from [`super::Client::stats`], keyed by field name.
///
/// ```
/// let stats = shale::client::Stats::parse("keys:3\nused_memory:4096\n");
/// assert_eq!(stats.get("keys"), Some("3"));
/// assert_eq!(stats.get_u64("used_memory"), Some(4096));
/// assert_eq!(stats.get_u64("missing"), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    fields: BTreeMap<String, String>,
}

impl Stats {
    /// Parses `name:value` lines. The value is everything after the first `:`, so it may
    /// itself contain colons. Blank lines, `#` comments and lines without `:` are skipped;
    /// a repeated name keeps its last value.
    pub fn parse(text: &str) -> Self {
        let fields = text
            .lines()
            .map(|line| line.trim_end_matches('\r'))
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
            .collect();
        Self { fields }
    }

    /// The raw value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// A field parsed as an unsigned integer; `None` if absent or not a number.
    pub fn get_u64(&self, name: &str) -> Option<u64> {
        self.get(name)?.parse().ok()
    }

    /// Every field, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_skips_noise_and_keeps_colons_in_values() {
        let s = Stats::parse("# Server\r\nkeys:3\r\n\r\nnoise\ndb0:keys=3,expires=0\nkeys:4\n");
        assert_eq!(s.get_u64("keys"), Some(4));
        assert_eq!(s.get("db0"), Some("keys=3,expires=0"));
        assert_eq!(s.get("noise"), None);
        assert_eq!(s.len(), 2);
        assert_eq!(s.iter().next(), Some(("db0", "keys=3,expires=0")));
    }

    #[test]
    fn get_u64_rejects_non_numbers() {
        let s = Stats::parse("version:0.1.0\nempty:\n");
        assert_eq!(s.get_u64("version"), None);
        assert_eq!(s.get_u64("empty"), None);
        assert!(!s.is_empty());
    }
}
