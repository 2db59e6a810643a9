//! The real `shale server` binary: starts on port 0, serves, and exits cleanly on SIGTERM.
#![allow(missing_docs, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn binary_serves_then_exits_on_sigterm() {
    serve_then_exit(&[], |_| {});
}

#[test]
fn threads_flag_sets_the_worker_threads() {
    serve_then_exit(&["--threads", "1"], |pid| assert_eq!(settled_workers(pid, 1), 1));
    serve_then_exit(&["--threads", "3"], |pid| assert_eq!(settled_workers(pid, 3), 3));
}

/// The worker count of `pid` once it reaches `want` or the wait runs out: the runtime may
/// still be starting its threads when the first request is answered.
fn settled_workers(pid: u32, want: usize) -> usize {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let n = workers(pid);
        if n == want || std::time::Instant::now() > deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Threads of process `pid` named like shale's connection workers (`shale-worker-N`, each
/// with a runtime of its own; background work runs on other threads).
fn workers(pid: u32) -> usize {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    let names = tasks.map(|t| std::fs::read_to_string(t.unwrap().path().join("comm")).unwrap());
    names.filter(|name| name.trim().starts_with("shale-worker-")).count()
}

/// Starts `shale server` with `extra` flags, checks it serves, runs `check(pid)` while it
/// runs, then checks it exits cleanly on SIGTERM.
fn serve_then_exit(extra: &[&str], check: impl FnOnce(u32)) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shale"))
        .args(["server", "--port", "0", "--log-level", "info"])
        .args(extra)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Readiness: wait for the "listening" log line and take the address from it.
    let addr = loop {
        let line = rx.recv_timeout(WAIT).expect("server logs its address");
        if let Some(rest) = line.split("addr=").nth(1) {
            if line.contains("listening") {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        }
    };
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"SET k v\r\nGET k\r\n").unwrap();
    let mut got = [0u8; 12];
    s.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"+OK\r\n$1\r\nv\r\n");
    check(child.id());

    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = std::time::Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "server did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "clean exit: {status:?}");
    // The open connection was closed by the server.
    let mut rest = Vec::new();
    assert_eq!(s.read_to_end(&mut rest).unwrap_or(0), 0);
    // The reader thread may still be forwarding the last lines: read until the pipe closes.
    let mut lines = Vec::new();
    while let Ok(line) = rx.recv_timeout(WAIT) {
        lines.push(line);
    }
    assert!(lines.iter().any(|l| l.contains("SIGTERM")), "{lines:?}");
}
