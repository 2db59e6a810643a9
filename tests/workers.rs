//! Servers and routers on worker threads of their own (`NetConfig::worker_threads`): each
//! worker accepts on its own socket of an SO_REUSEPORT group, yet the service behaves as
//! one: unique connection ids, one connection count, CLIENT KILL across threads, a taken
//! port refused, and a shutdown that drains every worker. Connections move between the
//! workers (`net::balance`) with everything they carry.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::{Text, one_node_map, start_with};
use shale::net::BalanceThresholds;
use shale::router::{Router, RouterConfig};
use shale::server::{Server, ServerConfig};

const WORKERS: usize = 2;
const CONNECTIONS: usize = 8;

/// The connection id CLIENT ID gives on `c`.
async fn client_id(c: &mut Text) -> u64 {
    c.send(b"CLIENT ID\r\n").await;
    let line = String::from_utf8(c.read_until(b"\r\n").await).unwrap();
    line.trim().trim_start_matches(':').parse().unwrap()
}

#[tokio::test]
async fn a_server_on_worker_threads_serves_as_one() {
    let server = start_with(|c| c.net.worker_threads = WORKERS).await;
    let addr = server.local_addr();
    let mut clients = Vec::new();
    let mut ids = Vec::new();
    for i in 0..CONNECTIONS {
        let mut c = Text::connect(addr).await;
        let set = format!("SET k{i} v{i}\r\n");
        c.roundtrip(set.as_bytes(), b"+OK\r\n").await;
        ids.push(client_id(&mut c).await);
        clients.push(c);
    }
    // Every connection sees every other's writes, whichever thread it lives on.
    for (i, c) in clients.iter_mut().enumerate() {
        let j = (i + 1) % CONNECTIONS;
        let get = format!("GET k{j}\r\n");
        let want = format!("$2\r\nv{j}\r\n");
        c.roundtrip(get.as_bytes(), want.as_bytes()).await;
    }
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), CONNECTIONS, "ids are unique across workers: {ids:?}");
    assert_eq!(server.net_stats().counts().open, CONNECTIONS as u64);

    // CLIENT KILL reaches a connection wherever it lives.
    let victim = ids[CONNECTIONS - 1];
    let kill = format!("CLIENT KILL ID {victim}\r\n");
    clients[0].roundtrip(kill.as_bytes(), b":1\r\n").await;
    clients.pop().unwrap().read_to_close().await;

    assert!(server.shutdown().await, "every worker drains within the grace period");
}

/// The bulk string `c` answers `cmd` with (CLIENT LIST, INFO).
async fn bulk(c: &mut Text, cmd: &[u8]) -> String {
    c.send(cmd).await;
    let head = String::from_utf8(c.read_until(b"\r\n").await).unwrap();
    let len: usize = head.trim().trim_start_matches('$').parse().unwrap();
    let mut body = Vec::new();
    while body.len() < len + 2 {
        body.extend(c.read_until(b"\n").await);
    }
    String::from_utf8(body).unwrap()
}

/// Waits (bounded) until every connection of `server` is on worker 0, where a fleet
/// starts packed; `false` if they never all get there.
async fn all_on_worker_zero(server: &Server) -> bool {
    for _ in 0..500 {
        let by_worker = server.net_stats().counts().by_worker;
        if by_worker.iter().skip(1).all(|&n| n == 0) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn connections_move_to_worker_zero_with_their_session_and_stay_killable() {
    let server = start_with(|c| c.net.worker_threads = WORKERS).await;
    let addr = server.local_addr();
    let mut clients = Vec::new();
    // Until one was accepted by worker 1 (the kernel picks; 64 on one worker would be a
    // 2^-63 chance). Each sends its name and half a transaction in one read, so it moves
    // at its first quiet moment with both in its session.
    for i in 0..64 {
        let mut c = Text::connect(addr).await;
        let start = format!("CLIENT SETNAME c{i}\r\nMULTI\r\nSET k{i} v{i}\r\n");
        c.roundtrip(start.as_bytes(), b"+OK\r\n+OK\r\n+QUEUED\r\n").await;
        clients.push(c);
        let counts = server.net_stats().counts();
        if counts.moved > 0 || counts.by_worker.get(1).is_some_and(|&n| n > 0) {
            break;
        }
    }
    assert!(all_on_worker_zero(&server).await, "{:?}", server.net_stats().counts());
    let counts = server.net_stats().counts();
    assert!(counts.moved > 0, "one came from worker 1: {counts:?}");
    assert_eq!(counts.open, clients.len() as u64);

    let mut ids = Vec::new();
    for (i, c) in clients.iter_mut().enumerate() {
        c.roundtrip(b"EXEC\r\n", b"*1\r\n+OK\r\n").await;
        let name = format!("$2\r\nc{i}\r\n");
        c.roundtrip(b"CLIENT GETNAME\r\n", name.as_bytes()).await;
        let get = format!("GET k{i}\r\n");
        c.roundtrip(get.as_bytes(), format!("$2\r\nv{i}\r\n").as_bytes()).await;
        ids.push(client_id(c).await);
    }
    // Registered once each, throughout: CLIENT LIST shows every name once.
    let mut admin = Text::connect(addr).await;
    let list = bulk(&mut admin, b"CLIENT LIST\r\n").await;
    for (i, id) in ids.iter().enumerate() {
        let entry = format!("id={id} ");
        let lines: Vec<_> = list.lines().filter(|l| l.starts_with(&entry)).collect();
        assert_eq!(lines.len(), 1, "{list}");
        assert!(lines[0].contains(&format!(" name=c{i} ")), "{list}");
    }
    // INFO says where they are and how many moved.
    let info = bulk(&mut admin, b"INFO\r\n").await;
    let on_zero = format!("worker_connections:{},0\r\n", clients.len() + 1);
    assert!(info.contains(&on_zero), "{info}");
    let moved = info.lines().find_map(|l| l.strip_prefix("connections_moved:"));
    let moved: u64 = moved.unwrap().trim().parse().unwrap();
    assert!(moved >= counts.moved, "the admin connection may have moved too: {info}");
    // CLIENT KILL reaches every one of them, moved or not.
    for (c, id) in clients.iter_mut().zip(&ids) {
        let kill = format!("CLIENT KILL ID {id}\r\n");
        admin.roundtrip(kill.as_bytes(), b":1\r\n").await;
        c.read_to_close().await;
    }
    assert!(server.shutdown().await);
}

#[tokio::test]
async fn a_spread_sends_half_the_active_connections_to_the_other_worker_and_they_keep_working() {
    // Lines that make any worker with two active connections spread, and nothing pack.
    let server = start_with(|c| {
        c.net.worker_threads = WORKERS;
        c.net.balance_thresholds = BalanceThresholds {
            spread_share_min: 0.0,
            spread_idle_cores_min: 0.0,
            spread_target_share_max: 4.0,
            pack_share_max: -1.0,
            pack_share_max_with_idle: -1.0,
        };
    })
    .await;
    let mut clients = Vec::new();
    for i in 0..CONNECTIONS {
        let mut c = Text::connect(server.local_addr()).await;
        let set = format!("CLIENT SETNAME c{i}\r\nSET k{i} v{i}\r\n");
        c.roundtrip(set.as_bytes(), b"+OK\r\n+OK\r\n").await;
        clients.push(c);
    }
    // All go home to worker 0 at their first quiet moment; with the lines above, the next
    // decision spreads them. A connection still on worker 1 after several rounds of
    // requests (each a quiet moment that would send it home) says home is gone.
    let mut spread_for = 0;
    for _ in 0..500 {
        for c in &mut clients {
            c.roundtrip(b"PING\r\n", b"+PONG\r\n").await;
        }
        let by_worker = server.net_stats().counts().by_worker;
        spread_for = if by_worker.iter().all(|&n| n > 0) { spread_for + 1 } else { 0 };
        if spread_for == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let counts = server.net_stats().counts();
    assert_eq!(spread_for, 3, "never spread: {counts:?}");
    assert_eq!(counts.open, CONNECTIONS as u64);
    for (i, c) in clients.iter_mut().enumerate() {
        let want = format!("$2\r\nc{i}\r\n$2\r\nv{i}\r\n");
        let get = format!("CLIENT GETNAME\r\nGET k{i}\r\n");
        c.roundtrip(get.as_bytes(), want.as_bytes()).await;
    }
    drop(clients);
    assert!(server.shutdown().await);
}

#[tokio::test]
async fn without_balancing_connections_stay_where_they_were_accepted() {
    let server = start_with(|c| {
        c.net.worker_threads = WORKERS;
        c.net.balance = false;
    })
    .await;
    let mut clients = Vec::new();
    for _ in 0..CONNECTIONS {
        let mut c = Text::connect(server.local_addr()).await;
        for _ in 0..3 {
            c.roundtrip(b"PING\r\n", b"+PONG\r\n").await;
        }
        clients.push(c);
    }
    assert_eq!(server.net_stats().counts().moved, 0);
    assert_eq!(server.net_stats().counts().by_worker.iter().sum::<u64>(), CONNECTIONS as u64);
    drop(clients);
    assert!(server.shutdown().await);
}

#[tokio::test]
async fn a_busy_polling_server_serves_and_shuts_down() {
    let server = start_with(|c| {
        c.net.worker_threads = WORKERS;
        c.net.busy_poll = std::time::Duration::from_millis(1);
    })
    .await;
    let mut c = Text::connect(server.local_addr()).await;
    for i in 0..200 {
        let set = format!("SET k{i} v{i}\r\n");
        c.roundtrip(set.as_bytes(), b"+OK\r\n").await;
        let want = format!("$2\r\nv{}\r\n", i % 10);
        let get = format!("GET k{}\r\n", i % 10);
        c.roundtrip(get.as_bytes(), want.as_bytes()).await;
    }
    drop(c);
    assert!(server.shutdown().await, "a spinning worker drains and stops");
}

#[tokio::test]
async fn the_connection_limit_counts_every_workers_connections() {
    const LIMIT: usize = 3;
    let server = start_with(|c| {
        c.net.worker_threads = WORKERS;
        c.net.max_connections = LIMIT;
    })
    .await;
    let mut open = Vec::new();
    for _ in 0..LIMIT {
        let mut c = Text::connect(server.local_addr()).await;
        c.roundtrip(b"PING\r\n", b"+PONG\r\n").await;
        open.push(c);
    }
    // Whichever worker accepts them, connections past the limit are refused.
    for _ in 0..CONNECTIONS {
        let mut extra = Text::connect(server.local_addr()).await;
        extra.send(b"PING\r\n").await;
        assert_eq!(extra.read_to_close().await, b"-ERR max number of clients reached\r\n");
    }
    drop(open);
    assert!(server.shutdown().await);
}

#[tokio::test]
async fn a_taken_port_is_refused_even_by_a_group() {
    let first = start_with(|c| c.net.worker_threads = WORKERS).await;
    let mut cfg = ServerConfig::loopback(first.local_addr().port());
    cfg.net.worker_threads = WORKERS;
    let second = Server::start(cfg).await;
    assert!(second.is_err(), "a second group must not join the first one's port");
    let mut cfg = ServerConfig::loopback(first.local_addr().port());
    cfg.net.worker_threads = 0;
    assert!(Server::start(cfg).await.is_err());
    assert!(first.shutdown().await);
}

#[tokio::test]
async fn a_router_on_worker_threads_forwards() {
    let node = start_with(|_| {}).await;
    let addr = node.local_addr();
    let map = one_node_map("workers-map.json", addr);
    let mut cfg = RouterConfig::loopback(0, &map);
    cfg.net.worker_threads = WORKERS;
    let router = Router::start(cfg).await.unwrap();
    let mut clients = Vec::new();
    for i in 0..CONNECTIONS {
        let mut c = Text::connect(router.local_addr()).await;
        let set = format!("SET k{i} v{i}\r\n");
        c.roundtrip(set.as_bytes(), b"+OK\r\n").await;
        clients.push(c);
    }
    for (i, c) in clients.iter_mut().enumerate() {
        // A pipelined run on one key keeps its order.
        let run = format!("SET k{i} w{i}\r\nGET k{i}\r\nDEL k{i}\r\nGET k{i}\r\n");
        let want = format!("+OK\r\n$2\r\nw{i}\r\n:1\r\n$-1\r\n");
        c.roundtrip(run.as_bytes(), want.as_bytes()).await;
    }
    drop(clients);
    assert!(router.shutdown().await);
    assert!(node.shutdown().await);
}
