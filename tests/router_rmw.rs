//! The router's coordinator path against scripted fake nodes: where a read-modify-write
//! goes (NOT_COORDINATOR followed, NOT_READY retried, a dead node skipped), what the
//! client hears when no coordinator answers, that a coordinator dying with the command
//! stretches the deadline for the next, that an outcome a new coordinator ran past
//! (SUPERSEDED) runs the command again, and that the outcome reaches the other
//! replicas with the coordinator's version, never re-stamped.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::{Text, free_port, temp_file};
use parking_lot::Mutex;
use shale::cmd::Command;
use shale::net::{self, Handler, NetConfig, NetStats, Session};
use shale::protocol::cluster::{Stale, WriteAck};
use shale::protocol::dump::DumpRecord;
use shale::protocol::rmw::{RmwOutcome, not_coordinator_message, superseded_message};
use shale::protocol::text::encode_reply_resp3;
use shale::protocol::{Reply, Status};
use shale::router::{Router, RouterConfig, RunningRouter};
use shale::shardmap::ShardMap;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The version the fake coordinator stamps its outcome with.
const VERSION: u64 = 0x1234_5678;

/// How a fake node answers RMW requests.
#[derive(Clone, Copy)]
enum Script {
    /// Runs it: `:1` and the outcome `k = "done"` at [`VERSION`].
    Coordinate,
    /// Names another node.
    Redirect(&'static str),
    /// "Handover in progress" this many times, then coordinates.
    NotReadyThen(usize),
    /// Never answers in time.
    Hang,
    /// "Handover in progress" this many times, then drops the connection with the next
    /// RMW on it (as a coordinator killed mid-command).
    NotReadyThenDrop(usize),
    /// Coordinates after this long.
    Slowly(Duration),
}

/// What a fake node was sent.
#[derive(Default)]
struct Seen {
    rmws: usize,
    /// The id of each RMW.
    ids: Vec<u64>,
    /// VSETs: value and version.
    vsets: Vec<(Bytes, u64)>,
}

struct Fake {
    name: &'static str,
    script: Script,
    /// Answer VSETs STALE (a newer write holds the key).
    stale: bool,
    /// Answer this many VSETs SUPERSEDED first (a node that took over from a crashed
    /// coordinator and computed past the outcome).
    superseded: usize,
    seen: Arc<Mutex<Seen>>,
}

/// A version a minute ahead of the wall clock: what a node that took over from a
/// coordinator with a faster clock may hold.
fn held_ahead() -> u64 {
    (shale::version::wall_ms() - shale::version::EPOCH_UNIX_MS + 60_000) << shale::version::MS_SHIFT
}

fn outcome() -> Reply {
    let mut reply = BytesMut::new();
    encode_reply_resp3(&Reply::Int(1), &mut reply);
    let record =
        DumpRecord { key: "k".into(), value: Some("done".into()), ttl_ms: 0, version: VERSION };
    Reply::Bulk(
        RmwOutcome { reply: reply.freeze(), records: vec![record], ids: Vec::new() }.encode(),
    )
}

impl Fake {
    fn rmw(&self, id: u64) -> Pin<Box<dyn Future<Output = Reply> + Send>> {
        let n = {
            let mut seen = self.seen.lock();
            seen.ids.push(id);
            seen.rmws += 1;
            seen.rmws
        };
        let reply = match self.script {
            Script::Coordinate => outcome(),
            Script::Redirect(to) => Reply::error(
                Status::NotCoordinator,
                not_coordinator_message(self.name, 1, Some(to)),
            ),
            Script::NotReadyThen(times) if n <= times => {
                Reply::error(Status::NotReady, "coordinator handover in progress for shard 1")
            }
            Script::NotReadyThen(_) => outcome(),
            Script::NotReadyThenDrop(times) if n <= times => {
                Reply::error(Status::NotReady, "coordinator handover in progress for shard 1")
            }
            // The connection's task ends with the request unanswered: the router sees the
            // connection close with its command sent.
            Script::NotReadyThenDrop(_) => panic!("a fake coordinator dies mid-command"),
            Script::Slowly(after) => {
                return Box::pin(async move {
                    tokio::time::sleep(after).await;
                    outcome()
                });
            }
            Script::Hang => {
                return Box::pin(async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    outcome()
                });
            }
        };
        Box::pin(std::future::ready(reply))
    }
}

impl Handler for Fake {
    type Future = Pin<Box<dyn Future<Output = Reply> + Send>>;

    fn call(&self, _: &mut Session, cmd: Command) -> Self::Future {
        let reply = match cmd {
            Command::Rmw(a) => return self.rmw(a.id),
            Command::Ping(_) => Reply::Simple("PONG"),
            Command::VSet(a) => {
                let n = {
                    let mut seen = self.seen.lock();
                    seen.vsets.push((a.value, a.version));
                    seen.vsets.len()
                };
                if n <= self.superseded {
                    let held = Stale { held: held_ahead(), clock: 0 };
                    Reply::error(Status::Superseded, superseded_message("ran past it", held))
                } else if self.stale {
                    Reply::Raw(Status::Stale, Stale { held: VERSION + 1, clock: 0 }.encode())
                } else {
                    Reply::Bulk(WriteAck { applied: true, clock: a.version }.encode())
                }
            }
            _ => Reply::error(Status::InvalidArgument, "not a cluster node"),
        };
        Box::pin(std::future::ready(reply))
    }
}

/// Starts fake `name` on a free port; returns its address and what it was sent.
fn fake(name: &'static str, script: Script, stale: bool) -> (SocketAddr, Arc<Mutex<Seen>>) {
    fake_superseding(name, script, stale, 0)
}

/// [`fake`], answering its first `superseded` VSETs SUPERSEDED.
fn fake_superseding(
    name: &'static str,
    script: Script,
    stale: bool,
    superseded: usize,
) -> (SocketAddr, Arc<Mutex<Seen>>) {
    let listener = net::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let node = Fake { name, script, stale, superseded, seen: seen.clone() };
    tokio::spawn(net::serve(
        listener,
        Arc::new(node),
        Arc::new(NetConfig::default()),
        Arc::new(NetStats::default()),
        CancellationToken::new(),
        TaskTracker::new(),
    ));
    (addr, seen)
}

/// A router over one shard whose replicas are `nodes`, in this order.
async fn router(nodes: &[(&str, SocketAddr)]) -> RunningRouter {
    router_timing(nodes, Duration::from_millis(600)).await
}

/// [`router`] with a request timeout of `request`.
async fn router_timing(nodes: &[(&str, SocketAddr)], request: Duration) -> RunningRouter {
    let mut b = ShardMap::builder(1);
    for (name, addr) in nodes {
        b = b.node(name, &addr.ip().to_string(), addr.port());
    }
    let names: Vec<&str> = nodes.iter().map(|(n, _)| *n).collect();
    let map = temp_file("map.json", &b.shard(1, &names).build().unwrap().to_json());
    let mut cfg = RouterConfig::loopback(0, &map);
    cfg.timeouts.request = request;
    Router::start(cfg).await.unwrap()
}

/// Sends EXPIRE (a read-modify-write) and returns the reply line.
async fn expire(r: &RunningRouter) -> String {
    let mut c = Text::connect(r.local_addr()).await;
    c.send(b"EXPIRE k 100\r\n").await;
    String::from_utf8(c.read_until(b"\r\n").await).unwrap()
}

#[tokio::test]
async fn a_redirect_is_followed_and_the_outcome_reaches_the_others_with_its_version() {
    let (a, seen_a) = fake("a", Script::Redirect("b"), false);
    let (b, seen_b) = fake("b", Script::Coordinate, false);
    let (c, seen_c) = fake("c", Script::Redirect("b"), false);
    let r = router(&[("a", a), ("b", b), ("c", c)]).await;
    assert_eq!(expire(&r).await, ":1\r\n");
    assert_eq!(seen_a.lock().rmws, 1, "a was asked first");
    assert_eq!(seen_c.lock().rmws, 0, "the redirect went to b, not to the next replica");
    let want = vec![(Bytes::from("done"), VERSION)];
    assert_eq!(seen_a.lock().vsets, want, "a got the outcome as stamped");
    assert_eq!(seen_c.lock().vsets, want, "c got the outcome as stamped");
    assert!(seen_b.lock().vsets.is_empty(), "the coordinator holds it already");
    r.shutdown().await;
}

#[tokio::test]
async fn a_handover_in_progress_is_waited_out() {
    let (a, seen_a) = fake("a", Script::NotReadyThen(3), false);
    let (b, seen_b) = fake("b", Script::Redirect("a"), false);
    let r = router(&[("a", a), ("b", b)]).await;
    assert_eq!(expire(&r).await, ":1\r\n");
    assert_eq!(seen_a.lock().rmws, 4, "asked again after each NOT_READY");
    assert_eq!(seen_b.lock().rmws, 0);
    assert_eq!(seen_b.lock().vsets.len(), 1);
    r.shutdown().await;
}

#[tokio::test]
async fn a_dead_replica_is_skipped_and_a_stale_answer_counts_as_done() {
    let dead = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let (b, seen_b) = fake("b", Script::Coordinate, false);
    let (c, seen_c) = fake("c", Script::Redirect("b"), true);
    let r = router(&[("a", dead), ("b", b), ("c", c)]).await;
    // a refuses connections: the command cannot have run there, so b is asked.
    let reply = expire(&r).await;
    assert!(reply == ":1\r\n" || reply.starts_with("-PARTIAL"), "{reply}");
    assert_eq!(seen_b.lock().rmws, 1);
    // c holds a newer version: the outcome was superseded, and is not re-stamped.
    assert_eq!(seen_c.lock().vsets, vec![(Bytes::from("done"), VERSION)]);
    r.shutdown().await;
}

#[tokio::test]
async fn a_coordinator_that_does_not_answer_gives_timeout_and_no_retry_elsewhere() {
    let (a, seen_a) = fake("a", Script::Hang, false);
    let (b, seen_b) = fake("b", Script::Coordinate, false);
    let r = router(&[("a", a), ("b", b)]).await;
    let reply = expire(&r).await;
    assert!(reply.starts_with("-TIMEOUT"), "{reply}");
    assert!(reply.contains("may or may not"), "{reply}");
    assert_eq!(seen_a.lock().rmws, 1);
    assert_eq!(seen_b.lock().rmws, 0, "it may have run on a: never sent to b as well");
    r.shutdown().await;
}

#[tokio::test]
async fn no_coordinator_in_time_is_unavailable_which_means_not_run() {
    let (a, seen_a) = fake("a", Script::NotReadyThen(usize::MAX), false);
    let (b, _) = fake("b", Script::Redirect("a"), false);
    let r = router(&[("a", a), ("b", b)]).await;
    let reply = expire(&r).await;
    assert!(reply.starts_with("-UNAVAILABLE"), "{reply}");
    assert!(reply.contains("handover in progress"), "{reply}");
    assert!(seen_a.lock().rmws > 1, "retried until the deadline");
    r.shutdown().await;
}

#[tokio::test]
async fn an_outcome_a_new_coordinator_ran_past_is_run_again_and_never_answered_ok_alone() {
    // b answers the first outcome SUPERSEDED: the command runs again, its second outcome
    // lands, and the client hears the second run's reply.
    let (a, seen_a) = fake("a", Script::Coordinate, false);
    let (b, seen_b) = fake_superseding("b", Script::Redirect("a"), false, 1);
    let r = router(&[("a", a), ("b", b)]).await;
    assert_eq!(expire(&r).await, ":1\r\n");
    assert_eq!(seen_a.lock().rmws, 2, "run again on the coordinator");
    assert_eq!(seen_b.lock().vsets.len(), 2, "both outcomes went to b");
    // A new id: a replica that noted the first run's id with its late outcome (STALE) must
    // not answer the second run "it took effect" should it coordinate by then.
    let ids = seen_a.lock().ids.clone();
    assert!(ids[0] != 0 && ids[1] != 0 && ids[0] != ids[1], "{ids:?}");
    r.shutdown().await;

    // Superseded every time: out of time, the client hears it did not run.
    let (a, seen_a) = fake("a", Script::Coordinate, false);
    let (b, _) = fake_superseding("b", Script::Redirect("a"), false, usize::MAX);
    let r = router(&[("a", a), ("b", b)]).await;
    let reply = expire(&r).await;
    assert!(reply.starts_with("-UNAVAILABLE not applied"), "{reply}");
    assert!(seen_a.lock().rmws > 1, "run again until the deadline");
    r.shutdown().await;
}

#[tokio::test]
async fn a_blind_write_superseded_is_re_stamped_above_what_the_key_holds() {
    // A SET whose first version a node refuses as SUPERSEDED (its clock runs a minute ahead
    // after a takeover): the router re-stamps above the held version it was told, once.
    let (b, seen_b) = fake_superseding("b", Script::Coordinate, false, 1);
    let r = router(&[("b", b)]).await;
    let mut c = Text::connect(r.local_addr()).await;
    c.send(b"SET k v\r\n").await;
    assert_eq!(c.read_until(b"\r\n").await, b"+OK\r\n");
    let versions: Vec<u64> = seen_b.lock().vsets.iter().map(|(_, v)| *v).collect();
    assert_eq!(versions.len(), 2, "sent again once: {versions:?}");
    assert!(versions[1] > held_ahead() - (60_000 << shale::version::MS_SHIFT) / 2, "{versions:?}");
    r.shutdown().await;
}

#[tokio::test]
async fn after_a_coordinator_drops_the_command_the_next_replica_gets_the_stretched_deadline() {
    // a answers "handover in progress" a few times (a backoff that uses up part of the 2 s
    // request time), then dies with the command on its connection. b, which coordinates
    // now, answers after 3 s: past the request deadline, within RMW_RESOLVE_TIMEOUT of the
    // drop. The router must give b that time: the command may have run on a, and b is the
    // one that can say (or, as here, run it), where a TIMEOUT would leave the client unsure.
    let (a, seen_a) = fake("a", Script::NotReadyThenDrop(5), false);
    let (b, seen_b) = fake("b", Script::Slowly(Duration::from_secs(3)), false);
    let r = router_timing(&[("a", a), ("b", b)], Duration::from_secs(2)).await;
    assert_eq!(expire(&r).await, ":1\r\n");
    assert_eq!(seen_a.lock().rmws, 6, "five NOT_READY, then the drop");
    assert_eq!(seen_b.lock().rmws, 1);
    r.shutdown().await;
}
