//! Helpers of the TLS tests: in-process TLS servers and raw TLS connections.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls_pki_types::ServerName;
use shale::net::TlsListen;
use shale::server::{Server, ServerConfig};
use shale::tls::{ClientAuth, ServerTlsConfig, TlsAcceptor};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::common::WAIT;
use crate::pki::{Leaf, Pki};

/// A TLS listener on 127.0.0.1:0 with `leaf` as the certificate.
pub fn listen(pki: &Pki, leaf: &Leaf, auth: ClientAuth, only: bool) -> TlsListen {
    let settings = ServerTlsConfig {
        cert_file: leaf.cert.clone(),
        key_file: leaf.key.clone(),
        ca_file: Some(pki.ca.clone()),
        auth_clients: auth,
    };
    let acceptor = TlsAcceptor::new(settings).unwrap();
    TlsListen { addr: "127.0.0.1:0".parse().unwrap(), acceptor, only }
}

/// An in-process server with a TLS port (and a plain one unless `only`).
pub async fn tls_server(pki: &Pki, auth: ClientAuth, only: bool) -> Server {
    let tls = listen(pki, &pki.server(), auth, only);
    crate::common::start_with(|cfg: &mut ServerConfig| cfg.tls = Some(tls)).await
}

/// A raw TLS connection to `addr`, verifying the certificate against `name`.
pub async fn raw_tls(
    addr: SocketAddr,
    name: &str,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = crate::common::connect(addr).await;
    let name = ServerName::try_from(name.to_owned()).unwrap();
    let connect = tokio_rustls::TlsConnector::from(config).connect(name, tcp);
    tokio::time::timeout(WAIT, connect).await.expect("handshake in time")
}

/// Sends `request`, then reads until `want.len()` bytes arrived (or the stream ends or
/// fails), and returns what came.
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    request: &[u8],
    want: usize,
) -> std::io::Result<Vec<u8>> {
    stream.write_all(request).await?;
    stream.flush().await?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.len() < want {
        let n = tokio::time::timeout(WAIT, stream.read(&mut buf)).await.expect("reply in time")?;
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    Ok(got)
}

/// [`exchange`] that expects exactly `want` back.
pub async fn roundtrip<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    request: &[u8],
    want: &[u8],
) {
    let got = exchange(stream, request, want.len()).await.unwrap();
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
}
