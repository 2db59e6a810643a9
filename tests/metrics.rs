//! `/metrics`, `/healthz` and `/readyz` of the server and the router over real HTTP on
//! 127.0.0.1:0: every scrape is parsed with `prometheus-parse` and checked against
//! Prometheus's naming rules (see `metrics/scrape.rs`), then against what the test did.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;
#[path = "metrics/http.rs"]
mod http;
#[path = "metrics/scrape.rs"]
mod scrape;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::{Proc, Text, start, start_with, temp_file};
use scrape::{get, scrape};
use shale::auth::Password;
use shale::metrics::MetricsServer;
use shale::router::{Router, RouterConfig};
use shale::server::Node;
use shale::shardmap::{MapWatcher, ShardMap};

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A one-shard map whose replicas are `nodes`.
fn one_shard(nodes: &[(&str, SocketAddr)]) -> ShardMap {
    let mut b = ShardMap::builder(1);
    for (name, addr) in nodes {
        b = b.node(name, &addr.ip().to_string(), addr.port());
    }
    let names: Vec<&str> = nodes.iter().map(|(n, _)| *n).collect();
    b.shard(1, &names).build().unwrap()
}

/// Writes `map` to `path` the way deploy tools do: a temporary file renamed over it.
fn write_map(path: &Path, map: &ShardMap) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, map.to_json()).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Polls `GET path` until it answers `status`; false if it never does within the bound.
async fn until_status(addr: SocketAddr, path: &str, status: u16) -> bool {
    common::until(async || get(addr, path).await.0 == status).await
}

#[tokio::test]
async fn server_metrics_follow_the_conventions_and_count_what_happened() {
    let password = Password::new("pw").unwrap();
    let server = start_with(|c| c.password = Some(password)).await;
    let metrics = MetricsServer::for_server(&server, loopback()).unwrap();
    let mut t = Text::connect(server.local_addr()).await;
    t.send(b"AUTH nope\r\n").await;
    t.read_until(b"\r\n").await;
    t.roundtrip(b"AUTH pw\r\n", b"+OK\r\n").await;
    t.roundtrip(b"SET a 1\r\n", b"+OK\r\n").await;
    t.roundtrip(b"SET b 2 EX 100\r\n", b"+OK\r\n").await;
    t.roundtrip(b"GET a\r\n", b"$1\r\n1\r\n").await;
    t.roundtrip(b"GET nothing\r\n", b"$-1\r\n").await;
    t.send(b"NOSUCHCOMMAND\r\n").await;
    assert!(t.read_until(b"\r\n").await.starts_with(b"-ERR"));

    let m = scrape(metrics.local_addr()).await;
    let commands = |command, outcome| {
        m.value("shale_commands_total", &[("command", command), ("outcome", outcome)])
    };
    assert_eq!(commands("SET", "ok"), 2.0);
    assert_eq!(commands("GET", "ok"), 2.0, "a miss is not an error");
    assert_eq!(commands("AUTH", "noauth"), 1.0);
    assert_eq!(commands("AUTH", "ok"), 1.0);
    assert_eq!(commands("invalid", "error"), 1.0);
    assert_eq!(m.value("shale_auth_failures_total", &[]), 1.0);
    assert_eq!(m.value("shale_keys", &[]), 2.0);
    assert_eq!(m.value("shale_expiring_keys", &[]), 1.0);
    assert_eq!(m.value("shale_keyspace_hits_total", &[]), 1.0);
    assert_eq!(m.value("shale_keyspace_misses_total", &[]), 1.0);
    assert!(m.value("shale_used_memory_bytes", &[]) > 0.0);
    assert_eq!(m.value("shale_connections", &[]), 1.0);
    assert_eq!(m.value("shale_connections_moved_total", &[]), 0.0, "one runtime: no moves");
    assert!(m.value("shale_net_received_bytes_total", &[]) > 60.0);
    assert!(m.value("shale_net_sent_bytes_total", &[]) > 20.0);
    assert_eq!(m.histogram_count("shale_command_duration_seconds", &[("class", "read")]), 2.0);
    assert_eq!(m.histogram_count("shale_command_duration_seconds", &[("class", "write")]), 2.0);
    assert_eq!(m.value("shale_ready", &[]), 1.0);
    assert_eq!(get(metrics.local_addr(), "/readyz").await, (200, "ready\n".into()));
    assert_eq!(get(metrics.local_addr(), "/healthz").await, (200, "ok\n".into()));
    metrics.stop();
    server.shutdown().await;
}

#[tokio::test]
async fn router_metrics_count_requests_by_class_and_outcome_and_each_backend() {
    let (n1, n2) = (start().await, start().await);
    let path = temp_file("map.json", "");
    write_map(&path, &one_shard(&[("n1", n1.local_addr()), ("n2", n2.local_addr())]));
    // With --write-ack all, a write a replica missed is PARTIAL (the default, healthy, would
    // answer OK once the replica is ejected).
    let mut cfg = RouterConfig::loopback(0, &path);
    cfg.write_ack = shale::router::write::WriteAck::All;
    let router = Router::start(cfg).await.unwrap();
    let metrics = MetricsServer::for_router(router.router(), loopback()).unwrap();
    let mut t = Text::connect(router.local_addr()).await;
    t.roundtrip(b"SET k v\r\n", b"+OK\r\n").await;
    t.roundtrip(b"GET k\r\n", b"$1\r\nv\r\n").await;
    n2.shutdown().await;
    t.send(b"SET k w\r\n").await;
    assert!(t.read_until(b"\r\n").await.starts_with(b"-PARTIAL"), "n2 missed the write");

    let m = scrape(metrics.local_addr()).await;
    let requests = |class, outcome| {
        m.value("shale_router_requests_total", &[("class", class), ("outcome", outcome)])
    };
    assert_eq!(requests("write", "ok"), 1.0);
    assert_eq!(requests("write", "partial"), 1.0);
    assert_eq!(requests("read", "ok"), 1.0);
    let n2_state =
        |state| m.value("shale_router_backend_state", &[("node", "n2"), ("state", state)]);
    assert_eq!(n2_state("ejected"), 1.0, "a refused connection ejects at once");
    assert_eq!(n2_state("up"), 0.0);
    assert_eq!(m.value("shale_router_backend_state", &[("node", "n1"), ("state", "up")]), 1.0);
    assert_eq!(m.value("shale_router_ejections_total", &[("node", "n2")]), 1.0);
    // The PARTIAL write is counted by its typed failure, not by its message.
    assert_eq!(m.value("shale_router_failed_total", &[("kind", "partial")]), 1.0);
    assert_eq!(m.value("shale_router_failed_total", &[("kind", "timeout")]), 0.0);
    assert_eq!(m.value("shale_router_hints_queued_total", &[("node", "n2")]), 1.0);
    assert_eq!(m.value("shale_router_hints_pending", &[("node", "n2")]), 1.0);
    assert!(m.value("shale_router_backend_requests_total", &[("node", "n1")]) >= 3.0);
    assert_eq!(m.value("shale_map_generation", &[]), 1.0);
    assert_eq!(m.value("shale_map_shards", &[]), 1.0);
    assert_eq!(m.value("shale_map_reload_failures_total", &[]), 0.0);
    assert_eq!(m.histogram_count("shale_command_duration_seconds", &[("class", "write")]), 2.0);

    // A bad map is refused and counted; the good one stays.
    std::fs::write(&path, "{ not json").unwrap();
    assert!(router.reload().is_err());
    let m = scrape(metrics.local_addr()).await;
    assert_eq!(m.value("shale_map_reload_failures_total", &[]), 1.0);
    assert_eq!(m.value("shale_map_generation", &[]), 1.0);
    metrics.stop();
    router.shutdown().await;
    n1.shutdown().await;
}

#[tokio::test]
async fn a_router_started_before_its_map_is_alive_not_ready_and_ready_once_the_file_appears() {
    let node = start().await;
    let dir = temp_file("unused", "");
    let path = dir.with_file_name("shardmap.json");
    let router = Router::start(RouterConfig::loopback(0, &path)).await.unwrap();
    let metrics = MetricsServer::for_router(router.router(), loopback()).unwrap();
    let addr = metrics.local_addr();
    assert_eq!(get(addr, "/healthz").await.0, 200);
    assert_eq!(get(addr, "/readyz").await.0, 503);
    assert_eq!(scrape(addr).await.value("shale_map_generation", &[]), 0.0);
    let mut t = Text::connect(router.local_addr()).await;
    t.send(b"GET k\r\n").await;
    let reply = t.read_until(b"\r\n").await;
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("-UNAVAILABLE no shard map loaded yet"), "{reply}");

    write_map(&path, &one_shard(&[("n1", node.local_addr())]));
    assert!(until_status(addr, "/readyz", 200).await, "ready once the map file appears");
    t.roundtrip(b"SET k v\r\n", b"+OK\r\n").await;
    t.roundtrip(b"GET k\r\n", b"$1\r\nv\r\n").await;
    let m = scrape(addr).await;
    assert_eq!(m.value("shale_map_generation", &[]), 1.0);
    assert_eq!(m.value("shale_map_reload_failures_total", &[]), 0.0, "waiting is not failing");
    metrics.stop();
    router.shutdown().await;
    node.shutdown().await;
}

#[tokio::test]
async fn a_cluster_node_is_not_ready_while_it_copies_a_shard() {
    // n1 starts first: its peer n2 may hold the shard, so n1 waits (not ready) until n2
    // answers; then both are ready.
    let (p1, p2) = (common::free_port(), common::free_port());
    let local = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
    let map = one_shard(&[("n1", local(p1)), ("n2", local(p2))]);
    let path = temp_file("map.json", &map.to_json());
    let node = |name: &str, port: u16| {
        let node =
            Node::new(MapWatcher::new(path.clone(), map.clone()), name, Duration::from_secs(3600));
        move |c: &mut shale::server::ServerConfig| {
            c.addr = local(port);
            c.node = Some(node);
            c.store_options.tombstones = true;
        }
    };
    let n1 = start_with(node("n1", p1)).await;
    let metrics = MetricsServer::for_server(&n1, loopback()).unwrap();
    let addr = metrics.local_addr();
    assert_eq!(get(addr, "/readyz").await.0, 503, "shard 1 waits for its peer");
    let m = scrape(addr).await;
    assert_eq!(
        (m.value("shale_shards_hosted", &[]), m.value("shale_shards_ready", &[])),
        (1.0, 0.0)
    );
    assert_eq!(m.value("shale_ready", &[]), 0.0);
    let n2 = start_with(node("n2", p2)).await;
    assert!(until_status(addr, "/readyz", 200).await, "ready once its peer answered");
    assert_eq!(scrape(addr).await.value("shale_shards_ready", &[]), 1.0);
    metrics.stop();
    n1.shutdown().await;
    n2.shutdown().await;
}

#[test]
fn the_binary_serves_metrics_on_the_flag_given_port() {
    let server = Proc::spawn(&["server", "--metrics-port", "0"]);
    let line = server.wait_log("metrics, /healthz and /readyz listening");
    let addr: SocketAddr = line
        .split("addr=")
        .nth(1)
        .and_then(|a| a.split_whitespace().next())
        .expect("the address is logged")
        .parse()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut t = Text::connect(server.addr).await;
        t.roundtrip(b"SET k v\r\n", b"+OK\r\n").await;
        let m = scrape(addr).await;
        assert_eq!(m.value("shale_commands_total", &[("command", "SET"), ("outcome", "ok")]), 1.0);
        assert_eq!(get(addr, "/readyz").await.0, 200);
    });
}
