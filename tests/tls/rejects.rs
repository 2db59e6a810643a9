//! Bad certificates: each is answered by a clear error on the side that rejects it, and
//! the connection is closed (and released on the server).

use shale::client::{Client, Error};
use shale::server::Server;
use shale::tls::{ClientAuth, ClientTlsConfig};

use crate::common;
use crate::pki::{Leaf, Pki};
use crate::support::{exchange, listen, raw_tls};

/// A TLS-only server presenting `leaf`.
async fn server_with(pki: &Pki, leaf: &Leaf, auth: ClientAuth) -> Server {
    let tls = listen(pki, leaf, auth, true);
    common::start_with(|cfg| cfg.tls = Some(tls)).await
}

/// The error of the first call of a binary client to `addr` trusting `settings`.
async fn refusal(addr: String, settings: ClientTlsConfig) -> Error {
    let client = Client::builder().addr(addr).tls(settings).build().unwrap();
    client.ping().await.unwrap_err()
}

/// Waits until the server holds no connection.
async fn released(server: &Server) {
    let stats = server.net_stats().clone();
    let gone = || shale::net::NetStats::get(&stats.connections) == 0;
    assert!(common::eventually(gone).await, "the rejected connection is still counted");
}

#[tokio::test]
async fn a_server_certificate_from_an_unknown_ca_is_refused_by_the_client() {
    let pki = Pki::new("real");
    let other = Pki::new("other");
    let server = server_with(&pki, &pki.server(), ClientAuth::None).await;
    let addr = server.tls_addr().unwrap();
    let err = refusal(format!("localhost:{}", addr.port()), other.client_settings()).await;
    let text = err.to_string();
    assert!(err.is_connection_error(), "{text}");
    assert!(text.contains("TLS handshake failed") && text.contains("UnknownIssuer"), "{text}");
    released(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn an_expired_server_certificate_is_refused_by_the_client() {
    let pki = Pki::new("expiry");
    let old = pki.expired("old", &["localhost"]);
    let server = server_with(&pki, &old, ClientAuth::None).await;
    let port = server.tls_addr().unwrap().port();
    let text = refusal(format!("localhost:{port}"), pki.client_settings()).await.to_string();
    assert!(text.contains("TLS handshake failed") && text.contains("expired"), "{text}");
    released(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused_by_the_client() {
    let pki = Pki::new("names");
    let elsewhere = pki.leaf("elsewhere", &["cache.example"]);
    let server = server_with(&pki, &elsewhere, ClientAuth::None).await;
    let port = server.tls_addr().unwrap().port();
    let text = refusal(format!("localhost:{port}"), pki.client_settings()).await.to_string();
    assert!(text.contains("TLS handshake failed") && text.contains("not valid for name"), "{text}");
    // The name the certificate does carry is accepted when asked for explicitly (--sni).
    let settings =
        ClientTlsConfig { server_name: Some("cache.example".into()), ..pki.client_settings() };
    let client = Client::builder().addr(format!("localhost:{port}")).tls(settings).build().unwrap();
    client.ping().await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_certificate_from_an_unknown_ca_is_refused_by_the_server() {
    let pki = Pki::new("trusted");
    let stranger = Pki::new("untrusted");
    let server = server_with(&pki, &pki.server(), ClientAuth::Required).await;
    let addr = server.tls_addr().unwrap();
    let config = pki.rustls_client(Some(&stranger.client()));
    let refused = match raw_tls(addr, "localhost", config).await {
        Err(e) => e.to_string(),
        Ok(mut s) => exchange(&mut s, b"PING\r\n", 7).await.unwrap_err().to_string(),
    };
    assert!(refused.contains("received fatal alert") && refused.contains("UnknownCA"), "{refused}");
    released(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn plain_bytes_on_the_tls_port_and_tls_on_the_plain_port_are_closed() {
    let pki = Pki::new("ports");
    let tls = listen(&pki, &pki.server(), ClientAuth::None, false);
    let server = common::start_with(|cfg| cfg.tls = Some(tls)).await;
    // Text on the TLS port: the handshake fails and the connection is closed.
    let mut text = common::Text::connect(server.tls_addr().unwrap()).await;
    text.send(b"PING\r\n").await;
    let got = text.read_to_close().await;
    assert!(!got.windows(4).any(|w| w == b"PONG"), "{got:?}");
    // The binary client without TLS is told what the port wants.
    let plain = Client::builder().addr(server.tls_addr().unwrap().to_string()).build().unwrap();
    let err = plain.ping().await.unwrap_err();
    assert!(err.to_string().contains("answered in TLS"), "{err}");
    // TLS on the plain port: the client sees bytes that are not TLS and says so.
    let err = refusal(server.local_addr().to_string(), pki.client_settings()).await;
    assert!(err.to_string().contains("TLS handshake failed"), "{err}");
    released(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_never_finishes_the_handshake_is_closed_after_the_frame_timeout() {
    let pki = Pki::new("slow");
    let tls = listen(&pki, &pki.server(), ClientAuth::None, true);
    let server = common::start_with(|cfg| {
        cfg.tls = Some(tls);
        cfg.net.frame_timeout = std::time::Duration::from_millis(200);
    })
    .await;
    // Half a ClientHello record header, then silence (a slowloris on the handshake).
    let mut silent = common::Text::connect(server.tls_addr().unwrap()).await;
    silent.send(&[0x16, 0x03]).await;
    let started = std::time::Instant::now();
    assert_eq!(silent.read_to_close().await, b"");
    assert!(started.elapsed() >= std::time::Duration::from_millis(150));
    released(&server).await;
    server.shutdown().await;
}
