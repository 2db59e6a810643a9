//! The router and passwords: clients authenticating to the router, and the router
//! authenticating every backend connection it opens (probes included).

use std::time::{Duration, Instant};

use shale::protocol::Status;
use shale::router::health::State;
use shale::router::{Router, RouterConfig, RunningRouter};
use shale::server::Server;
use shale::shardmap::ShardMap;

use crate::auth::{PASSWORD, password};
use crate::common::{Bin, Text, eventually, start_with, temp_file};
use crate::support::serial;

const BACKEND_PASSWORD: &str = "backend-pw";
const NOAUTH: &[u8] = b"-NOAUTH Authentication required.\r\n";
const WRONGPASS: &[u8] = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n";

fn map_of(servers: &[&Server]) -> std::path::PathBuf {
    let mut b = ShardMap::builder(1);
    let names: Vec<String> = (0..servers.len()).map(|i| format!("n{i}")).collect();
    for (name, s) in names.iter().zip(servers) {
        b = b.node(name, &s.local_addr().ip().to_string(), s.local_addr().port());
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    temp_file("map.json", &b.shard(1, &names).build().unwrap().to_json())
}

async fn router(servers: &[&Server], tweak: impl FnOnce(&mut RouterConfig)) -> RunningRouter {
    let mut cfg = RouterConfig::loopback(0, map_of(servers));
    tweak(&mut cfg);
    Router::start(cfg).await.unwrap()
}

fn states(r: &RunningRouter) -> Vec<State> {
    r.router().topology().backends().into_iter().map(|b| b.health().state()).collect()
}

async fn backend_with_password() -> Server {
    start_with(|c| c.password = password(BACKEND_PASSWORD)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_clients_must_authenticate_first() {
    let _serial = serial().await;
    let backend = start_with(|_| {}).await;
    let r = router(&[&backend], |c| c.password = password(PASSWORD)).await;
    let mut t = Text::connect(r.local_addr()).await;
    t.roundtrip(b"PING\r\nGET k\r\n", &[NOAUTH, NOAUTH].concat()).await;
    t.roundtrip(b"AUTH nope\r\n", WRONGPASS).await;
    // AUTH pipelined with the next command: that command sees the authenticated session.
    // (SET and GET are not pipelined together: the router runs them concurrently.)
    let auth = format!("AUTH {PASSWORD}\r\nSET k v\r\n");
    t.roundtrip(auth.as_bytes(), b"+OK\r\n+OK\r\n").await;
    t.roundtrip(b"GET k\r\n", b"$1\r\nv\r\n").await;
    let mut b = Bin::connect(r.local_addr()).await;
    assert_eq!(b.call(0x02, b"k", b"", 0).await.status(), Some(Status::NoAuth));
    assert_eq!(b.call(0x07, b"", PASSWORD.as_bytes(), 0).await.status(), Some(Status::Ok));
    assert_eq!(&b.call(0x02, b"k", b"", 0).await.payload[..], b"v");
    r.shutdown().await;
    backend.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_authenticates_to_protected_backends() {
    let _serial = serial().await;
    let (a, b) = (backend_with_password().await, backend_with_password().await);
    let r = router(&[&a, &b], |c| c.backend_password = password(BACKEND_PASSWORD)).await;
    let mut t = Text::connect(r.local_addr()).await;
    t.roundtrip(b"SET k v\r\n", b"+OK\r\n").await;
    t.roundtrip(b"GET k\r\n", b"$1\r\nv\r\n").await;
    assert_eq!(a.store().len() + b.store().len(), 2, "the write reached both replicas");
    // Probes authenticate too: with several probe rounds done, both nodes are still up.
    let probed = |r: &RunningRouter| {
        r.router().topology().backends().iter().all(|b| b.snapshot().probes >= 3)
    };
    assert!(eventually(|| probed(&r)).await, "probes ran");
    assert_eq!(states(&r), [State::Up, State::Up], "authenticated probes succeed");
    r.shutdown().await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_backend_password_fails_fast_and_ejects_the_nodes() {
    let _serial = serial().await;
    let a = backend_with_password().await;
    for (label, backend_password) in [("none", None), ("wrong", password("wrong"))] {
        let r = router(&[&a], |c| c.backend_password = backend_password.clone()).await;
        let mut t = Text::connect(r.local_addr()).await;
        let mut worst = Duration::ZERO;
        for _ in 0..10 {
            let started = Instant::now();
            t.send(b"GET k\r\n").await;
            let line = t.read_until(b"\r\n").await;
            worst = worst.max(started.elapsed());
            let line = String::from_utf8_lossy(&line);
            // The client did nothing wrong: the shard is unavailable, and the message says
            // why (the backend's NOAUTH, or the refused password).
            assert!(line.starts_with("-UNAVAILABLE no replica"), "{label}: {line}");
            let why = if label == "none" { "noauth" } else { "authentication to" };
            assert!(line.contains(why), "{label}: {line}");
        }
        println!("[router auth] backend password {label}: slowest refusal {worst:?}");
        assert!(worst < Duration::from_secs(2), "{label}: {worst:?}");
        let ejected = || states(&r).iter().all(|s| *s != State::Up);
        assert!(eventually(ejected).await, "{label}: failing probes eject the node");
        r.shutdown().await;
    }
    a.shutdown().await;
}
