//! The router over TLS: clients plain and TLS in front, TLS nodes behind (mutual TLS,
//! probes included), and nodes copying shards from each other over TLS.

use std::time::Duration;

use std::sync::Arc;

use shale::client::Client;
use shale::router::backend::Backend;
use shale::router::health::State;
use shale::router::{Router, RouterConfig, RunningRouter};
use shale::server::{Node, Server, ServerConfig};
use shale::shardmap::{MapWatcher, ShardMap};
use shale::tls::{ClientAuth, ClientTlsConfig, TlsConnector};

use crate::common::{self, WAIT, free_port, temp_file, until};
use crate::pki::Pki;
use crate::support::{listen, tls_server};

/// Client settings presenting `pki`'s client certificate.
fn with_client_cert(pki: &Pki) -> ClientTlsConfig {
    let leaf = pki.client();
    ClientTlsConfig {
        cert_file: Some(leaf.cert),
        key_file: Some(leaf.key),
        ..pki.client_settings()
    }
}

/// A one-shard map over the TLS ports of `nodes`, by name (`localhost`), so the router
/// verifies each node's certificate against the map's address.
fn map_over(nodes: &[(&str, u16)]) -> std::path::PathBuf {
    let mut b = ShardMap::builder(1);
    for (name, port) in nodes {
        b = b.node(name, "localhost", *port);
    }
    let names: Vec<&str> = nodes.iter().map(|(n, _)| *n).collect();
    temp_file("map.json", &b.shard(1, &names).build().unwrap().to_json())
}

async fn tls_router(pki: &Pki, map: &std::path::Path, backend: ClientTlsConfig) -> RunningRouter {
    let mut cfg = RouterConfig::loopback(0, map);
    cfg.tls = Some(listen(pki, &pki.server(), ClientAuth::None, false));
    cfg.backend_tls = Some(TlsConnector::new(backend).unwrap());
    cfg.health.probe_interval = Duration::from_millis(50);
    Router::start(cfg).await.unwrap()
}

#[tokio::test]
async fn router_serves_plain_and_tls_clients_from_mutual_tls_nodes() {
    let pki = Pki::new("cluster");
    let a = tls_server(&pki, ClientAuth::Required, true).await;
    let b = tls_server(&pki, ClientAuth::Required, true).await;
    let ports = [("a", a.tls_addr().unwrap().port()), ("b", b.tls_addr().unwrap().port())];
    let r = tls_router(&pki, &map_over(&ports), with_client_cert(&pki)).await;
    let plain = Client::builder().addr(r.local_addr().to_string()).request_timeout(WAIT);
    let plain = plain.connect().await.unwrap();
    plain.set("k", "v").await.unwrap();
    // The write reached both nodes (over TLS: they listen on nothing else).
    assert_eq!(a.store().len(), 1);
    assert_eq!(b.store().len(), 1);
    let tls_port = r.tls_addr().unwrap().port();
    let secure = Client::builder()
        .addr(format!("shales://localhost:{tls_port}"))
        .tls(pki.client_settings())
        .request_timeout(WAIT)
        .connect()
        .await
        .unwrap();
    assert_eq!(secure.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    // Health probes reach the nodes over TLS too (the nodes speak nothing else): after
    // several of them every node is still up.
    let topo = r.router().topology();
    let up = |b: &&Arc<Backend>| b.snapshot().probes >= 3 && b.health().state() == State::Up;
    let probed = || topo.backends().iter().all(up);
    assert!(common::eventually(probed).await, "probes failed or did not run");
    r.shutdown().await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn router_without_the_nodes_client_certificate_gets_no_answer_from_them() {
    let pki = Pki::new("strict");
    let a = tls_server(&pki, ClientAuth::Required, true).await;
    let map = map_over(&[("a", a.tls_addr().unwrap().port())]);
    let r = tls_router(&pki, &map, pki.client_settings()).await;
    let client = Client::builder().addr(r.local_addr().to_string()).request_timeout(WAIT);
    let err = client.connect().await.unwrap().set("k", "v").await.unwrap_err();
    assert_eq!(err.status(), Some(shale::protocol::Status::Unavailable), "{err}");
    assert_eq!(a.store().len(), 0);
    r.shutdown().await;
    a.shutdown().await;
}

/// A cluster node serving shard 1 of `map` on the TLS port `port` only, copying shards
/// from its peers over TLS with its own certificate.
async fn node(pki: &Pki, map: &std::path::Path, name: &str, port: u16) -> Server {
    let mut cfg = ServerConfig::loopback(0);
    let mut tls = listen(pki, &pki.server(), ClientAuth::Required, true);
    tls.addr.set_port(port);
    cfg.tls = Some(tls);
    cfg.peer_tls = Some(TlsConnector::new(with_client_cert(pki)).unwrap());
    cfg.store_options.tombstones = true;
    let watcher = MapWatcher::new(map.to_owned(), ShardMap::load(map).unwrap());
    cfg.node = Some(Node::new(watcher, name, std::time::Duration::from_secs(3600)));
    Server::start(cfg).await.unwrap()
}

#[tokio::test]
async fn nodes_copy_shards_from_peers_over_tls() {
    let pki = Pki::new("replication");
    let (pa, pb) = (free_port(), free_port());
    let map = map_over(&[("a", pa), ("b", pb)]);
    // A brand-new cluster: both nodes start, see that nobody holds the shard, and are ready.
    let (a, b) = tokio::join!(node(&pki, &map, "a", pa), node(&pki, &map, "b", pb));
    let secure = |port: u16| {
        Client::builder()
            .addr(format!("localhost:{port}"))
            .tls(with_client_cert(&pki))
            .request_timeout(WAIT)
            .build()
            .unwrap()
    };
    let to_a = secure(pa);
    let written = || async { to_a.set("k", "from a").await.is_ok() };
    assert!(until(written).await, "node a never served its shard");
    // `b` restarts (empty) and copies the shard from `a` over TLS before serving it.
    b.shutdown().await;
    let b = node(&pki, &map, "b", pb).await;
    let to_b = secure(pb);
    let copied = || async { to_b.get("k").await.ok().flatten().as_deref() == Some(&b"from a"[..]) };
    assert!(until(copied).await, "node b did not copy the shard from a");
    a.shutdown().await;
    b.shutdown().await;
}
