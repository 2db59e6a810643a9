//! Multi-key and whole-keyspace commands through a router in front of a real cluster:
//! split commands merged in the client's key order with keys on every shard, DBSIZE
//! counting each shard once, and a versioned FLUSHALL that no replica that missed it
//! brings back (not after a partition heals, not after a restart, not after more
//! anti-entropy rounds).

use std::time::Duration;

use bytes::Bytes;
use shale::protocol::text::RespValue;
use shale::shardmap::shard_for_key;

use super::proxy::Mode;
use super::support::{TestCluster, client, keys, within};

/// The convergence bound the README promises.
const BOUND: Duration = Duration::from_secs(60);

fn bulk(s: &str) -> RespValue {
    RespValue::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_commands_merge_keys_of_every_shard_in_the_clients_order() {
    let shards: &[&[&str]] = &[&["a", "b"], &["b", "c"], &["c", "a"], &["a", "b"]];
    let mut c = TestCluster::new(&["a", "b", "c"], shards, &[]).await;
    c.start_all();
    let router = c.router(&[]);
    let r = client(&router.addr.to_string()).await;
    let ks = keys("k", 40);
    for s in 1..=4 {
        assert!(ks.iter().any(|k| shard_for_key(k.as_bytes(), 4) == s), "a key on shard {s}");
    }
    let mut mset = vec!["MSET".to_owned()];
    for k in &ks {
        mset.extend([k.clone(), format!("v-{k}")]);
    }
    assert_eq!(r.cmd(&mset).await.unwrap(), RespValue::Simple("OK".into()));

    // MGET in a scrambled order, with misses and a key asked twice.
    let asked: Vec<String> =
        ["k:7", "nope", "k:3", "k:39", "k:7", "other", "k:0"].map(str::to_owned).to_vec();
    let mut mget = vec!["MGET".to_owned()];
    mget.extend(asked.iter().cloned());
    let want: Vec<RespValue> = asked
        .iter()
        .map(|k| if ks.contains(k) { bulk(&format!("v-{k}")) } else { RespValue::Nil })
        .collect();
    assert_eq!(r.cmd(&mget).await.unwrap(), RespValue::Array(want));

    // EXISTS counts a key each time it is named, as Redis does; DEL removes it once.
    let exists = r.cmd(&["EXISTS", "k:1", "k:1", "k:2", "nope", "k:30"]).await.unwrap();
    assert_eq!(exists, RespValue::Int(4));
    let del = r.cmd(&["DEL", "k:1", "k:2", "k:1", "nope", "k:30", "k:31"]).await.unwrap();
    assert_eq!(del, RespValue::Int(4));
    assert_eq!(r.cmd(&["DEL", "k:1"]).await.unwrap(), RespValue::Int(0), "gone already");

    // Each shard counted once, although every key is on two nodes.
    assert_eq!(r.cmd(&["DBSIZE"]).await.unwrap(), RespValue::Int(36));
    let mut held = 0;
    for n in ["a", "b", "c"] {
        match c.direct(n).await.cmd(&["DBSIZE"]).await.unwrap() {
            RespValue::Int(n) => held += n,
            other => panic!("DBSIZE of {n}: {other:?}"),
        }
    }
    assert_eq!(held, 72, "the nodes hold every key twice");
    // UNLINK and TOUCH split like DEL and EXISTS; SETEX is a blind write.
    let touch = r.cmd(&["TOUCH", "k:3", "k:4", "k:3", "nope"]).await.unwrap();
    assert_eq!(touch, RespValue::Int(3));
    let unlink = r.cmd(&["UNLINK", "k:3", "k:4", "nope"]).await.unwrap();
    assert_eq!(unlink, RespValue::Int(2));
    assert_eq!(r.cmd(&["SETEX", "k:3", "100", "x"]).await.unwrap(), RespValue::Simple("OK".into()));
    let RespValue::Int(ttl) = r.cmd(&["TTL", "k:3"]).await.unwrap() else { panic!("TTL") };
    assert!((1..=100).contains(&ttl), "{ttl}");
    assert_eq!(r.cmd(&["STRLEN", "k:3"]).await.unwrap(), RespValue::Int(1), "a CMD read");
    // An absolute expiry becomes the time left when the router stamps the write; one
    // already past deletes the key.
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let at = (now_ms.as_millis() + 50_000).to_string();
    assert_eq!(
        r.cmd(&["SET", "k:5", "x", "PXAT", &at]).await.unwrap(),
        RespValue::Simple("OK".into())
    );
    let RespValue::Int(left) = r.cmd(&["PTTL", "k:5"]).await.unwrap() else { panic!("PTTL") };
    assert!((1..=50_000).contains(&left), "{left}");
    assert_eq!(
        r.cmd(&["SET", "k:5", "x", "EXAT", "1000"]).await.unwrap(),
        RespValue::Simple("OK".into())
    );
    assert_eq!(r.cmd(&["EXISTS", "k:5"]).await.unwrap(), RespValue::Int(0), "expired at once");
    assert_eq!(r.cmd(&["SET", "k:5", "v-k:5"]).await.unwrap(), RespValue::Simple("OK".into()));
    assert_eq!(r.cmd(&["DBSIZE"]).await.unwrap(), RespValue::Int(35));

    // Keys that must share a shard: CROSSSHARD when they do not, run when they do.
    let (a, b) = (
        "k:0",
        (0..40)
            .map(|i| format!("k:{i}"))
            .find(|k| shard_for_key(k.as_bytes(), 4) != shard_for_key(b"k:0", 4) && ks.contains(k))
            .unwrap(),
    );
    let err = r.cmd(&["LCS", a, &b]).await.unwrap_err();
    assert_eq!(err.status(), Some(shale::protocol::Status::CrossShard), "{err}");
    assert_eq!(err.message(), Some("Keys in request don't hash to the same shard"));
    let err = r.cmd(&["MSETNX", a, "1", &b, "2"]).await.unwrap_err();
    assert_eq!(err.status(), Some(shale::protocol::Status::CrossShard), "{err}");
    let lcs = r.cmd(&["LCS", a, a]).await.unwrap();
    assert_eq!(lcs, bulk("v-k:0"), "one shard: run on a replica");

    let info = r.cmd(&["INFO", "keyspace"]).await.unwrap();
    let RespValue::Verbatim { text, .. } = info else { panic!("INFO is verbatim text") };
    let text = String::from_utf8_lossy(&text);
    assert!(text.contains("db0:keys=35,expires=1,avg_ttl="), "{text}");
}

/// Whether every running node holds exactly `want` for `keys`.
async fn all_hold(c: &TestCluster, keys: &[String], want: &[Option<String>]) -> bool {
    let want: Vec<Option<Bytes>> = want.iter().map(|v| v.clone().map(Bytes::from)).collect();
    c.contents(keys).await.values().all(|got| got.as_ref() == Some(&want))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flushall_a_replica_missed_never_brings_a_key_back() {
    // Anti-entropy every 2.5 s (an eighth of the grace).
    let mut c =
        TestCluster::new(&["a", "b", "c"], &[&["a", "b", "c"]], &["--tombstone-grace", "20s"])
            .await;
    c.proxied_routers();
    c.start_all();
    // Writes after the flush are OK on one replica whatever the others' health says.
    let router = c.router(&["--write-ack", "one"]);
    let r = client(&router.addr.to_string()).await;
    let old = keys("old", 200);
    for k in &old {
        r.set(k.clone(), "v").await.unwrap();
    }
    // b and c miss the flush: b's connections are reset (a partition would only hold
    // the flush's bytes and hand them on when it heals), c is cut off and then dies.
    c.fault("b", Mode::Reset);
    c.partition("c", true);
    match r.cmd(&["FLUSHALL"]).await {
        Ok(reply) => assert_eq!(reply, RespValue::Simple("OK".into())),
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains("applied on [a]") && msg.contains("failed on"), "{msg}");
        }
    }
    let new = keys("new", 50);
    for k in &new {
        r.set(k.clone(), "after").await.unwrap();
    }
    c.kill("c");
    c.partition("c", false);
    c.fault("b", Mode::Pass);

    let all: Vec<String> = old.iter().chain(&new).cloned().collect();
    let want: Vec<Option<String>> =
        old.iter().map(|_| None).chain(new.iter().map(|_| Some("after".to_owned()))).collect();
    // b takes the flush from a's digest; a refuses b's older entries.
    assert!(within(BOUND, || all_hold(&c, &all, &want)).await, "b caught up:\n{}", c.logs());
    let learned = c.proc("b").try_wait_log("applied a flush this node missed");
    assert!(learned.is_some(), "b learned the flush from a peer:\n{}", c.logs());
    // c comes back empty and copies its shard from peers that flushed.
    c.restart("c", true);
    assert!(within(BOUND, || all_hold(&c, &all, &want)).await, "c caught up:\n{}", c.logs());
    // More anti-entropy rounds bring nothing back.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(all_hold(&c, &all, &want).await, "a flushed key came back:\n{}", c.logs());
    assert_eq!(r.cmd(&["DBSIZE"]).await.unwrap(), RespValue::Int(new.len() as i64));
    for k in &old {
        assert_eq!(r.get(k.clone()).await.unwrap(), None, "{k}");
    }
}

/// Walks SCAN to its end through `r`; every key it reported, in order.
async fn scan_all(r: &shale::client::Client, count: &str) -> Vec<Bytes> {
    let (mut cursor, mut out) = ("0".to_owned(), Vec::new());
    for _ in 0..10_000 {
        let reply = r.cmd(&["SCAN", &cursor, "COUNT", count]).await.unwrap();
        let RespValue::Array(parts) = reply else { panic!("SCAN answers an array") };
        let [RespValue::Bulk(next), RespValue::Array(keys)] = &parts[..] else {
            panic!("SCAN answers [cursor, keys]: {parts:?}")
        };
        for k in keys {
            let RespValue::Bulk(k) = k else { panic!("a key is a bulk string") };
            out.push(k.clone());
        }
        cursor = String::from_utf8(next.to_vec()).unwrap();
        if cursor == "0" {
            return out;
        }
    }
    panic!("SCAN never ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_and_keys_report_every_key_once_with_a_replica_down() {
    let shards: &[&[&str]] = &[&["a", "b"], &["b", "c"], &["c", "a"], &["a", "b"]];
    let mut c = TestCluster::new(&["a", "b", "c"], shards, &[]).await;
    c.start_all();
    let router = c.router(&[]);
    let r = client(&router.addr.to_string()).await;
    let ks = keys("k", 300);
    for k in &ks {
        r.set(k.clone(), "v").await.unwrap();
    }
    c.kill("b");
    let mut want: Vec<Bytes> = ks.iter().map(|k| Bytes::from(k.clone())).collect();
    want.sort();
    for count in ["7", "100", "1000"] {
        let mut got = scan_all(&r, count).await;
        got.sort();
        assert_eq!(got, want, "SCAN COUNT {count}: every key exactly once");
    }
    let RespValue::Array(all) = r.cmd(&["KEYS", "*"]).await.unwrap() else { panic!("an array") };
    let mut all: Vec<Bytes> = all
        .into_iter()
        .map(|k| if let RespValue::Bulk(k) = k { k } else { panic!("a key") })
        .collect();
    all.sort();
    assert_eq!(all, want, "KEYS: every key once");
    let RespValue::Array(some) = r.cmd(&["KEYS", "k:1?"]).await.unwrap() else { panic!() };
    assert_eq!(some.len(), 10, "KEYS with a pattern");
    let RespValue::Bulk(one) = r.cmd(&["RANDOMKEY"]).await.unwrap() else { panic!("a key") };
    assert!(want.contains(&one));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_whose_replica_dies_mid_walk_still_reports_every_key() {
    let shards: &[&[&str]] = &[&["a", "b"], &["b", "a"]];
    let mut c = TestCluster::new(&["a", "b"], shards, &[]).await;
    c.start_all();
    let router = c.router(&[]);
    let r = client(&router.addr.to_string()).await;
    let ks = keys("k", 400);
    for k in &ks {
        r.set(k.clone(), "v").await.unwrap();
    }
    // One page of shard 1, then the replica it came from dies: the shard is walked again
    // on the other, so keys may repeat but none is missed.
    let reply = r.cmd(&["SCAN", "0", "COUNT", "20"]).await.unwrap();
    let RespValue::Array(parts) = reply else { panic!("SCAN answers an array") };
    let [RespValue::Bulk(next), RespValue::Array(first)] = &parts[..] else { panic!("{parts:?}") };
    let mut cursor = String::from_utf8(next.to_vec()).unwrap();
    // The cursor names the replica it is on (bits 44-47: its place in the shard's list).
    let on: u64 = cursor.parse().unwrap();
    assert_eq!(on >> 48, 0, "still on shard 1");
    c.kill(if (on >> 44) & 0xF == 0 { "a" } else { "b" });
    let mut got: Vec<Bytes> = first
        .iter()
        .map(|k| if let RespValue::Bulk(k) = k { k.clone() } else { panic!() })
        .collect();
    for _ in 0..10_000 {
        if cursor == "0" {
            break;
        }
        let reply = r.cmd(&["SCAN", &cursor, "COUNT", "20"]).await.unwrap();
        let RespValue::Array(parts) = reply else { panic!("SCAN answers an array") };
        let [RespValue::Bulk(next), RespValue::Array(keys)] = &parts[..] else { panic!() };
        got.extend(
            keys.iter().map(|k| if let RespValue::Bulk(k) = k { k.clone() } else { panic!() }),
        );
        cursor = String::from_utf8(next.to_vec()).unwrap();
    }
    assert_eq!(cursor, "0", "the walk ended");
    let got: std::collections::BTreeSet<Bytes> = got.into_iter().collect();
    let want: std::collections::BTreeSet<Bytes> =
        ks.iter().map(|k| Bytes::from(k.clone())).collect();
    assert_eq!(got, want, "every key at least once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_on_one_shard_runs_on_its_coordinator_and_reaches_every_replica() {
    let shards: &[&[&str]] = &[&["a", "b"], &["b", "c"], &["c", "a"], &["a", "b"]];
    let mut c = TestCluster::new(&["a", "b", "c"], shards, &[]).await;
    c.start_all();
    let router = c.router(&[]);
    let r = client(&router.addr.to_string()).await;
    let ks = keys("t", 200);
    let first = ks[0].clone();
    let shard = shard_for_key(first.as_bytes(), 4);
    let same = ks[1..].iter().find(|k| shard_for_key(k.as_bytes(), 4) == shard).unwrap().clone();
    let other = ks.iter().find(|k| shard_for_key(k.as_bytes(), 4) != shard).unwrap().clone();
    r.set(first.clone(), "10").await.unwrap();

    // MULTI, the queue and EXEC (the client sends them as CMD on a connection of its own).
    let replies = r
        .transaction(&[] as &[&str], async |tx| {
            tx.queue(&["INCRBY", &first, "5"])?.queue(&["APPEND", &same, "xy"])?;
            tx.queue(&["SET", &first, "1", "BADOPTION"])?.queue(&["GET", &first])?;
            Ok(())
        })
        .await
        .unwrap();
    let RespValue::Error(syntax) = &replies[2] else { panic!("{replies:?}") };
    assert!(syntax.contains("syntax error"), "{syntax}");
    assert_eq!(replies[..2], [RespValue::Int(15), RespValue::Int(2)]);
    assert_eq!(replies[3], bulk("15"));
    let want = [Some("15".to_owned()), Some("xy".to_owned())];
    let pair = [first.clone(), same.clone()];
    let want: Vec<Option<Bytes>> = want.iter().map(|v| v.clone().map(Bytes::from)).collect();
    let hosts = shards[shard as usize - 1];
    let held = || async {
        let got = c.contents(&pair).await;
        hosts.iter().all(|h| got.get(*h).is_some_and(|g| g.as_ref() == Some(&want)))
    };
    assert!(within(BOUND, held).await, "both replicas of shard {shard} hold the outcome");

    // Keys of two shards: CROSSSHARD, and nothing ran.
    let cross = r
        .transaction(&[] as &[&str], async |tx| {
            tx.queue(&["INCR", &first])?.queue(&["SET", &other, "v"])?;
            Ok(())
        })
        .await
        .unwrap_err();
    assert!(cross.to_string().contains("don't hash to the same shard"), "{cross}");
    assert_eq!(r.get(first.clone()).await.unwrap().as_deref(), Some(&b"15"[..]));
    assert_eq!(r.get(other.clone()).await.unwrap(), None);
}
