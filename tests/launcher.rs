//! `shale cluster` and `shale server --node` as an operator meets them: the launcher never
//! touches a running cluster or a taken port, starts quietly, and reports its nodes' exits;
//! a node listens where the map says.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{temp_dir, temp_file};

const WAIT: Duration = Duration::from_secs(60);

fn shale(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shale"));
    cmd.args(args).stdin(Stdio::null());
    cmd
}

/// A port `p` such that `p..p + n` were all free a moment ago.
fn free_run(n: u16) -> u16 {
    for _ in 0..50 {
        let first = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = first.local_addr().unwrap().port();
        let rest_free = (1..n)
            .all(|i| p.checked_add(i).is_some_and(|q| TcpListener::bind(("127.0.0.1", q)).is_ok()));
        if rest_free {
            return p;
        }
    }
    panic!("no run of {n} free ports");
}

/// Lines of a child's pipe, read on a thread.
fn lines(pipe: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Collects lines until one contains `pattern` (bounded by [`WAIT`]).
fn wait_for(rx: &mpsc::Receiver<String>, seen: &mut Vec<String>, pattern: &str) -> bool {
    let deadline = Instant::now() + WAIT;
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        seen.push(line);
        if seen.last().is_some_and(|l| l.contains(pattern)) {
            return true;
        }
    }
    false
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let _ = self.0.wait();
    }
}

#[test]
fn the_launcher_refuses_a_taken_port_before_writing_anything() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = temp_dir().join("cluster");
    let out = shale(&["cluster", "--nodes", "2", "--base-port", &port])
        .arg("--dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("port {port} (the router) is already in use")), "{stderr}");
    assert!(!dir.join("shardmap.json").exists(), "nothing written");
}

#[test]
fn the_launcher_refuses_the_directory_of_a_running_cluster() {
    // This test process stands in for the running launcher.
    let pid_file = temp_file("cluster.pid", &std::process::id().to_string());
    let dir = pid_file.parent().unwrap();
    let live_map = "{\"the running cluster's map\": true}";
    std::fs::write(dir.join("shardmap.json"), live_map).unwrap();
    let port = free_run(3).to_string();
    let out = shale(&["cluster", "--nodes", "2", "--base-port", &port])
        .arg("--dir")
        .arg(dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("belongs to a running cluster"), "{stderr}");
    assert_eq!(std::fs::read_to_string(dir.join("shardmap.json")).unwrap(), live_map);
}

#[test]
fn a_fresh_cluster_starts_quietly_and_reports_a_node_that_dies() {
    let port = free_run(3).to_string();
    let dir = temp_dir().join("cluster");
    let mut child = shale(&["cluster", "--nodes", "2", "--shards", "4", "--base-port", &port])
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (stdout, stderr) =
        (lines(child.stdout.take().unwrap()), lines(child.stderr.take().unwrap()));
    let launcher = Killed(child);
    let mut out = Vec::new();
    assert!(wait_for(&stdout, &mut out, "press Ctrl-C"), "no addresses: {out:?}");
    let mut err: Vec<String> = stderr.try_iter().collect();
    assert!(err.iter().all(|l| !l.contains("WARN")), "a fresh start warns: {err:#?}");
    assert!(out.iter().any(|l| l.starts_with(&format!("router at 127.0.0.1:{port}"))), "{out:?}");
    let n1 = out.iter().find(|l| l.starts_with("node n1 at")).expect("n1's address");
    let pid = n1.rsplit("(pid ").next().and_then(|p| p.strip_suffix(')')).unwrap();
    assert!(Command::new("kill").args(["-KILL", pid]).status().unwrap().success());
    assert!(
        wait_for(&stderr, &mut err, "node n1 exited (killed by signal 9)"),
        "the exit is reported: {err:#?}"
    );
    drop(launcher);
}

fn one_node_map(port: u16) -> std::path::PathBuf {
    let map = format!(
        r#"{{"numShards": 1, "nodes": {{"n1": {{"address": "127.0.0.1", "port": {port}}}}},
            "shards": {{"1": ["n1"]}}}}"#
    );
    temp_file("map.json", &map)
}

#[test]
fn a_node_listens_on_its_port_in_the_map() {
    let port = free_run(1);
    let map = one_node_map(port);
    let mut child = shale(&["server", "--node", "n1", "--shardmap"])
        .arg(&map)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = lines(child.stderr.take().unwrap());
    let _node = Killed(child);
    let mut seen = Vec::new();
    assert!(wait_for(&stderr, &mut seen, "listening"), "{seen:?}");
    let line = seen.last().unwrap();
    assert!(line.contains(&format!("addr=127.0.0.1:{port}")), "{line}");
    std::net::TcpStream::connect(("127.0.0.1", port)).expect("the node answers on the map's port");
}

#[test]
fn a_port_that_disagrees_with_the_map_is_refused_naming_both() {
    let port = free_run(2);
    let map = one_node_map(port);
    let other = (port + 1).to_string();
    let out = shale(&["server", "--node", "n1", "--port", &other, "--shardmap"])
        .arg(&map)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("--port {other} disagrees with node n1's port {port}")),
        "{stderr}"
    );
}
