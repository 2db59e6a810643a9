//! The server side: [`ServerTlsConfig`] (the files and the client-certificate policy) and
//! [`TlsAcceptor`], which handshakes accepted connections with the configuration loaded
//! last. A reload swaps the configuration atomically: handshakes already started finish
//! with the old one, open connections are not touched.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use super::{Reload, TlsError, pem, provider};

/// Whether clients must present a certificate (Redis's `tls-auth-clients`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// `yes`: a certificate signed by the CA is required (Redis's default).
    #[default]
    Required,
    /// `optional`: a certificate is verified if presented; clients without one get in.
    Optional,
    /// `no`: no certificate is asked for.
    None,
}

impl FromStr for ClientAuth {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "yes" => Ok(ClientAuth::Required),
            "optional" => Ok(ClientAuth::Optional),
            "no" => Ok(ClientAuth::None),
            _ => Err(format!("'{s}' is not yes, no or optional")),
        }
    }
}

impl fmt::Display for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClientAuth::Required => "yes",
            ClientAuth::Optional => "optional",
            ClientAuth::None => "no",
        })
    }
}

/// A server's TLS files and client-certificate policy.
#[derive(Debug, Clone)]
pub struct ServerTlsConfig {
    /// The server's certificate chain, leaf first (`--tls-cert-file`).
    pub cert_file: PathBuf,
    /// Its private key (`--tls-key-file`).
    pub key_file: PathBuf,
    /// CA certificates client certificates are verified against (`--tls-ca-cert-file`);
    /// required unless `auth_clients` is [`ClientAuth::None`].
    pub ca_file: Option<PathBuf>,
    /// Whether clients must present a certificate (`--tls-auth-clients`).
    pub auth_clients: ClientAuth,
}

impl ServerTlsConfig {
    /// Reads every file and builds the rustls configuration.
    fn build(&self) -> Result<ServerConfig, TlsError> {
        let certs = pem::certs(&self.cert_file)?;
        let key = pem::key(&self.key_file)?;
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|source| TlsError::Rustls { what: "TLS versions", source })?;
        let builder = match (self.auth_clients, &self.ca_file) {
            (ClientAuth::None, _) => builder.with_no_client_auth(),
            (_, None) => {
                return Err(TlsError::Config(format!(
                    "--tls-auth-clients {} needs --tls-ca-cert-file to verify client \
                     certificates (or --tls-auth-clients no)",
                    self.auth_clients
                )));
            }
            (auth, Some(ca)) => {
                let roots = Arc::new(pem::roots(ca)?);
                let mut verifier = WebPkiClientVerifier::builder_with_provider(roots, provider());
                if auth == ClientAuth::Optional {
                    verifier = verifier.allow_unauthenticated();
                }
                let verifier = verifier
                    .build()
                    .map_err(|e| TlsError::Config(format!("{}: {e}", ca.display())))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        builder.with_single_cert(certs, key).map_err(|source| TlsError::Rustls {
            what: "the certificate and key do not go together",
            source,
        })
    }
}

/// Handshakes accepted connections with the latest good configuration.
pub struct TlsAcceptor {
    settings: ServerTlsConfig,
    current: ArcSwap<ServerConfig>,
}

impl fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsAcceptor").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl TlsAcceptor {
    /// Loads the files now; any problem is an error here, before a port is opened.
    pub fn new(settings: ServerTlsConfig) -> Result<Arc<Self>, TlsError> {
        let config = settings.build()?;
        Ok(Arc::new(Self { settings, current: ArcSwap::from_pointee(config) }))
    }

    /// The files and policy this acceptor loads.
    pub fn settings(&self) -> &ServerTlsConfig {
        &self.settings
    }

    /// Runs the server side of the handshake on `tcp` with the configuration in force now.
    /// The caller bounds it in time.
    pub async fn accept(&self, tcp: TcpStream) -> std::io::Result<TlsStream<TcpStream>> {
        tokio_rustls::TlsAcceptor::from(self.current.load_full()).accept(tcp).await
    }
}

impl Reload for TlsAcceptor {
    fn reload(&self) -> Result<(), TlsError> {
        self.current.store(Arc::new(self.settings.build()?));
        Ok(())
    }

    fn describe(&self) -> &'static str {
        "server certificate"
    }
}
