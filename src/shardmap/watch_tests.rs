//! Tests for the map watcher: manual reloads, rejection of bad files, the poller and
//! cancellation. Files live in a unique directory under the system temp dir.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::MapWatcher;
use crate::shardmap::{MapError, ShardMap};

/// How long the poller tests wait for something that should happen within a few polls.
const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        Self(crate::testdir::fresh(&format!("watch-{tag}")))
    }

    fn file(&self) -> PathBuf {
        self.0.join("map.json")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Version `nodes` of a map: four shards on n1, and `nodes` nodes in all (the versions
/// differ in what a live cluster may change: its nodes).
fn map(nodes: u32) -> ShardMap {
    let mut b = ShardMap::builder(4);
    for i in 1..=nodes {
        b = b.node(&format!("n{i}"), "127.0.0.1", 7400 + i as u16);
    }
    (1..=4).fold(b, |b, s| b.shard(s, &["n1"])).build().unwrap()
}

fn nodes(map: &ShardMap) -> u32 {
    map.nodes().count() as u32
}

/// Writes via a temporary file and rename, as deploy tools do, so readers never see half a file.
fn write_map(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A watcher following a file that holds `map(nodes)`.
fn watcher_for(dir: &TempDir, num_shards: u32) -> Arc<MapWatcher> {
    let initial = map(num_shards);
    write_map(&dir.file(), &initial.to_json());
    MapWatcher::new(dir.file(), initial)
}

#[test]
fn reload_picks_up_a_changed_file() {
    let dir = TempDir::new("changed");
    let watcher = watcher_for(&dir, 4);
    let mut rx = watcher.subscribe();
    write_map(&dir.file(), &map(6).to_json());
    assert!(watcher.reload().unwrap());
    assert_eq!(nodes(&watcher.current()), 6);
    assert_eq!(nodes(&watcher.load()), 6);
    assert!(rx.has_changed().unwrap());
    assert_eq!(nodes(&rx.borrow_and_update()), 6);
    assert_eq!(watcher.path(), dir.file());
}

#[test]
fn identical_content_does_not_swap() {
    let dir = TempDir::new("same");
    let watcher = watcher_for(&dir, 4);
    let rx = watcher.subscribe();
    let before = watcher.current();
    // Same map, different formatting: equal after parsing, so nothing to swap.
    write_map(&dir.file(), &before.to_json().replace('\n', " "));
    assert!(!watcher.reload().unwrap());
    assert!(Arc::ptr_eq(&before, &watcher.current()));
    assert!(!rx.has_changed().unwrap());
}

#[test]
fn invalid_file_keeps_the_last_good_map() {
    let dir = TempDir::new("invalid");
    let watcher = watcher_for(&dir, 4);
    let rx = watcher.subscribe();
    write_map(&dir.file(), r#"{"numShards": 4, "shards": {"9": []}}"#);
    let err = watcher.reload().unwrap_err();
    assert!(matches!(err, MapError::ShardOutOfRange { .. }), "{err:?}");
    assert_eq!(nodes(&watcher.current()), 4);
    assert!(!rx.has_changed().unwrap());
    assert!(watcher.reload().is_err(), "the same file again");
    assert_eq!(watcher.rejected(), 1, "one bad file is one refusal, however often it is read");

    std::fs::remove_file(dir.file()).unwrap();
    let err = watcher.reload().unwrap_err();
    assert!(matches!(err, MapError::Unreadable { .. }), "{err:?}");
    assert_eq!(*watcher.current(), map(4));
    assert_eq!(watcher.rejected(), 2);
}

/// Waits (bounded) until the watcher's map has `want` nodes.
async fn wait_for_shards(watcher: &MapWatcher, want: u32) {
    let waited = tokio::time::timeout(WAIT_LIMIT, async {
        while nodes(&watcher.current()) != want {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "map never reached {want} nodes");
}

#[tokio::test]
async fn poller_notices_a_changed_file() {
    let dir = TempDir::new("poll");
    let watcher = watcher_for(&dir, 4);
    let mut rx = watcher.subscribe();
    let (cancel, tracker) = (CancellationToken::new(), TaskTracker::new());
    watcher.spawn(Duration::from_millis(20), cancel.clone(), &tracker);

    write_map(&dir.file(), &map(5).to_json());
    wait_for_shards(&watcher, 5).await;
    tokio::time::timeout(WAIT_LIMIT, rx.changed()).await.unwrap().unwrap();
    assert_eq!(nodes(&rx.borrow_and_update()), 5);

    // A bad file is refused and a later good one still gets through.
    write_map(&dir.file(), "{ not json");
    write_map(&dir.file(), &map(7).to_json());
    wait_for_shards(&watcher, 7).await;

    cancel.cancel();
    tracker.close();
    tokio::time::timeout(WAIT_LIMIT, tracker.wait()).await.unwrap();
}

#[tokio::test]
async fn poller_reloads_at_start() {
    let dir = TempDir::new("start");
    // The file already differs from the initial map when the poller starts.
    write_map(&dir.file(), &map(3).to_json());
    let watcher = MapWatcher::new(dir.file(), map(2));
    let (cancel, tracker) = (CancellationToken::new(), TaskTracker::new());
    watcher.spawn(Duration::from_secs(3600), cancel.clone(), &tracker);
    wait_for_shards(&watcher, 3).await;
    cancel.cancel();
    tracker.close();
    tokio::time::timeout(WAIT_LIMIT, tracker.wait()).await.unwrap();
}

#[test]
fn changes_that_would_lose_data_are_refused_and_counted() {
    let dir = TempDir::new("refused");
    let watcher = watcher_for(&dir, 2);
    let refused = |text: String, want: &str| {
        write_map(&dir.file(), &text);
        let err = watcher.reload().unwrap_err();
        assert!(err.to_string().contains(want), "{err}");
        assert_eq!(*watcher.current(), map(2), "the map in force stays");
    };
    // numShards 4 -> 8 moves every key to another shard.
    let resharded = (1..=8)
        .fold(ShardMap::builder(8).node("n1", "127.0.0.1", 7401), |b, s| b.shard(s, &["n1"]));
    refused(resharded.build().unwrap().to_json(), "numShards changed from 4 to 8");
    // A shard left with no replicas.
    let text = map(2).to_json().replace(
        r#""3": [
      "n1"
    ]"#,
        r#""3": []"#,
    );
    refused(text, "shard 3 has no replicas");
    // Shards missing from the file have no replicas either.
    refused(r#"{"numShards": 4, "nodes": {"n1": {"address": "127.0.0.1", "port": 7401}}, "shards": {"1": ["n1"]}}"#.to_owned(), "shard 2 has no replicas");
    // A mistyped port: n2 given n1's address.
    refused(map(2).to_json().replace("7402", "7401"), "both have address 127.0.0.1:7401");
    // n1 hosts every shard; removing it would leave its new replicas nothing to copy from.
    let moved = (1..=4)
        .fold(ShardMap::builder(4).node("n2", "127.0.0.1", 7402), |b, s| b.shard(s, &["n2"]));
    refused(moved.build().unwrap().to_json(), "node 'n1' is removed while it still hosts");
    assert_eq!(watcher.rejected(), 5);
}

#[tokio::test]
async fn cancel_stops_the_poller() {
    let dir = TempDir::new("cancel");
    let watcher = watcher_for(&dir, 4);
    let (cancel, tracker) = (CancellationToken::new(), TaskTracker::new());
    // A long poll: the task must stop while waiting, not at the next tick.
    watcher.spawn(Duration::from_secs(3600), cancel.clone(), &tracker);
    tracker.close();
    cancel.cancel();
    tokio::time::timeout(WAIT_LIMIT, tracker.wait()).await.expect("poller ignored cancel");
    // Every handle the task took is dropped; a reload already on the blocking pool may
    // finish just after the task itself, hence the bounded wait.
    let released = tokio::time::timeout(WAIT_LIMIT, async {
        while Arc::strong_count(&watcher) > 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(released.is_ok(), "the poller kept the watcher alive");
}

#[tokio::test]
async fn zero_poll_interval_does_not_panic() {
    let dir = TempDir::new("zero");
    let watcher = watcher_for(&dir, 4);
    let (cancel, tracker) = (CancellationToken::new(), TaskTracker::new());
    watcher.spawn(Duration::ZERO, cancel.clone(), &tracker);
    write_map(&dir.file(), &map(9).to_json());
    wait_for_shards(&watcher, 9).await;
    cancel.cancel();
    tracker.close();
    tokio::time::timeout(WAIT_LIMIT, tracker.wait()).await.unwrap();
}
