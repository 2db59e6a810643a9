//! A server's TLS port: RESP from a raw rustls client, the binary client, mutual TLS, and
//! the plain port beside it.

use shale::client::Client;
use shale::tls::{ClientAuth, ClientTlsConfig};

use crate::common::{self, Text};
use crate::pki::Pki;
use crate::support::{exchange, raw_tls, roundtrip, tls_server};

#[tokio::test]
async fn resp_over_tls_from_a_raw_rustls_client() {
    let pki = Pki::new("resp");
    let server = tls_server(&pki, ClientAuth::None, true).await;
    let addr = server.tls_addr().unwrap();
    assert_eq!(server.local_addr(), addr, "TLS only: the TLS port is the address");
    let mut s = raw_tls(addr, "localhost", pki.rustls_client(None)).await.unwrap();
    roundtrip(&mut s, b"PING\r\n", b"+PONG\r\n").await;
    // Pipelined, RESP arrays and inline commands mixed, as over plain TCP.
    let req = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\nGET k\r\nDBSIZE\r\n";
    roundtrip(&mut s, req, b"+OK\r\n$5\r\nhello\r\n:1\r\n").await;
    // QUIT is answered, then the server closes with a TLS close_notify: a clean end of stream.
    let got = exchange(&mut s, b"QUIT\r\n", usize::MAX).await.unwrap();
    assert_eq!(got, b"+OK\r\n");
    server.shutdown().await;
}

#[tokio::test]
async fn binary_client_over_tls_by_name_and_by_ip() {
    let pki = Pki::new("binary");
    let server = tls_server(&pki, ClientAuth::None, true).await;
    let port = server.tls_addr().unwrap().port();
    for host in ["localhost", "127.0.0.1"] {
        let client = Client::builder()
            .addr(format!("shales://{host}:{port}"))
            .tls(pki.client_settings())
            .connect()
            .await
            .unwrap();
        client.set("k", host).await.unwrap();
        assert_eq!(client.get("k").await.unwrap().as_deref(), Some(host.as_bytes()));
    }
    // A shales:// address without TLS settings is refused up front.
    let err = Client::builder().addr(format!("shales://localhost:{port}")).build().unwrap_err();
    assert!(err.to_string().contains("needs TLS settings"), "{err}");
    server.shutdown().await;
}

#[tokio::test]
async fn mutual_tls_refuses_a_client_without_a_certificate() {
    let pki = Pki::new("mtls");
    let server = tls_server(&pki, ClientAuth::Required, true).await;
    let addr = server.tls_addr().unwrap();
    // A raw client without a certificate: the server answers with an alert and closes. In
    // TLS 1.3 the client learns it on its first read.
    let refused = match raw_tls(addr, "localhost", pki.rustls_client(None)).await {
        Err(e) => e.to_string(),
        Ok(mut s) => exchange(&mut s, b"PING\r\n", 7).await.unwrap_err().to_string(),
    };
    assert!(refused.contains("CertificateRequired"), "{refused}");
    // The binary client says the same.
    let client = Client::builder()
        .addr(format!("shales://localhost:{}", addr.port()))
        .tls(pki.client_settings())
        .build()
        .unwrap();
    let err = client.ping().await.unwrap_err();
    assert!(err.is_connection_error() && err.to_string().contains("CertificateRequired"), "{err}");
    // With a certificate from the CA it is let in.
    let leaf = pki.client();
    let mut s = raw_tls(addr, "localhost", pki.rustls_client(Some(&leaf))).await.unwrap();
    roundtrip(&mut s, b"PING\r\n", b"+PONG\r\n").await;
    let settings = ClientTlsConfig {
        cert_file: Some(leaf.cert.clone()),
        key_file: Some(leaf.key.clone()),
        ..pki.client_settings()
    };
    let client = Client::builder().addr(addr.to_string()).tls(settings).connect().await.unwrap();
    client.ping().await.unwrap();
    // Refused handshakes leave no connection behind.
    let stats = server.net_stats().clone();
    drop((s, client));
    let counted = || shale::net::NetStats::get(&stats.connections) == 0;
    assert!(common::eventually(counted).await, "connections were not released");
    server.shutdown().await;
}

#[tokio::test]
async fn optional_client_auth_verifies_only_certificates_presented() {
    let pki = Pki::new("optional");
    let stranger = Pki::new("stranger");
    let server = tls_server(&pki, ClientAuth::Optional, true).await;
    let addr = server.tls_addr().unwrap();
    let mut s = raw_tls(addr, "localhost", pki.rustls_client(None)).await.unwrap();
    roundtrip(&mut s, b"PING\r\n", b"+PONG\r\n").await;
    // A certificate from another CA is refused even though none was required.
    let config = pki.rustls_client(Some(&stranger.client()));
    let refused = match raw_tls(addr, "localhost", config).await {
        Err(e) => e.to_string(),
        Ok(mut s) => exchange(&mut s, b"PING\r\n", 7).await.unwrap_err().to_string(),
    };
    assert!(refused.contains("alert"), "{refused}");
    server.shutdown().await;
}

#[tokio::test]
async fn plain_and_tls_ports_together_share_the_connection_limit() {
    let pki = Pki::new("both");
    let tls = crate::support::listen(&pki, &pki.server(), ClientAuth::None, false);
    let server = common::start_with(|cfg| {
        cfg.tls = Some(tls);
        cfg.net.max_connections = 2;
    })
    .await;
    let (plain, tls_addr) = (server.local_addr(), server.tls_addr().unwrap());
    assert_ne!(plain, tls_addr);
    let mut text = Text::connect(plain).await;
    text.roundtrip(b"SET k v\r\n", b"+OK\r\n").await;
    let mut secure = raw_tls(tls_addr, "localhost", pki.rustls_client(None)).await.unwrap();
    roundtrip(&mut secure, b"GET k\r\n", b"$1\r\nv\r\n").await;
    // Both slots are taken: a third client, on either port, is told why and closed.
    let mut third = raw_tls(tls_addr, "localhost", pki.rustls_client(None)).await.unwrap();
    let got = exchange(&mut third, b"PING\r\n", usize::MAX).await.unwrap_or_default();
    assert_eq!(String::from_utf8_lossy(&got), "-ERR max number of clients reached\r\n");
    let mut fourth = Text::connect(plain).await;
    fourth.send(b"PING\r\n").await;
    assert_eq!(fourth.read_to_close().await, b"-ERR max number of clients reached\r\n");
    server.shutdown().await;
}
