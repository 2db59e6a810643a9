//! Clock skew: versions come from hybrid logical clocks, and a write answered OK is the
//! value even when its router's clock is behind another's (the replicas answer STALE and
//! the router re-stamps above), far ahead, or when a node's clock is behind (it refuses
//! the write loudly; the router hints it and never reads from that node meanwhile), and a
//! crashed coordinator's late hints, stamped by its faster clock, never undo what its
//! successor acknowledged.

use super::support::{TestCluster, client, stat};

const MIN: i64 = 60_000;

async fn two_nodes() -> TestCluster {
    let mut c = TestCluster::new(&["a", "b"], &[&["a", "b"]], &[]).await;
    c.start_all();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_routers_five_seconds_apart_never_lose_an_acknowledged_write() {
    let c = two_nodes().await;
    let fast = c.router(&[]);
    let slow = c.router(&["--debug-clock-offset-ms", "-5000"]);
    let (f, s) = (client(&fast.addr.to_string()).await, client(&slow.addr.to_string()).await);
    for i in 0..100 {
        let key = format!("k{}", i % 10);
        let value = format!("v{i}");
        // Alternate routers: each write follows the other router's acknowledged one.
        let (writer, reader) = if i % 2 == 0 { (&f, &s) } else { (&s, &f) };
        writer.set(key.clone(), value.clone()).await.unwrap();
        let got = reader.get(key.clone()).await.unwrap();
        assert_eq!(
            got.as_deref(),
            Some(value.as_bytes()),
            "write {i} through the {} router lost",
            if i % 2 == 0 { "fast" } else { "slow" }
        );
    }
    // A DEL through the slow router after the fast one's SET takes effect too.
    f.set("gone", "x").await.unwrap();
    assert!(s.del("gone").await.unwrap(), "DEL answered 1");
    assert_eq!(f.get("gone").await.unwrap(), None);
    for node in ["a", "b"] {
        let d = c.direct(node).await;
        for i in 90..100 {
            let got = d.get(format!("k{}", i % 10)).await.unwrap();
            assert_eq!(got.as_deref(), Some(format!("v{i}").as_bytes()), "{node}");
        }
        assert_eq!(d.get("gone").await.unwrap(), None, "{node}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_restarted_behind_still_overwrites_and_deletes() {
    let c = two_nodes().await;
    let first = c.router(&[]);
    client(&first.addr.to_string()).await.set("k", "old").await.unwrap();
    drop(first);
    let behind = c.router(&["--debug-clock-offset-ms", &(-30_000).to_string()]);
    let r = client(&behind.addr.to_string()).await;
    r.set("k", "new").await.unwrap();
    assert_eq!(r.get("k").await.unwrap().as_deref(), Some(&b"new"[..]));
    assert!(r.del("k").await.unwrap(), "DEL of a live key answers 1");
    assert_eq!(c.direct("a").await.get("k").await.unwrap(), None);
    assert_eq!(c.direct("b").await.get("k").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_nine_minutes_fast_cannot_silence_the_others() {
    let c = two_nodes().await;
    let fast = c.router(&["--debug-clock-offset-ms", &(9 * MIN).to_string()]);
    let right = c.router(&[]);
    client(&fast.addr.to_string()).await.set("k", "from the future").await.unwrap();
    let r = client(&right.addr.to_string()).await;
    r.set("k", "now").await.unwrap();
    assert_eq!(c.direct("a").await.get("k").await.unwrap().as_deref(), Some(&b"now"[..]));
    assert!(r.del("k").await.unwrap());
    assert_eq!(c.direct("b").await.get("k").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_eleven_minutes_behind_refuses_loudly_and_is_never_read() {
    let mut c = TestCluster::new(&["a", "b"], &[&["a", "b"]], &[]).await;
    c.args_of.insert("b".into(), vec!["--debug-clock-offset-ms".into(), (-11 * MIN).to_string()]);
    c.start_all();
    let router = c.router(&["--write-ack", "one"]);
    let r = client(&router.addr.to_string()).await;
    for i in 0..200 {
        let key = format!("k{}", i % 20);
        r.set(key.clone(), format!("v{i}")).await.unwrap();
        let got = r.get(key).await.unwrap();
        assert_eq!(got.as_deref(), Some(format!("v{i}").as_bytes()), "read {i} was stale");
    }
    let b = format!("127.0.0.1:{}", c.nodes[1].port);
    let refused: u64 = stat(&b, "clock_skew_refusals").await.unwrap().parse().unwrap();
    assert!(refused > 0, "node b counts its refusals");
    let counted: u64 =
        stat(&router.addr.to_string(), "clock_skew_refusals").await.unwrap().parse().unwrap();
    assert!(counted > 0, "the router counts them too");
    let line = stat(&router.addr.to_string(), "node_b").await.unwrap();
    assert!(!line.contains(",hinted=0,"), "b's missed writes are hinted: {line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_coordinators_late_hints_never_undo_its_successors_outcomes() {
    use std::net::SocketAddr;
    use std::time::Duration;

    use shale::protocol::text::RespValue;
    use shale::shardmap::ShardMap;

    use super::common::{Proc, temp_file};
    use super::coord::{acts, rmw_until_run};
    use super::proxy::{FaultProxy, Mode};
    use super::support::within;

    const SETTLE: Duration = Duration::from_secs(60);
    // a's clock runs a minute ahead of b's: a's outcomes carry later versions than b's.
    let mut c = TestCluster::new(&["a", "b"], &[&["a", "b"]], &[]).await;
    c.args_of.insert("a".into(), vec!["--debug-clock-offset-ms".into(), MIN.to_string()]);
    c.start_all();
    let a_acts = || acts(&c, "a");
    assert!(within(SETTLE, a_acts).await, "a (first in the map) coordinates");

    // Router one reaches b through a proxy of its own, which cuts b off from it alone: its
    // outcomes for b are hinted. Router two reaches both nodes directly.
    let port = |n: &str| c.nodes.iter().find(|x| x.name == n).unwrap().port;
    let to_b = FaultProxy::start(SocketAddr::from(([127, 0, 0, 1], port("b")))).await;
    let map = ShardMap::builder(1)
        .node("a", "127.0.0.1", port("a"))
        .node("b", "127.0.0.1", to_b.addr.port())
        .shard(1, &["a", "b"])
        .build()
        .unwrap();
    let map = temp_file("router-one.json", &map.to_json());
    let flags = ["--write-ack", "one", "--write-timeout", "200ms"];
    let mut args = vec!["router", "--shardmap", map.to_str().unwrap()];
    args.extend(flags);
    let one = Proc::spawn_on(&args, 0);
    let two = c.router(&[]);
    let (r1, r2) = (client(&one.addr.to_string()).await, client(&two.addr.to_string()).await);

    to_b.set(Mode::Blackhole);
    for _ in 0..10 {
        rmw_until_run(&r1, &["INCR", "k"]).await;
    }
    // a acked those alone and dies with them; b takes over without them.
    c.kill("a");
    let b_acts = || acts(&c, "b");
    assert!(within(SETTLE, b_acts).await, "b took over");
    let mut last = None;
    for _ in 0..5 {
        last = rmw_until_run(&r2, &["INCR", "k"]).await;
    }
    let Some(RespValue::Int(acked)) = last else { panic!("INCR answers an integer: {last:?}") };

    // Router one's hints of a's outcomes reach b now, late, with a's later clock.
    let hinted = stat(&one.addr.to_string(), "node_b").await.unwrap();
    assert!(!hinted.contains(",hints=0,"), "router one holds hints for b: {hinted}");
    to_b.set(Mode::Pass);
    let replayed = || async {
        stat(&one.addr.to_string(), "node_b").await.is_some_and(|l| l.contains(",hints=0,"))
    };
    assert!(within(SETTLE, replayed).await, "hints replayed:\n{}", c.logs());
    let held = c.direct("b").await.get("k").await.unwrap();
    assert_eq!(held, Some(acked.to_string().into()), "b keeps what it acknowledged last");
}
