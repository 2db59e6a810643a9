//! Which server `shale cli` (and `shale bench`, `shale stress`) talks to: `-h`/`-p` over
//! `-u` (or `SHALE_ADDR`) over the default `127.0.0.1:7379`.
//!
//! Owns parsing of `host:port`, `shale://host[:port]`, `shales://host[:port]` (TLS) and
//! bracketed IPv6 hosts; the schemes themselves are [`crate::client::url`]'s. Resolving
//! the name is left to the connect call, so a host that resolves differently later (DNS,
//! `/etc/hosts`) is picked up on reconnect.

use std::fmt;

use super::CliError;
use crate::client::url::{Scheme, split_scheme};
use crate::server::DEFAULT_PORT;

/// Host the CLI connects to when nothing else is given.
pub const DEFAULT_HOST: &str = "127.0.0.1";

/// A server address as the user wrote it; shown in the prompt and in errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addr {
    host: String,
    port: u16,
    /// The address was a `shales://` URI.
    pub tls: bool,
}

impl Default for Addr {
    /// `127.0.0.1:7379`, plain.
    fn default() -> Self {
        Addr { host: DEFAULT_HOST.to_owned(), port: DEFAULT_PORT, tls: false }
    }
}

impl Addr {
    /// Combines the sources: `uri` (from `-u` or `SHALE_ADDR`) replaces the default, then
    /// `host` and `port` replace just their part.
    pub fn resolve(
        uri: Option<&str>,
        host: Option<&str>,
        port: Option<u16>,
    ) -> Result<Self, CliError> {
        let addr = match uri.map(str::trim).filter(|u| !u.is_empty()) {
            Some(uri) => Self::parse(uri)?,
            None => Addr::default(),
        };
        let addr = addr.with_parts(host, port);
        if addr.host.is_empty() {
            return Err(invalid(host.unwrap_or_default(), "empty host"));
        }
        Ok(addr)
    }

    /// This address with `host` (`-h`) and `port` (`-p`) replacing their parts if given.
    pub fn with_parts(mut self, host: Option<&str>, port: Option<u16>) -> Self {
        if let Some(host) = host {
            self.host = bare_host(host).to_owned();
        }
        if let Some(port) = port {
            self.port = port;
        }
        self
    }

    /// Parses `host:port`, `shale://host:port` or `shale://host` (default port), or the
    /// same with `shales://` for TLS. IPv6 hosts need brackets when a port follows:
    /// `[::1]:7379`.
    pub fn parse(input: &str) -> Result<Self, CliError> {
        let (scheme, rest) = split_scheme(input)
            .map_err(|_| invalid(input, "the scheme must be shale:// or shales://"))?;
        let (host, port) = match rest.rsplit_once(':') {
            // A colon inside an unbracketed IPv6 address is not a port separator.
            Some((host, port)) if !host.contains(':') || host.ends_with(']') => {
                let port = port.parse().map_err(|_| invalid(input, "bad port number"))?;
                (bare_host(host), port)
            }
            _ => (bare_host(rest), DEFAULT_PORT),
        };
        if host.is_empty() {
            return Err(invalid(input, "empty host"));
        }
        Ok(Addr { host: host.to_owned(), port, tls: scheme == Scheme::Tls })
    }
}

impl std::str::FromStr for Addr {
    type Err = CliError;

    fn from_str(s: &str) -> Result<Self, CliError> {
        Self::parse(s)
    }
}

/// `[::1]` -> `::1`; other hosts unchanged.
fn bare_host(host: &str) -> &str {
    host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host)
}

fn invalid(input: &str, why: &'static str) -> CliError {
    CliError::Address { input: input.to_owned(), why }
}

impl fmt::Display for Addr {
    /// `host:port`, with brackets around an IPv6 host, ready for `connect`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(uri: Option<&str>, host: Option<&str>, port: Option<u16>) -> String {
        Addr::resolve(uri, host, port).map(|a| a.to_string()).unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn precedence_default_then_uri_then_host_and_port() {
        // (uri or SHALE_ADDR, -h, -p, address used)
        let cases = [
            (None, None, None, "127.0.0.1:7379"),
            (Some("10.0.0.1:9"), None, None, "10.0.0.1:9"),
            (Some("shale://cache.local:8000"), None, None, "cache.local:8000"),
            (Some("SHALE://cache.local/"), None, None, "cache.local:7379"),
            (Some("10.0.0.1:9"), Some("localhost"), None, "localhost:9"),
            (Some("10.0.0.1:9"), None, Some(1), "10.0.0.1:1"),
            (None, Some("::1"), Some(5), "[::1]:5"),
            (Some("[::1]:6"), None, None, "[::1]:6"),
            (Some("::1"), None, None, "[::1]:7379"),
            (Some("  "), None, None, "127.0.0.1:7379"),
            (Some("shales://cache.local:8000"), None, None, "cache.local:8000"),
        ];
        for (uri, host, port, want) in cases {
            assert_eq!(shown(uri, host, port), want, "{uri:?} {host:?} {port:?}");
        }
    }

    #[test]
    fn rejects_bad_addresses() {
        for bad in ["redis://h:1", "h:port", "h:70000", ":7379", "shale://", "shales://"] {
            assert!(Addr::parse(bad).is_err(), "{bad}");
        }
        assert!(Addr::resolve(None, Some(""), None).is_err());
    }

    #[test]
    fn shales_asks_for_tls() {
        assert!(Addr::parse("shales://h:1").unwrap().tls);
        assert!(Addr::resolve(Some("SHALES://h"), None, Some(2)).unwrap().tls);
        assert!(!Addr::parse("shale://h:1").unwrap().tls);
        assert!(!Addr::parse("h:1").unwrap().tls);
    }
}
