//! Fresh temp directories for the tests: the unit tests' and, through the crate, the
//! integration tests' (`tests/common`). Not part of the API.
//!
//! Created exclusively: a name alone (process id and a counter) is not enough, because
//! process ids are reused and an earlier test process may have left a directory of the same
//! name with files in it (a fault loop hit exactly that).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// A new, empty directory under the system temp dir whose name starts with
/// `shale-<tag>-`.
pub fn fresh(tag: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    for _ in 0..10_000 {
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("shale-{tag}-{}-{n}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return dir,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => panic!("cannot create {}: {e}", dir.display()),
        }
    }
    panic!("no fresh temp directory in 10 000 names");
}
