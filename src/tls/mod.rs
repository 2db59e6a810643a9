//! TLS for every shale connection: the server side ([`TlsAcceptor`], certificates reloadable
//! while serving) and the client side ([`TlsConnector`], used by the client library, the
//! router's backend pools and cluster nodes copying shards), both rustls with the aws-lc-rs
//! provider, configured from PEM files the way Redis is (`--tls-cert-file`,
//! `--tls-key-file`, `--tls-ca-cert-file`, `--tls-auth-clients`).
//!
//! TLS sits between TCP and the protocol and changes nothing above it: a TLS connection
//! carries exactly the bytes a plain one would (binary frames or Redis text). This module
//! owns loading and checking certificates and keys, building rustls configurations and
//! reloading them ([`Reload`]; [`crate::net::reload_tls_on_hangup`] does it on SIGHUP). It
//! does not own sockets, signals, timeouts or the connection loop ([`crate::net`]), nor
//! which addresses use TLS (the server, router and client configs).

mod args;
mod client;
mod pem;
mod server;
mod stream;

use std::path::PathBuf;
use std::sync::Arc;

pub use args::ClientTlsArgs;
pub use client::{ClientTlsConfig, TlsConnector};
pub use pem::MAX_PEM_FILE_BYTES;
pub use server::{ClientAuth, ServerTlsConfig, TlsAcceptor};
pub use stream::ClientStream;

/// Why TLS settings could not be used. Each says which file or flag is at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate or key file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A file is larger than [`MAX_PEM_FILE_BYTES`].
    #[error("{} is larger than {limit} bytes; is it a PEM file?", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit.
        limit: u64,
    },
    /// A file holds no usable PEM item of the kind expected.
    #[error("{}: {why}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong (no certificate, no private key, bad PEM).
        why: String,
    },
    /// rustls refused the combination (a key that does not match the certificate, an
    /// unusable CA certificate, ...).
    #[error("{what}: {source}")]
    Rustls {
        /// What was being built.
        what: &'static str,
        /// rustls's reason.
        #[source]
        source: rustls::Error,
    },
    /// The settings contradict each other or miss a part.
    #[error("{0}")]
    Config(String),
}

/// TLS material that can be read again from its files while in use.
pub trait Reload: Send + Sync + 'static {
    /// Reads the files again and uses them for new connections from now on. On error the
    /// material in use is kept, and the error says why.
    fn reload(&self) -> Result<(), TlsError>;

    /// What this is, for the log (`server certificate`, `peer client settings`).
    fn describe(&self) -> &'static str;
}

/// The crypto provider every shale TLS configuration uses (explicit, so no process-wide
/// default has to be installed and another crate's choice cannot interfere).
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

#[cfg(test)]
mod tests;
