//! Protected mode, after Redis's: a server or router that would listen beyond loopback with
//! no password refuses to start, unless the operator says the network is trusted
//! (`--protected-mode no`). Checked before binding, so a refused start never listens.

use std::net::IpAddr;

/// Starting would expose an unauthenticated cache to the network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "protected mode: refusing to listen on {addr} without a password. Either set one with \
     --requirepass or --requirepass-file, bind a loopback address (127.0.0.1 or ::1), or, if \
     every host that can reach {addr} is trusted, disable protected mode with \
     --protected-mode no"
)]
pub struct ProtectedModeError {
    /// The non-loopback address asked for.
    pub addr: IpAddr,
}

/// Refuses `addr` when it is not loopback, no password is set and protected mode is on.
/// Loopback is 127.0.0.0/8 and ::1 (also written as the IPv4-mapped `::ffff:127.x.y.z`);
/// the wildcard addresses `0.0.0.0` and `::` are not loopback.
pub fn check_protected_mode(
    addr: IpAddr,
    has_password: bool,
    protected: bool,
) -> Result<(), ProtectedModeError> {
    if !protected || has_password || addr.to_canonical().is_loopback() {
        return Ok(());
    }
    Err(ProtectedModeError { addr })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unprotected_public_addresses_without_password_are_refused() {
        // (address, password, protected mode, allowed)
        let cases = [
            ("127.0.0.1", false, true, true),        // loopback
            ("127.9.8.7", false, true, true),        // all of 127/8
            ("::1", false, true, true),              // IPv6 loopback
            ("::ffff:127.0.0.1", false, true, true), // IPv4-mapped loopback
            ("0.0.0.0", false, true, false),         // wildcard
            ("::", false, true, false),              // IPv6 wildcard
            ("10.1.2.3", false, true, false),        // private is still a network
            ("0.0.0.0", true, true, true),           // a password makes it fine
            ("0.0.0.0", false, false, true),         // so does --protected-mode no
        ];
        for (addr, password, protected, allowed) in cases {
            let ip: IpAddr = addr.parse().unwrap();
            let got = check_protected_mode(ip, password, protected);
            assert_eq!(got.is_ok(), allowed, "{addr} password={password} protected={protected}");
        }
    }

    #[test]
    fn the_refusal_says_what_to_do() {
        let e = check_protected_mode("0.0.0.0".parse().unwrap(), false, true).unwrap_err();
        let text = e.to_string();
        for hint in ["--requirepass", "--protected-mode no", "127.0.0.1"] {
            assert!(text.contains(hint), "{text}");
        }
    }
}
