//! Read-modify-write commands through routers: each runs on one coordinator replica of its
//! shard and its outcome is replicated, so replicas never diverge, two routers never both
//! win a SET NX, and a killed coordinator is replaced (and takes over again once it is back
//! and ready).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use shale::client::{Client, Error};
use shale::protocol::Status;
use shale::protocol::text::RespValue;

use super::support::{TestCluster, client, keys, stat, within};

/// How long a cluster may take to name a coordinator for every shard, or to replace one.
const SETTLE: Duration = Duration::from_secs(30);

/// What one read-modify-write through a router did.
#[derive(Debug)]
pub enum Outcome {
    /// It ran (OK, PARTIAL or REPLY_LOST: the coordinator applied it), with its reply when
    /// there is one.
    Applied(Option<RespValue>),
    /// It did not run anywhere (no coordinator could be reached in time): safe to retry.
    NotRun,
}

/// Sends `args` through `r` until it ran or surely did not; panics on anything that leaves
/// its fate unknown (a timeout), which the coordinator path must not produce here.
pub async fn rmw(r: &Client, args: &[&str]) -> Outcome {
    classify(args, r.cmd(args).await)
}

/// What `args`' reply says of whether it ran; panics on anything that leaves that unknown.
pub fn classify(args: &[&str], reply: Result<RespValue, Error>) -> Outcome {
    match reply {
        Ok(v) => Outcome::Applied(Some(v)),
        Err(Error::Server { status: Status::Partial | Status::ReplyLost, .. }) => {
            Outcome::Applied(None)
        }
        Err(Error::Server { status: Status::Unavailable | Status::NotReady, .. }) => {
            Outcome::NotRun
        }
        Err(e) => panic!("{args:?}: {e}"),
    }
}

/// Runs `args` until it ran, retrying what surely did not run (bounded).
pub async fn rmw_until_run(r: &Client, args: &[&str]) -> Option<RespValue> {
    for _ in 0..600 {
        match rmw(r, args).await {
            Outcome::Applied(v) => return v,
            Outcome::NotRun => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    panic!("{args:?} never ran");
}

/// Whether every shard of `c` has a coordinator that knows it is one.
pub async fn coordinated(c: &TestCluster, shards: usize) -> bool {
    let mut acting = 0;
    for n in c.nodes.iter().filter(|n| n.proc.is_some()) {
        let addr = format!("127.0.0.1:{}", n.port);
        acting += stat(&addr, "shards_coordinated").await.and_then(|v| v.parse().ok()).unwrap_or(0);
    }
    acting == shards
}

/// Whether node `name` of `c` coordinates a shard (the one these clusters have).
pub async fn acts(c: &TestCluster, name: &str) -> bool {
    node_stat(c, name, "shards_coordinated").await == "1"
}

/// `field` of node `name`'s STATS.
pub async fn node_stat(c: &TestCluster, name: &str, field: &str) -> String {
    let n = c.nodes.iter().find(|n| n.name == name).unwrap();
    stat(&format!("127.0.0.1:{}", n.port), field).await.unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_nx_from_two_routers_has_exactly_one_winner_per_key() {
    let mut c = TestCluster::new(&["a", "b"], &[&["a", "b"], &["b", "a"]], &[]).await;
    c.start_all();
    assert!(within(SETTLE, || coordinated(&c, 2)).await, "coordinators named");
    let routers = [c.router(&[]), c.router(&[])];
    let ks = Arc::new(keys("nx", 200));
    let mut tasks = Vec::new();
    for (ri, router) in routers.iter().enumerate() {
        for t in 0..4 {
            let (addr, ks) = (router.addr.to_string(), ks.clone());
            tasks.push(tokio::spawn(async move {
                let r = client(&addr).await;
                let me = format!("r{ri}t{t}");
                let mut won = Vec::new();
                // Each task walks the keys from its own starting point, so they collide.
                for i in 0..ks.len() {
                    let k = &ks[(i + 37 * t + 101 * ri) % ks.len()];
                    let reply = rmw_until_run(&r, &["SET", k, &me, "NX"]).await;
                    if reply == Some(RespValue::Simple("OK".into())) {
                        won.push((k.clone(), me.clone()));
                    }
                }
                won
            }));
        }
    }
    let mut winners: HashMap<String, Vec<String>> = HashMap::new();
    for t in tasks {
        for (k, who) in t.await.unwrap() {
            winners.entry(k).or_default().push(who);
        }
    }
    for k in ks.iter() {
        let w = winners.get(k).cloned().unwrap_or_default();
        assert_eq!(w.len(), 1, "{k}: SET NX won by {w:?}");
    }
    let want: Vec<Option<Bytes>> =
        ks.iter().map(|k| Some(Bytes::from(winners[k][0].clone()))).collect();
    for (node, held) in c.contents(&ks).await {
        assert_eq!(held.as_ref(), Some(&want), "{node} holds every winner");
    }
    let mut ran = 0;
    for n in ["a", "b"] {
        ran += node_stat(&c, n, "rmw_commands").await.parse::<u64>().unwrap();
    }
    assert_eq!(ran, 8 * 200, "each ran once, on one node");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expire_and_persist_reach_every_replica_with_one_version() {
    let mut c = TestCluster::new(&["a", "b", "c"], &[&["b", "c", "a"]], &[]).await;
    c.start_all();
    // Whoever was ready first may coordinate for a moment; b, first in the map's list,
    // takes over once everyone sees it ready.
    let settled = || async {
        node_stat(&c, "b", "shards_coordinated").await == "1"
            && node_stat(&c, "a", "shard_1").await.ends_with("coordinator=b")
            && node_stat(&c, "c", "shard_1").await.ends_with("coordinator=b")
    };
    assert!(within(SETTLE, settled).await, "b coordinates");
    let router = c.router(&[]);
    let r = client(&router.addr.to_string()).await;
    r.set("k", "v").await.unwrap();
    assert_eq!(rmw_until_run(&r, &["EXPIRE", "k", "1000"]).await, Some(RespValue::Int(1)));
    for n in ["a", "b", "c"] {
        let ttl = c.direct(n).await.ttl("k").await.unwrap();
        assert!(ttl.flatten().is_some_and(|t| t > Duration::from_secs(990)), "{n}: {ttl:?}");
    }
    assert_eq!(rmw_until_run(&r, &["PERSIST", "k"]).await, Some(RespValue::Int(1)));
    assert_eq!(rmw_until_run(&r, &["PEXPIRE", "gone", "10"]).await, Some(RespValue::Int(0)));
    for n in ["a", "b", "c"] {
        assert_eq!(c.direct(n).await.ttl("k").await.unwrap(), Some(None), "{n}: persisted");
    }
    // EXPIRE 0 deletes: the coordinator's tombstone reaches the others.
    assert_eq!(rmw_until_run(&r, &["EXPIRE", "k", "0"]).await, Some(RespValue::Int(1)));
    for n in ["a", "b", "c"] {
        assert_eq!(c.direct(n).await.get("k").await.unwrap(), None, "{n}: deleted");
    }
    // Only b ran them.
    assert_eq!(node_stat(&c, "b", "rmw_commands").await, "4");
    assert_eq!(node_stat(&c, "a", "rmw_commands").await, "0");
    assert_eq!(node_stat(&c, "c", "rmw_commands").await, "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_coordinator_is_replaced_and_takes_over_again_once_ready() {
    let mut c = TestCluster::new(&["a", "b"], &[&["a", "b"]], &[]).await;
    c.start_all();
    assert!(within(SETTLE, || coordinated(&c, 1)).await, "a coordinator named");
    let router = c.router(&[]);
    let r = client(&router.addr.to_string()).await;
    let ks = keys("k", 20);
    assert!(rmw_until_run(&r, &["SET", &ks[0], "v", "NX"]).await.is_some());
    c.kill("a");
    // b takes over within a few polls; commands that found no coordinator did not run.
    for (i, k) in ks.iter().enumerate().skip(1) {
        let reply = rmw_until_run(&r, &["SET", k, &i.to_string(), "NX"]).await;
        assert!(matches!(reply, Some(RespValue::Simple(_)) | None), "{k}: {reply:?}");
    }
    assert_eq!(node_stat(&c, "b", "shards_coordinated").await, "1", "b coordinates");
    c.restart("a", true);
    assert!(within(SETTLE, || acts(&c, "a")).await, "a takes over again once ready");
    assert_eq!(node_stat(&c, "b", "shards_coordinated").await, "0", "b stepped down");
    assert!(node_stat(&c, "b", "coord_fenced").await.parse::<u64>().unwrap() >= 1, "b fenced");
    let nx = rmw_until_run(&r, &["SET", &ks[5], "again", "NX"]).await;
    assert_eq!(nx, Some(RespValue::Nil), "a holds what b coordinated");
    let contents = c.contents(&ks).await;
    assert_eq!(contents["a"], contents["b"], "replicas agree");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_coordinator_takes_over_anew_before_it_acts_again() {
    let mut c = TestCluster::new(&["a", "b"], &[&["a", "b"]], &[]).await;
    c.start_all();
    let a_acts = || acts(&c, "a");
    assert!(within(SETTLE, a_acts).await, "a coordinates");
    let router = c.router(&[]);
    let r = client(&router.addr.to_string()).await;
    let ks = keys("p", 20);
    c.pause("a", true);
    // b counts a unreachable, fences it in vain, and coordinates. Requests sent to a
    // before the router gave up on it time out, and wait in a's socket: each attempt sets
    // its own value, so one that a ran on waking, on a stale copy, would show.
    let mut acked = Vec::new();
    for k in &ks {
        let mut won = None;
        for attempt in 0..200 {
            let value = format!("during-{attempt}");
            match r.cmd(&["SET", k, &value, "NX"]).await {
                Ok(RespValue::Simple(_)) => won = Some(Some(value)),
                // An earlier attempt that timed out did run.
                Ok(_) => won = Some(None),
                Err(e) if e.is_retryable() || e.status() == Some(Status::NotReady) => {}
                Err(e) => panic!("{k}: {e}"),
            }
            if won.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        acked.push(won.unwrap_or_else(|| panic!("{k} never ran")));
    }
    c.pause("a", false);
    // a's lease ran out while it was stopped: on waking it refuses what waited in its
    // socket and takes over anew, pulling what b did, before it runs anything.
    assert!(within(SETTLE, a_acts).await, "a coordinates again");
    for k in &ks {
        let reply = rmw_until_run(&r, &["SET", k, "after", "NX"]).await;
        assert_eq!(reply, Some(RespValue::Nil), "{k}: a holds what b coordinated");
    }
    let contents = c.contents(&ks).await;
    assert_eq!(contents["a"], contents["b"], "replicas agree");
    for ((k, held), acked) in ks.iter().zip(contents["a"].clone().unwrap()).zip(acked) {
        let held = held.map(|v| String::from_utf8(v.to_vec()).unwrap());
        if let Some(v) = acked {
            assert_eq!(held.as_deref(), Some(v.as_str()), "{k}: the acknowledged SET NX holds");
        }
    }
}

/// Every read-modify-write command the server has, through a router, on a shard of three
/// replicas: each replica ends with the same value and TTL for every key touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_modify_write_leaves_the_replicas_identical() {
    let mut c = TestCluster::new(&["a", "b", "c"], &[&["a", "b", "c"]], &[]).await;
    c.start_all();
    assert!(within(SETTLE, || coordinated(&c, 1)).await, "a coordinator named");
    let router = c.router(&[]);
    let r = client(&router.addr.to_string()).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let at = (now.as_secs() + 5000).to_string();
    let script: &[&[&str]] = &[
        &["SET", "s", "v", "NX"],
        &["SET", "s", "w", "XX", "GET"],
        &["SET", "s", "x", "KEEPTTL"],
        &["SETNX", "sn", "v"],
        &["INCR", "n"],
        &["INCRBY", "n", "5"],
        &["DECR", "n"],
        &["DECRBY", "n", "2"],
        &["INCRBYFLOAT", "f", "1.5"],
        &["APPEND", "ap", "abc"],
        &["SETRANGE", "ap", "5", "yz"],
        &["SETBIT", "bits", "7", "1"],
        &["BITFIELD", "bf", "SET", "u8", "0", "200", "INCRBY", "u8", "0", "100"],
        &["GETSET", "gs", "v"],
        &["GETDEL", "gs"],
        &["SET", "e", "v"],
        &["GETEX", "e", "EX", "1000"],
        &["EXPIRE", "n", "2000", "NX"],
        &["PEXPIRE", "n", "3000000", "GT"],
        &["EXPIREAT", "f", &at],
        &["PERSIST", "e"],
        &["RENAME", "ap", "ap2"],
        &["COPY", "ap2", "ap3"],
        &["RENAMENX", "sn", "sn2"],
        &["MSETNX", "m1", "1", "m2", "2"],
        &["BITOP", "OR", "bo", "bits", "bf"],
    ];
    for cmd in script {
        rmw_until_run(&r, cmd).await;
    }
    let ks: Vec<String> =
        ["s", "sn", "sn2", "n", "f", "ap", "ap2", "ap3", "bits", "bf", "gs", "e", "m1", "m2", "bo"]
            .iter()
            .map(|k| (*k).to_owned())
            .collect();
    let held = c.contents(&ks).await;
    assert_eq!(held["a"], held["b"], "a and b hold the same");
    assert_eq!(held["a"], held["c"], "a and c hold the same");
    let values = held["a"].clone().unwrap();
    assert_eq!(values[3].as_deref(), Some(&b"3"[..]), "n counted once per command");
    assert_eq!(values[5], None, "ap was renamed");
    assert_eq!(values[10], None, "gs was deleted");
    for k in &ks {
        let mut ttls = Vec::new();
        for n in ["a", "b", "c"] {
            let ttl = c.direct(n).await.ttl(k.clone()).await.unwrap().flatten();
            ttls.push(ttl.map(|t| t.as_secs()));
        }
        let close = |x: &Option<u64>| match (x, ttls[0]) {
            (Some(x), Some(first)) => x.abs_diff(first) <= 5,
            (x, first) => *x == first,
        };
        assert!(ttls.iter().all(close), "{k}: TTLs {ttls:?}");
    }
}
