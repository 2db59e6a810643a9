//! Mixed versions, as in a rolling upgrade: a node whose peer runs an older shale, played
//! by the peer's fault proxy ([`Mode::OldPeer`]), still converges with it, without what
//! the peer's version does not know. Owns these tests; the old version's behaviour is the
//! proxy's ([`super::oldpeer`]).

use std::time::Duration;

use shale::protocol::cluster::sync_frame;
use shale::protocol::rmw::{RmwOutcome, outcome_frame, rmw_frame};
use shale::protocol::text::{RespValue, decode_value};

use super::coord::{acts, node_stat};
use super::ids::call_node;
use super::proxy::Mode;
use super::support::{TestCluster, within};

/// How long a pull may take on a loaded machine.
const BOUND: Duration = Duration::from_secs(60);

/// b runs a version from before RMW ids in BUCKET_DUMP pages: it refuses the flag. a still
/// pulls the state b holds that it lacks (the page is asked again without the flag), but
/// not the ids b keeps with it: INCR n sent again to a (id 77, whose outcome b holds) runs
/// again, the documented cost of an old peer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anti_entropy_pulls_pages_without_ids_from_a_peer_that_refuses_the_flag() {
    let mut c = TestCluster::new(&["a", "b"], &[&["a", "b"]], &[]).await;
    c.start_all();
    assert!(within(BOUND, || acts(&c, "a")).await, "a coordinates the shard");
    // Only now: a copy and a takeover pull pages too, and this test is about the round.
    c.fault("b", Mode::OldPeer);
    // A version a would stamp now: that of an INCR of another key.
    let resp = call_node(&c, 0, rmw_frame(&["INCR", "other"], 5)).await;
    let version = RmwOutcome::decode(resp.payload).expect("an outcome").records[0].version;
    // Read before b holds n, so any pull of n (SYNC's round or a periodic one) comes after.
    let refused_before = c.nodes[1].proxy.refused_flagged_dumps();
    let fenced_before = node_stat(&c, "b", "coord_fenced").await;
    // The outcome of INCR n (id 77), on b only (a's copy lost).
    call_node(&c, 1, outcome_frame("n".into(), Some(&b"1"[..]), 0, version + 1, &[77])).await;
    let synced = call_node(&c, 0, sync_frame(1)).await;
    let pulled = || async {
        let held = c.direct("a").await.get("n".to_owned()).await;
        held.ok().flatten().as_deref() == Some(&b"1"[..])
    };
    let sync = format!("{:?} {}", synced.status(), String::from_utf8_lossy(&synced.payload));
    assert!(within(BOUND, pulled).await, "a pulls n from b (SYNC: {sync})\n{}", c.logs());
    // n reaches a only in a page from b, and b refuses every flagged one: a asked again.
    let refused = c.nodes[1].proxy.refused_flagged_dumps();
    assert!(refused > refused_before, "b refused a flagged BUCKET_DUMP ({refused} in all)");
    println!("b refused {} flagged BUCKET_DUMPs", refused - refused_before);
    // The router sends INCR n (id 77) again, to a.
    let resp = call_node(&c, 0, rmw_frame(&["INCR", "n"], 77)).await;
    let again = RmwOutcome::decode(resp.payload).expect("an outcome");
    // A FENCE b answered since it took n would have carried id 77 to a (a takeover's
    // pull_ids_again): only without one is "not recognised" the old peer's doing.
    if node_stat(&c, "b", "coord_fenced").await == fenced_before {
        let reply = decode_value(&again.reply).unwrap();
        assert_eq!(reply, RespValue::Int(2), "a does not know id 77: INCR n runs again");
        assert_eq!(again.records[0].value.as_deref(), Some(&b"2"[..]));
    } else {
        println!("b was fenced meanwhile: its ids may have come with FENCE, not checked");
    }
}
