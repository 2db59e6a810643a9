//! Follows the shard map file and swaps in each new valid version.
//!
//! Owns: the current [`ShardMap`] (read lock-free by the request path through
//! [`arc_swap::ArcSwap`]), change notification ([`tokio::sync::watch`]) and the background task
//! that polls the file and listens for SIGHUP. Does not own: the file format or validation
//! (see [`super::map`]), nor what subscribers do with a new map (reconnects, draining).
//!
//! A map that fails validation never replaces a good one, nor does a change that would lose
//! data ([`ShardMap::change_problems`]: a shard left without replicas, `numShards` changed,
//! two nodes on one address, a node removed while it hosts shards): the last good map
//! stays in force, the refusal is logged at ERROR with every problem, and counted
//! ([`MapWatcher::rejected`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use arc_swap::{ArcSwap, Guard};
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, info, warn};

use super::map::{MapError, ShardMap};
use crate::net::Hangup;

/// The stream of maps a [`MapWatcher`] swaps in, from [`MapWatcher::updates`].
#[derive(Debug)]
pub struct MapUpdates {
    rx: watch::Receiver<Arc<ShardMap>>,
    cancel: CancellationToken,
}

impl MapUpdates {
    /// The next new map; `None` once cancelled or when the watcher is dropped.
    pub async fn next(&mut self) -> Option<Arc<ShardMap>> {
        tokio::select! {
            _ = self.cancel.cancelled() => None,
            changed = self.rx.changed() => match changed {
                Ok(()) => Some(self.rx.borrow_and_update().clone()),
                Err(_) => None,
            },
        }
    }
}

/// Default interval between checks of the map file's metadata.
pub const MAP_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Shortest poll interval [`MapWatcher::spawn`] accepts; shorter ones are raised to this so a
/// zero does not spin (or panic in `tokio::time::interval`).
pub const MIN_MAP_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// The live shard map and the machinery that keeps it in step with its file.
#[derive(Debug)]
pub struct MapWatcher {
    path: PathBuf,
    current: ArcSwap<ShardMap>,
    notify: watch::Sender<Arc<ShardMap>>,
    /// Serializes reloads so two concurrent ones cannot publish file versions out of order.
    /// Held only for a synchronous read-validate-swap, never across an `.await`.
    reload_lock: Mutex<()>,
    /// Whether a map was ever read from the file (false only for [`Self::waiting`]).
    loaded: AtomicBool,
    /// Maps swapped in, the first one included.
    generation: AtomicU64,
    /// Maps refused since start (unreadable, invalid, or a change that would lose data).
    rejected: AtomicU64,
    /// The version of the file last refused: the same file refused again (by the poll and a
    /// SIGHUP, say) is neither counted nor logged twice.
    last_refused: Mutex<Option<Fingerprint>>,
}

impl MapWatcher {
    /// A watcher for `path`, starting from `initial` (normally `ShardMap::load(&path)`).
    pub fn new(path: PathBuf, initial: ShardMap) -> Arc<Self> {
        Self::with_state(path, initial, true)
    }

    /// A watcher for a file that does not exist yet (a Kubernetes ConfigMap may be mounted
    /// after the process starts). Until the file first loads, [`Self::has_map`] is false and
    /// [`Self::current`] is a map of one shard with no replicas; a missing file is then not
    /// counted as a failed reload.
    pub fn waiting(path: PathBuf) -> Arc<Self> {
        Self::with_state(path, ShardMap::placeholder(), false)
    }

    fn with_state(path: PathBuf, initial: ShardMap, loaded: bool) -> Arc<Self> {
        let initial = Arc::new(initial);
        let (notify, _) = watch::channel(Arc::clone(&initial));
        Arc::new(Self {
            path,
            current: ArcSwap::new(initial),
            notify,
            reload_lock: Mutex::new(()),
            loaded: AtomicBool::new(loaded),
            generation: AtomicU64::new(u64::from(loaded)),
            rejected: AtomicU64::new(0),
            last_refused: Mutex::new(None),
        })
    }

    /// Whether a valid map has been read from the file.
    pub fn has_map(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// How many maps were swapped in since start (the first one included): grows by one
    /// with every accepted change of the file.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// Maps refused since start (`map_rejected` in STATS): each version of the file once.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// Reloads that were refused (invalid or unreadable file, or a change that would lose
    /// data) since start: the same count as [`Self::rejected`].
    pub fn reload_failures(&self) -> u64 {
        self.rejected()
    }

    /// The file being followed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current map, as an owned handle that stays valid across swaps.
    pub fn current(&self) -> Arc<ShardMap> {
        self.current.load_full()
    }

    /// The current map, borrowed cheaply for one request; does not bump the refcount in the
    /// common case. Do not hold the guard across an `.await`.
    pub fn load(&self) -> Guard<Arc<ShardMap>> {
        self.current.load()
    }

    /// A receiver that sees every map swapped in from now on (it starts marked as seen).
    pub fn subscribe(&self) -> watch::Receiver<Arc<ShardMap>> {
        self.notify.subscribe()
    }

    /// Every map swapped in from now on, one at a time, until `cancel` fires or the watcher
    /// is gone. The router's map follower and a node's shard sync both run on it.
    pub fn updates(&self, cancel: CancellationToken) -> MapUpdates {
        MapUpdates { rx: self.subscribe(), cancel }
    }

    /// Re-reads and validates the file. Swaps only if the new map is valid and differs from
    /// the current one; returns whether it swapped. On error the current map stays, the
    /// error is logged at warn, and returned.
    ///
    /// Blocking: reads the file synchronously (at most
    /// [`MAX_MAP_FILE_BYTES`](super::map::MAX_MAP_FILE_BYTES)).
    pub fn reload(&self) -> Result<bool, MapError> {
        let _serial = self.reload_lock.lock();
        let file = std::fs::metadata(&self.path).ok().map(|m| Fingerprint::of(&m));
        let new = match ShardMap::load(&self.path) {
            Ok(map) => map,
            Err(err) if !self.has_map() && is_missing(&err) => {
                debug!(path = %self.path.display(), "waiting for the shard map file");
                return Err(err);
            }
            Err(err) => {
                if self.refused_anew(file) {
                    error!(path = %self.path.display(), error = %err,
                        "shard map rejected; keeping the last good map");
                }
                return Err(err);
            }
        };
        let old = self.current.load_full();
        let first = !self.has_map();
        if *old == new && !first {
            debug!(path = %self.path.display(), "shard map unchanged");
            return Ok(false);
        }
        // The first map (after waiting for the file) has nothing to be a change of.
        let problems = if self.has_map() { old.change_problems(&new) } else { new.problems() };
        if !problems.is_empty() {
            let err = MapError::Refused { problems };
            if self.refused_anew(file) {
                error!(path = %self.path.display(), error = %err,
                    "shard map refused; keeping the map in force");
            }
            return Err(err);
        }
        self.generation.fetch_add(1, Ordering::Relaxed);
        info!(
            path = %self.path.display(),
            old_shards = old.num_shards(),
            new_shards = new.num_shards(),
            old_nodes = old.nodes().count(),
            new_nodes = new.nodes().count(),
            "shard map swapped"
        );
        let new = Arc::new(new);
        self.current.store(Arc::clone(&new));
        self.loaded.store(true, Ordering::Release);
        // `send_replace` rather than `send`: having no subscribers is not an error.
        self.notify.send_replace(new);
        Ok(true)
    }

    /// Counts a refusal of the file version `file`, unless that version was the last one
    /// refused; returns whether it counted (and should be logged). A file that cannot be
    /// stat'ed always counts.
    fn refused_anew(&self, file: Option<Fingerprint>) -> bool {
        let mut last = self.last_refused.lock();
        if file.is_some() && *last == file {
            debug!(path = %self.path.display(), "the same shard map file, refused again");
            return false;
        }
        *last = file;
        self.rejected.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Starts the background task on `tracker`: checks the file's (mtime, length, inode)
    /// every `poll` (see [`MAP_POLL_INTERVAL`]) and reloads when it changes, and reloads on
    /// SIGHUP (unix). It reloads once at start too, so an edit made between loading the
    /// initial map and this call is not missed. Stops when `cancel` fires.
    pub fn spawn(
        self: &Arc<Self>,
        poll: Duration,
        cancel: CancellationToken,
        tracker: &TaskTracker,
    ) {
        let me = Arc::clone(self);
        tracker.spawn(async move { me.run(poll.max(MIN_MAP_POLL_INTERVAL), cancel).await });
    }

    async fn run(self: Arc<Self>, poll: Duration, cancel: CancellationToken) {
        let mut hangup = Hangup::install();
        let mut ticks = tokio::time::interval_at(Instant::now() + poll, poll);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut seen = tokio::select! {
            _ = cancel.cancelled() => return,
            seen = self.fingerprint() => seen,
        };
        if !self.reload_in_background(&cancel).await {
            return;
        }
        loop {
            let forced = tokio::select! {
                _ = cancel.cancelled() => return,
                _ = ticks.tick() => false,
                () = hangup.recv() => true,
            };
            let now = tokio::select! {
                _ = cancel.cancelled() => return,
                now = self.fingerprint() => now,
            };
            if forced {
                info!(path = %self.path.display(), "SIGHUP: reloading shard map");
            }
            if forced || now != seen {
                // Recorded before reading, so a write landing during the read is seen next
                // time rather than lost.
                seen = now;
                if !self.reload_in_background(&cancel).await {
                    return;
                }
            }
        }
    }

    /// Runs [`Self::reload`] on the blocking pool so a large file does not stall a runtime
    /// worker. Returns false if cancelled first. The result is already logged by `reload`.
    async fn reload_in_background(self: &Arc<Self>, cancel: &CancellationToken) -> bool {
        let me = Arc::clone(self);
        let job = tokio::task::spawn_blocking(move || me.reload());
        tokio::select! {
            _ = cancel.cancelled() => false,
            joined = job => {
                if let Err(err) = joined {
                    warn!(path = %self.path.display(), error = %err, "shard map reload task failed");
                }
                true
            }
        }
    }

    /// What identifies a version of the file without reading it; `None` if it cannot be
    /// stat'ed (deleted, or mid-rename), which is itself a change worth reacting to.
    async fn fingerprint(&self) -> Option<Fingerprint> {
        let meta = tokio::fs::metadata(&self.path).await.ok()?;
        Some(Fingerprint::of(&meta))
    }
}

/// Whether `err` says the file is not there (yet).
fn is_missing(err: &MapError) -> bool {
    matches!(err, MapError::Unreadable { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
}

/// File metadata compared between polls. The inode catches atomic replace-by-rename even
/// when the new file has the same size and a coarse mtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: u64,
}

impl Fingerprint {
    fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            modified: meta.modified().ok(),
            len: meta.len(),
            #[cfg(unix)]
            inode: std::os::unix::fs::MetadataExt::ino(meta),
        }
    }
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
