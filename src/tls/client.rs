//! The client side: [`ClientTlsConfig`] (the CA to trust, an optional client certificate
//! for servers that require one, an optional server-name override) and [`TlsConnector`],
//! which handshakes a connected TCP stream and verifies the server's certificate against
//! the name the address was given by (or the override), as redis-cli `--tls --sni` does.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::{Reload, TlsError, pem, provider};

/// What a client needs to speak TLS to a server.
#[derive(Debug, Clone, Default)]
pub struct ClientTlsConfig {
    /// CA certificates the server's certificate must chain to (`--cacert`).
    pub ca_file: PathBuf,
    /// A client certificate chain for servers with `--tls-auth-clients yes` (`--cert`).
    pub cert_file: Option<PathBuf>,
    /// Its private key (`--key`); given exactly when `cert_file` is.
    pub key_file: Option<PathBuf>,
    /// The name to verify the server's certificate against (and to send as SNI) instead
    /// of the host of the address (`--sni`).
    pub server_name: Option<String>,
}

impl ClientTlsConfig {
    /// Trust `ca_file`, present no certificate, verify the address's own host name.
    pub fn new(ca_file: impl Into<PathBuf>) -> Self {
        Self { ca_file: ca_file.into(), ..Self::default() }
    }

    /// Reads every file and builds the rustls configuration.
    fn build(&self) -> Result<ClientConfig, TlsError> {
        let roots = pem::roots(&self.ca_file)?;
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|source| TlsError::Rustls { what: "TLS versions", source })?
            .with_root_certificates(roots);
        match (&self.cert_file, &self.key_file) {
            (None, None) => Ok(builder.with_no_client_auth()),
            (Some(cert), Some(key)) => builder
                .with_client_auth_cert(pem::certs(cert)?, pem::key(key)?)
                .map_err(|source| TlsError::Rustls {
                    what: "the client certificate and key do not go together",
                    source,
                }),
            _ => Err(TlsError::Config(
                "a client certificate needs its key and a key its certificate (--cert with --key)"
                    .into(),
            )),
        }
    }
}

/// Handshakes outgoing connections with the latest good configuration.
pub struct TlsConnector {
    settings: ClientTlsConfig,
    server_name: Option<ServerName<'static>>,
    current: ArcSwap<ClientConfig>,
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl TlsConnector {
    /// Loads the files now; a problem with any of them is an error here.
    pub fn new(settings: ClientTlsConfig) -> Result<Arc<Self>, TlsError> {
        let server_name = match &settings.server_name {
            Some(name) => Some(parse_name(name).map_err(|e| TlsError::Config(e.to_string()))?),
            None => None,
        };
        let config = settings.build()?;
        Ok(Arc::new(Self { settings, server_name, current: ArcSwap::from_pointee(config) }))
    }

    /// The files this connector loads.
    pub fn settings(&self) -> &ClientTlsConfig {
        &self.settings
    }

    /// Runs the client side of the handshake on `tcp`, verifying the server's certificate
    /// against the host part of `addr` (`host:port`, `[v6]:port`) unless a server name was
    /// configured. The caller bounds it in time. A certificate that fails verification is
    /// an `InvalidData` error whose text says why (unknown issuer, expired, wrong name).
    pub async fn connect(&self, addr: &str, tcp: TcpStream) -> io::Result<TlsStream<TcpStream>> {
        let name = match &self.server_name {
            Some(name) => name.clone(),
            None => parse_name(host_of(addr))?,
        };
        tokio_rustls::TlsConnector::from(self.current.load_full()).connect(name, tcp).await
    }
}

impl Reload for TlsConnector {
    fn reload(&self) -> Result<(), TlsError> {
        self.current.store(Arc::new(self.settings.build()?));
        Ok(())
    }

    fn describe(&self) -> &'static str {
        "client TLS settings"
    }
}

/// A DNS name or IP address to verify a certificate against.
fn parse_name(name: &str) -> io::Result<ServerName<'static>> {
    ServerName::try_from(name.to_owned()).map_err(|_| {
        let msg =
            format!("'{name}' is neither a DNS name nor an IP address a certificate can name");
        io::Error::new(io::ErrorKind::InvalidInput, msg)
    })
}

/// The host of `host:port` or `[v6]:port`; the whole string if there is no port.
pub(crate) fn host_of(addr: &str) -> &str {
    let host = match addr.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() => {
            // An unbracketed IPv6 address has colons of its own and no port.
            if host.contains(':') && !host.ends_with(']') { addr } else { host }
        }
        _ => addr,
    };
    host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host)
}
