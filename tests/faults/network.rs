//! A slow link to one replica, then one that resets every connection, while a writer sets
//! and deletes keys through the router: latency and failed requests, never a lost
//! acknowledged write or a deleted key back, and identical replicas once the link heals.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use super::proxy::Mode;
use super::support::{TestCluster, client, keys, within};

/// The convergence bound the README promises.
const BOUND: Duration = Duration::from_secs(60);

/// (key, value written or None for a delete, acknowledged).
type Log = Arc<Mutex<Vec<(String, Option<String>, bool)>>>;

/// The value each key must have: its last operation's, when that one was acknowledged
/// (a failed one may or may not have applied: such keys are left out).
fn expected(log: &Log) -> HashMap<String, Option<String>> {
    let mut last = HashMap::new();
    for (k, v, ok) in log.lock().iter() {
        last.insert(k.clone(), ok.then(|| v.clone()));
    }
    last.into_iter().filter_map(|(k, v)| Some((k, v?))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_then_resetting_replica_loses_no_acknowledged_write() {
    let mut c = TestCluster::new(&["a", "b", "c"], &[&["a", "b", "c"]], &[]).await;
    c.proxied_routers();
    c.start_all();
    let router = c.router(&[]);
    let addr = router.addr.to_string();
    let (stop, log, during_faults): (Arc<AtomicBool>, Log, Arc<AtomicUsize>) = Default::default();
    let faulty = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, log, r) = (stop.clone(), log.clone(), client(&addr).await);
        let (faulty, during) = (faulty.clone(), during_faults.clone());
        tokio::spawn(async move {
            let ks = keys("k", 150);
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let k = ks[i % ks.len()].clone();
                let (value, ok) = if i % 5 == 4 {
                    (None, r.del(k.clone()).await.is_ok())
                } else {
                    let v = format!("v{i}");
                    (Some(v.clone()), r.set(k.clone(), v).await.is_ok())
                };
                if ok && faulty.load(Ordering::Relaxed) {
                    during.fetch_add(1, Ordering::Relaxed);
                }
                log.lock().push((k, value, ok));
                i += 1;
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    faulty.store(true, Ordering::Relaxed);
    // Slower than the router's read timeout (250 ms): c's replies come too late.
    c.fault("c", Mode::Delay(Duration::from_millis(400)));
    tokio::time::sleep(Duration::from_secs(3)).await;
    c.fault("c", Mode::Reset);
    tokio::time::sleep(Duration::from_secs(3)).await;
    c.fault("c", Mode::Pass);
    faulty.store(false, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let want = expected(&log);
    let failed = log.lock().iter().filter(|(_, _, ok)| !ok).count();
    println!(
        "{} operations, {failed} failed, {} acknowledged during the faults; {} keys checked",
        log.lock().len(),
        during_faults.load(Ordering::Relaxed),
        want.len()
    );
    assert!(
        during_faults.load(Ordering::Relaxed) > 0,
        "writes were acknowledged during the faults"
    );
    assert!(want.len() > 100, "most keys end with an acknowledged operation");
    let (ks, values): (Vec<String>, Vec<Option<bytes::Bytes>>) =
        want.iter().map(|(k, v)| (k.clone(), v.clone().map(bytes::Bytes::from))).unzip();
    let identical = within(BOUND, || async {
        c.contents(&ks).await.values().all(|got| got.as_ref() == Some(&values))
    })
    .await;
    assert!(identical, "every replica holds every acknowledged write and delete\n{}", c.logs());
    let r = client(&addr).await;
    for (k, v) in ks.iter().zip(&values) {
        assert_eq!(r.get(k.clone()).await.unwrap(), *v, "{k}");
    }
}
