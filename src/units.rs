//! Human-friendly sizes (`8KiB`, `1mb`, `512`) and durations (`300s`, `250ms`, `5m`) for
//! command-line flags.

use std::time::Duration;

/// A size or duration that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} '{input}': {why}")]
pub struct UnitError {
    what: &'static str,
    input: String,
    why: &'static str,
}

fn split_number(s: &str) -> Option<(u64, &str)> {
    let s = s.trim();
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n = s[..end].parse().ok()?;
    Some((n, s[end..].trim()))
}

/// Parses a byte size: a number with an optional unit `B`, `K`/`KB`/`KiB`, `M`/`MB`/`MiB`,
/// `G`/`GB`/`GiB` (case-insensitive; all units are powers of 1024, as in Redis configs).
pub fn parse_size(s: &str) -> Result<usize, UnitError> {
    let err = |why| UnitError { what: "size", input: s.to_owned(), why };
    let (n, unit) = split_number(s).ok_or_else(|| err("expected a number"))?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(err("unknown unit (use B, KiB, MiB or GiB)")),
    };
    let bytes = n.checked_mul(mult).ok_or_else(|| err("too large"))?;
    usize::try_from(bytes).map_err(|_| err("too large"))
}

/// Parses a duration: a number with unit `us`, `ms`, `s`, `m` or `h`; a bare number is
/// seconds.
pub fn parse_duration(s: &str) -> Result<Duration, UnitError> {
    let err = |why| UnitError { what: "duration", input: s.to_owned(), why };
    let (n, unit) = split_number(s).ok_or_else(|| err("expected a number"))?;
    let us: u64 = match unit.to_ascii_lowercase().as_str() {
        "us" | "µs" => 1,
        "ms" => 1_000,
        "" | "s" | "sec" | "secs" => 1_000_000,
        "m" | "min" => 60_000_000,
        "h" => 3_600_000_000,
        _ => return Err(err("unknown unit (use us, ms, s, m or h)")),
    };
    n.checked_mul(us).map(Duration::from_micros).ok_or_else(|| err("too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        // (input, bytes)
        let cases =
            [("512", 512), ("8KiB", 8192), ("8kb", 8192), ("1MiB", 1 << 20), ("2 g", 2 << 30)];
        for (input, want) in cases {
            assert_eq!(parse_size(input), Ok(want), "{input}");
        }
        assert!(parse_size("1XB").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
    }

    #[test]
    fn durations() {
        let cases =
            [("300s", 300_000), ("250ms", 250), ("5m", 300_000), ("7", 7_000), ("1h", 3_600_000)];
        for (input, ms) in cases {
            assert_eq!(parse_duration(input), Ok(Duration::from_millis(ms)), "{input}");
        }
        assert_eq!(parse_duration("200us"), Ok(Duration::from_micros(200)));
        assert!(parse_duration("5 parsecs").is_err());
    }
}
