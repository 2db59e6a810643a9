//! [`Target`]: the server `shale bench` and `shale stress` talk to (`-h`, `-p`, `-u`) and
//! whether over TLS (`--tls --cacert ...`, `shales://`), plus their `--help` flag.

use std::sync::Arc;

use clap::builder::NonEmptyStringValueParser;
use clap::{ArgAction, Args};

use crate::cli::addr::Addr;
use crate::tls::{ClientTlsArgs, TlsConnector, TlsError};

/// The server a tool talks to. `-h` is the host (as in `redis-benchmark`), so help is
/// `--help` only; both tools flatten this.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,
    /// Server host [default: 127.0.0.1].
    #[arg(short = 'h', long, value_parser = NonEmptyStringValueParser::new())]
    pub host: Option<String>,
    /// Server port [default: 7379].
    #[arg(short = 'p', long)]
    pub port: Option<u16>,
    /// Server address: host:port, shale://host:port, or shales://host:port for TLS (-h and
    /// -p override its parts).
    #[arg(short = 'u', long = "uri", value_name = "URI")]
    pub uri: Option<Addr>,
    /// TLS, as redis-cli: --tls --cacert FILE [--cert FILE --key FILE] [--sni NAME].
    #[command(flatten)]
    pub tls: ClientTlsArgs,
}

impl Target {
    /// `host:port`.
    pub fn addr(&self) -> String {
        self.resolved().to_string()
    }

    /// The TLS connector the flags and the URI's scheme ask for; `None` for plain TCP.
    pub fn tls_connector(&self) -> Result<Option<Arc<TlsConnector>>, TlsError> {
        self.tls.connector(self.resolved().tls)
    }

    fn resolved(&self) -> Addr {
        let uri = self.uri.clone().unwrap_or_default();
        uri.with_parts(self.host.as_deref(), self.port)
    }
}
