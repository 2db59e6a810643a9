//! [`SlowLog`]: the commands that took longer than `slowlog-log-slower-than`, newest first,
//! at most `slowlog-max-len` of them, as SLOWLOG GET shows them.
//!
//! The connection loop times each command and offers it with [`SlowLog::record`]; the
//! check is one relaxed load, and only a slow command takes the lock. Arguments are cut
//! the way Redis cuts them, so a huge MSET costs a bounded entry.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parking_lot::Mutex;

/// Default `slowlog-log-slower-than`, microseconds (Redis's).
pub const DEFAULT_SLOWLOG_SLOWER_THAN_US: i64 = 10_000;
/// Default `slowlog-max-len` (Redis's).
pub const DEFAULT_SLOWLOG_MAX_LEN: usize = 128;
/// Below this `slowlog-log-slower-than`, every command is timed; at or above it, commands
/// declared `O(1)` are not (one of them taking that long means the process stalled, not
/// that the command is slow), which saves a clock read per GET or SET.
pub const SLOWLOG_TIME_ALL_BELOW: Duration = Duration::from_millis(1);

/// Arguments kept per entry; past it the last one says how many were left out.
pub const SLOWLOG_ENTRY_MAX_ARGC: usize = 32;
/// Bytes kept per argument; past it the argument says how many were left out.
pub const SLOWLOG_ENTRY_MAX_STRING: usize = 128;

/// One slow command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlowEntry {
    /// Unique, increasing id.
    pub id: u64,
    /// When it ran, Unix seconds.
    pub at: u64,
    /// How long it took, microseconds.
    pub micros: u64,
    /// Its arguments, cut as Redis cuts them.
    pub argv: Vec<Bytes>,
    /// The client's address.
    pub peer: SocketAddr,
    /// The client's name, empty if none.
    pub name: Bytes,
}

/// The slow log and its two settings.
#[derive(Debug)]
pub struct SlowLog {
    entries: Mutex<VecDeque<SlowEntry>>,
    next_id: AtomicU64,
    slower_than_us: AtomicI64,
    max_len: AtomicUsize,
}

impl Default for SlowLog {
    fn default() -> Self {
        Self {
            entries: Mutex::new(VecDeque::new()),
            next_id: AtomicU64::new(0),
            slower_than_us: AtomicI64::new(DEFAULT_SLOWLOG_SLOWER_THAN_US),
            max_len: AtomicUsize::new(DEFAULT_SLOWLOG_MAX_LEN),
        }
    }
}

impl SlowLog {
    /// `slowlog-log-slower-than` in microseconds; negative turns the log off.
    pub fn slower_than_us(&self) -> i64 {
        self.slower_than_us.load(Ordering::Relaxed)
    }

    /// Sets `slowlog-log-slower-than`.
    pub fn set_slower_than_us(&self, us: i64) {
        self.slower_than_us.store(us, Ordering::Relaxed);
    }

    /// `slowlog-max-len`.
    pub fn max_len(&self) -> usize {
        self.max_len.load(Ordering::Relaxed)
    }

    /// Sets `slowlog-max-len`, dropping the oldest entries past it.
    pub fn set_max_len(&self, n: usize) {
        self.max_len.store(n, Ordering::Relaxed);
        self.entries.lock().truncate(n);
    }

    /// Whether a command that took `took` belongs in the log.
    pub fn is_slow(&self, took: Duration) -> bool {
        u64::try_from(self.slower_than_us()).is_ok_and(|us| took >= Duration::from_micros(us))
    }

    /// Logs the command if it was slow (the caller may have checked already).
    pub fn record(&self, took: Duration, argv: &[Bytes], peer: SocketAddr, name: Option<Bytes>) {
        if !self.is_slow(took) || self.max_len() == 0 {
            return;
        }
        let entry = SlowEntry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            at: SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs(),
            micros: u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            argv: cut(argv),
            peer,
            name: name.unwrap_or_default(),
        };
        let mut entries = self.entries.lock();
        entries.push_front(entry);
        entries.truncate(self.max_len());
    }

    /// The newest `n` entries (all of them for `None`).
    pub fn newest(&self, n: Option<usize>) -> Vec<SlowEntry> {
        let entries = self.entries.lock();
        entries.iter().take(n.unwrap_or(usize::MAX)).cloned().collect()
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.lock().is_empty()
    }

    /// Empties the log.
    pub fn reset(&self) {
        self.entries.lock().clear();
    }
}

/// Redis's cuts: at most [`SLOWLOG_ENTRY_MAX_ARGC`] arguments (the last saying how many
/// more there were) of at most [`SLOWLOG_ENTRY_MAX_STRING`] bytes each.
fn cut(argv: &[Bytes]) -> Vec<Bytes> {
    let keep =
        if argv.len() > SLOWLOG_ENTRY_MAX_ARGC { SLOWLOG_ENTRY_MAX_ARGC - 1 } else { argv.len() };
    let mut out: Vec<Bytes> = argv[..keep]
        .iter()
        .map(|a| {
            if a.len() <= SLOWLOG_ENTRY_MAX_STRING {
                return a.clone();
            }
            let more = a.len() - SLOWLOG_ENTRY_MAX_STRING;
            let mut s = a[..SLOWLOG_ENTRY_MAX_STRING].to_vec();
            s.extend_from_slice(format!("... ({more} more bytes)").as_bytes());
            Bytes::from(s)
        })
        .collect();
    if argv.len() > keep {
        out.push(Bytes::from(format!("... ({} more arguments)", argv.len() - keep)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        "127.0.0.1:9".parse().expect("addr")
    }

    #[test]
    fn keeps_the_newest_slow_commands() {
        let log = SlowLog::default();
        log.set_slower_than_us(1000);
        let argv = [Bytes::from_static(b"get"), Bytes::from_static(b"k")];
        log.record(Duration::from_micros(999), &argv, peer(), None);
        assert!(log.is_empty(), "fast commands are not logged");
        for _ in 0..3 {
            log.record(Duration::from_millis(2), &argv, peer(), None);
        }
        assert_eq!(log.newest(Some(1))[0].id, 2, "newest first");
        log.set_max_len(2);
        assert_eq!(log.len(), 2);
        log.set_slower_than_us(-1);
        log.record(Duration::from_secs(1), &argv, peer(), None);
        assert_eq!(log.len(), 2, "negative turns the log off");
        log.reset();
        assert!(log.is_empty());
    }

    #[test]
    fn arguments_are_cut_like_redis() {
        let many: Vec<Bytes> = (0..40).map(|i| Bytes::from(i.to_string())).collect();
        let cut_many = cut(&many);
        assert_eq!(cut_many.len(), 32);
        assert_eq!(&cut_many[31][..], b"... (9 more arguments)");
        let long = cut(&[Bytes::from(vec![b'x'; 130])]);
        assert!(long[0].ends_with(b"x... (2 more bytes)"));
    }
}
