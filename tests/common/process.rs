//! `shale` child processes (servers, routers, nodes) for the process-level tests, with
//! temp files, free ports and this process's memory.
#![allow(dead_code, missing_docs, clippy::unwrap_used)]

use std::net::SocketAddr;

use super::WAIT;

/// A `shale` child process (server or router), killed on drop.
pub struct Proc {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    lines: std::sync::mpsc::Receiver<String>,
    /// Every line read so far, so a line logged before the one awaited is not lost.
    seen: std::cell::RefCell<Vec<String>>,
}

impl Proc {
    /// Runs `shale <args> --port 0` and waits for its "listening" log line (readiness).
    pub fn spawn(args: &[&str]) -> Proc {
        Self::spawn_on(args, 0)
    }

    /// Runs `shale <args> --port <port>` and waits until it listens.
    pub fn spawn_on(args: &[&str], port: u16) -> Proc {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_shale"))
            .args(args)
            .args(["--port", &port.to_string(), "--log-level", "info"])
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let seen = std::cell::RefCell::new(Vec::new());
        let mut proc = Proc { child, addr: "127.0.0.1:1".parse().unwrap(), lines, seen };
        let line = proc.wait_log("listening");
        let addr = line.split("addr=").nth(1).and_then(|a| a.split_whitespace().next());
        proc.addr = addr.expect("the process logs its address").parse().unwrap();
        proc
    }

    /// Like [`Proc::wait_log`], but `None` instead of a panic when the line never comes.
    pub fn try_wait_log(&self, pattern: &str) -> Option<String> {
        if let Some(line) = self.seen.borrow().iter().find(|l| l.contains(pattern)) {
            return Some(line.clone());
        }
        let deadline = std::time::Instant::now() + WAIT * 3;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = self.lines.recv_timeout(left).ok()?;
            self.seen.borrow_mut().push(line.clone());
            if line.contains(pattern) {
                return Some(line);
            }
        }
    }

    /// Waits (bounded) for a log line containing `pattern`, logged at any time since the
    /// process started, and returns it.
    pub fn wait_log(&self, pattern: &str) -> String {
        if let Some(line) = self.seen.borrow().iter().find(|l| l.contains(pattern)) {
            return line.clone();
        }
        let deadline = std::time::Instant::now() + WAIT * 3;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.borrow_mut().push(line.clone());
                    if line.contains(pattern) {
                        return line;
                    }
                }
                Err(e) => {
                    let said = self.seen.borrow().join("\n");
                    panic!("no log line with '{pattern}': {e}; the process said:\n{said}")
                }
            }
        }
    }

    /// Every line logged so far (for a failing test's message).
    pub fn log(&self) -> String {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.borrow_mut().push(line);
        }
        self.seen.borrow().join("\n")
    }

    pub fn signal(&self, sig: &str) {
        let pid = self.child.id().to_string();
        let ok = std::process::Command::new("kill").args([sig, &pid]).status().unwrap();
        assert!(ok.success(), "kill {sig} {pid}");
    }

    /// Stops the process (SIGSTOP) and waits until every one of its threads is stopped:
    /// the kernel stops a multi-threaded process's other threads only once the thread that
    /// took the signal runs, so a worker could still answer right after `kill` returns.
    pub fn stop(&self) {
        self.signal("-STOP");
        let tasks = format!("/proc/{}/task", self.child.id());
        let all_stopped = || {
            let Ok(dir) = std::fs::read_dir(&tasks) else { return false };
            dir.filter_map(Result::ok).all(|t| {
                let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
                // The state follows the parenthesised command name.
                matches!(stat.rsplit(") ").next().and_then(|s| s.chars().next()), Some('T' | 't'))
            })
        };
        for _ in 0..500 {
            if all_stopped() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("process {} did not stop", self.child.id());
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago (for nodes that must restart on the same port), taken
/// below the kernel's ephemeral range: a port from that range (what binding port 0 gives)
/// can be taken meanwhile by some connection's local end, which then keeps a restarted node
/// from listening on it again. Candidates start at a place of this process's own and are
/// checked free when picked.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let low = ephemeral_low().clamp(11_000, 65_535);
    let span = low - 10_000;
    let base = std::process::id() * 7919;
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 10_000 + (base.wrapping_add(n) % span);
        let port = u16::try_from(port).unwrap();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The first port of the kernel's ephemeral range (Linux; 32768 where unknown).
fn ephemeral_low() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// A fresh, unique temp directory, `shale-test-<pid>-<n>`, created exclusively (see
/// [`shale::testdir`]).
pub fn temp_dir() -> std::path::PathBuf {
    shale::testdir::fresh("test")
}

/// Writes `text` to a fresh file in a unique temp directory and returns its path.
pub fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let path = temp_dir().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Has `router` re-read its map file and waits (bounded) until it routes by what the file
/// says. Whether `reload` itself reports a change is not asserted: the router's own watcher
/// polls the file and, on a loaded machine, may swap the new map in first.
pub async fn reload_to_file(router: &shale::router::RunningRouter, path: &std::path::Path) {
    router.reload().unwrap();
    let want = shale::shardmap::ShardMap::load(path).unwrap();
    let routed = super::eventually(|| **router.router().topology().map() == want).await;
    assert!(routed, "the router routes by the new map");
}

/// A map file named `name` of one shard whose only replica, `n1`, is the server at `addr`.
pub fn one_node_map(name: &str, addr: std::net::SocketAddr) -> std::path::PathBuf {
    let map = shale::shardmap::ShardMap::builder(1)
        .node("n1", &addr.ip().to_string(), addr.port())
        .shard(1, &["n1"])
        .build()
        .unwrap();
    temp_file(name, &map.to_json())
}

// ---- Measuring helpers for the hostile-client tests (tests/hostile.rs) ----

/// This process's resident set size in KiB (`VmRSS` in /proc/self/status); 0 where that
/// file does not exist. In-process servers make this the server's memory too.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap_or_default();
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0)
}
