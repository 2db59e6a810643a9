//! The TLS flags of `shale server` and `shale router`, with Redis's names, and what they
//! turn into: a TLS listener, the TLS a node dials its peers with (`--tls-replication`)
//! and the TLS a router dials its nodes with (`--backend-tls`).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use clap::{ArgAction, Args};
use shale::net::TlsListen;
use shale::tls::{ClientAuth, ClientTlsConfig, ServerTlsConfig, TlsAcceptor, TlsConnector};

use super::parse_yes_no;

/// Redis's TLS server flags, shared by `server` and `router`.
#[derive(Args)]
pub struct TlsArgs {
    /// Serve TLS on this port too (0 picks a free one); with --port 0, TLS only.
    #[arg(long, value_name = "PORT", requires_all = ["tls_cert_file", "tls_key_file"])]
    pub tls_port: Option<u16>,
    /// The server's certificate chain (PEM), leaf first.
    #[arg(long, value_name = "FILE")]
    pub tls_cert_file: Option<PathBuf>,
    /// The private key of --tls-cert-file (PEM).
    #[arg(long, value_name = "FILE")]
    pub tls_key_file: Option<PathBuf>,
    /// CA certificates (PEM) client certificates are verified against; also the CA a
    /// node trusts for --tls-replication.
    #[arg(long, value_name = "FILE")]
    pub tls_ca_cert_file: Option<PathBuf>,
    /// Client certificates: yes (required), optional (verified if presented) or no.
    #[arg(long, value_name = "yes|no|optional", default_value = "yes")]
    pub tls_auth_clients: ClientAuth,
}

impl TlsArgs {
    /// The TLS listener asked for, if any; `plain_port` 0 next to --tls-port means TLS only,
    /// as in Redis. The files are read here, so a bad one stops the start.
    pub fn listen(&self, bind: IpAddr, plain_port: u16) -> anyhow::Result<Option<TlsListen>> {
        let Some(port) = self.tls_port else {
            return Ok(None);
        };
        let settings = ServerTlsConfig {
            cert_file: self.tls_cert_file.clone().unwrap_or_default(),
            key_file: self.tls_key_file.clone().unwrap_or_default(),
            ca_file: self.tls_ca_cert_file.clone(),
            auth_clients: self.tls_auth_clients,
        };
        let acceptor = TlsAcceptor::new(settings).map_err(|e| anyhow::anyhow!("TLS: {e}"))?;
        let addr = SocketAddr::new(bind, port);
        Ok(Some(TlsListen { addr, acceptor, only: plain_port == 0 }))
    }

    /// How a node dials its peers with `--tls-replication yes`: trusting
    /// --tls-ca-cert-file, presenting its own certificate in case they ask for one.
    pub fn peer_connector(&self) -> anyhow::Result<Arc<TlsConnector>> {
        let (Some(ca), Some(cert), Some(key)) =
            (&self.tls_ca_cert_file, &self.tls_cert_file, &self.tls_key_file)
        else {
            anyhow::bail!(
                "--tls-replication yes needs --tls-ca-cert-file, --tls-cert-file and --tls-key-file"
            );
        };
        let settings = ClientTlsConfig {
            ca_file: ca.clone(),
            cert_file: Some(cert.clone()),
            key_file: Some(key.clone()),
            server_name: None,
        };
        TlsConnector::new(settings).map_err(|e| anyhow::anyhow!("TLS (--tls-replication): {e}"))
    }
}

/// `--tls-replication`: shard copies from peers over TLS.
#[derive(Args)]
pub struct ReplicationTlsArgs {
    /// yes: copy shards from peers over TLS (their map ports must be TLS ports).
    #[arg(long, value_name = "yes|no", default_value = "no", action = ArgAction::Set,
          value_parser = parse_yes_no)]
    pub tls_replication: bool,
}

/// The router's TLS to its nodes.
#[derive(Args)]
pub struct BackendTlsArgs {
    /// Speak TLS to the nodes (their map ports must be TLS ports), probes included.
    #[arg(long, requires = "backend_ca_cert_file")]
    pub backend_tls: bool,
    /// CA certificates (PEM) the nodes' certificates must chain to.
    #[arg(long, value_name = "FILE", requires = "backend_tls")]
    pub backend_ca_cert_file: Option<PathBuf>,
    /// Client certificate (PEM) for nodes started with --tls-auth-clients yes.
    #[arg(long, value_name = "FILE", requires_all = ["backend_tls", "backend_key_file"])]
    pub backend_cert_file: Option<PathBuf>,
    /// The private key of --backend-cert-file (PEM).
    #[arg(long, value_name = "FILE", requires = "backend_cert_file")]
    pub backend_key_file: Option<PathBuf>,
}

impl BackendTlsArgs {
    /// The connector for backend connections, or `None` without --backend-tls.
    pub fn connector(&self) -> anyhow::Result<Option<Arc<TlsConnector>>> {
        let (true, Some(ca)) = (self.backend_tls, &self.backend_ca_cert_file) else {
            return Ok(None);
        };
        let settings = ClientTlsConfig {
            ca_file: ca.clone(),
            cert_file: self.backend_cert_file.clone(),
            key_file: self.backend_key_file.clone(),
            server_name: None,
        };
        let connector =
            TlsConnector::new(settings).map_err(|e| anyhow::anyhow!("TLS (--backend-tls): {e}"))?;
        Ok(Some(connector))
    }
}
