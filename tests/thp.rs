//! `shale server --disable-thp`: the server turns transparent huge pages off for itself by
//! default, as Redis's `disable-thp yes` does, and leaves them as they were with `no`.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::Proc;

/// Whether THP may be used for process `pid`, from `/proc/PID/status` (Linux 5.0+).
fn thp_enabled(pid: u32) -> Option<bool> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("THP_enabled:"))?;
    Some(line.split_whitespace().nth(1)? == "1")
}

#[test]
fn the_server_turns_transparent_huge_pages_off_unless_told_not_to() {
    let Some(ours) = thp_enabled(std::process::id()) else {
        eprintln!("skipped: /proc/PID/status has no THP_enabled (not Linux 5.0+)");
        return;
    };
    let kept = Proc::spawn(&["server", "--disable-thp", "no"]);
    assert_eq!(thp_enabled(kept.child.id()), Some(ours), "no: inherited as it was");
    let off = Proc::spawn(&["server"]);
    assert_eq!(thp_enabled(off.child.id()), Some(false), "off by default");
}
