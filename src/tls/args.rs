//! The TLS flags of the client tools (`shale cli`, `shale bench`, `shale stress`), named
//! after redis-cli's: `--tls --cacert FILE [--cert FILE --key FILE] [--sni NAME]`.

use std::path::PathBuf;
use std::sync::Arc;

use super::{ClientTlsConfig, TlsConnector, TlsError};

/// redis-cli's TLS flags. `--tls` is implied by a `shales://` address.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClientTlsArgs {
    /// Connect with TLS (a shales:// address implies it).
    #[arg(long)]
    pub tls: bool,
    /// CA certificate file the server's certificate must chain to (with --tls).
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Client certificate, for servers started with --tls-auth-clients yes.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// Private key of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Server name to verify the certificate against (and send as SNI) instead of the host.
    #[arg(long, value_name = "NAME")]
    pub sni: Option<String>,
}

impl ClientTlsArgs {
    /// The connector the flags ask for, `None` for plain TCP. `scheme_tls` says whether
    /// the address was a `shales://` URI.
    pub fn connector(&self, scheme_tls: bool) -> Result<Option<Arc<TlsConnector>>, TlsError> {
        let wanted = self.tls || scheme_tls;
        let tls_only = self.cacert.is_some() || self.cert.is_some() || self.sni.is_some();
        if !wanted {
            if tls_only {
                let msg = "--cacert, --cert, --key and --sni need --tls (or a shales:// address)";
                return Err(TlsError::Config(msg.into()));
            }
            return Ok(None);
        }
        let Some(ca_file) = self.cacert.clone() else {
            let msg = "TLS needs --cacert FILE: the CA certificate that signed the server's";
            return Err(TlsError::Config(msg.into()));
        };
        let settings = ClientTlsConfig {
            ca_file,
            cert_file: self.cert.clone(),
            key_file: self.key.clone(),
            server_name: self.sni.clone(),
        };
        TlsConnector::new(settings).map(Some)
    }
}
