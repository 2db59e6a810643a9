//! Address schemes: `shale://host:port` (plain TCP), `shales://host:port` (TLS, as
//! `rediss://` is for Redis) or a bare `host:port`. Shared by [`super::ClientBuilder`] and
//! the command-line tools, so both read an address the same way.

/// The scheme `shale://`: plain TCP.
pub const PLAIN_SCHEME: &str = "shale://";
/// The scheme `shales://`: TLS.
pub const TLS_SCHEME: &str = "shales://";

/// What an address's scheme asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// No scheme: whatever the client is configured with.
    Unspecified,
    /// `shale://`: plain TCP.
    Plain,
    /// `shales://`: TLS.
    Tls,
}

/// Splits a scheme (case-insensitive) off `input`, leaving `host[:port]` without a
/// trailing `/`. Any other scheme (`redis://`, `http://`) is an error naming the two
/// accepted ones.
pub fn split_scheme(input: &str) -> Result<(Scheme, &str), String> {
    let known = [(TLS_SCHEME, Scheme::Tls), (PLAIN_SCHEME, Scheme::Plain)];
    for (prefix, scheme) in known {
        if let Some(head) = input.get(..prefix.len()) {
            if head.eq_ignore_ascii_case(prefix) {
                return Ok((scheme, input[prefix.len()..].trim_end_matches('/')));
            }
        }
    }
    if input.contains("://") {
        return Err(format!("the scheme must be {PLAIN_SCHEME} or {TLS_SCHEME}"));
    }
    Ok((Scheme::Unspecified, input))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        // (input, scheme and rest)
        let cases = [
            ("h:1", Ok((Scheme::Unspecified, "h:1"))),
            ("shale://h:1/", Ok((Scheme::Plain, "h:1"))),
            ("SHALES://h:1", Ok((Scheme::Tls, "h:1"))),
            ("shales://[::1]:7", Ok((Scheme::Tls, "[::1]:7"))),
        ];
        for (input, want) in cases {
            assert_eq!(split_scheme(input), want, "{input}");
        }
        assert!(split_scheme("redis://h:1").is_err());
        assert!(split_scheme("rediss://h:1").is_err());
    }
}
