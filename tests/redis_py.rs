//! redis-py against a real `shale server`: every `tests/redis_py/*.py` script runs with
//! `python3` against a fresh server whose port is in `SHALE_PORT`, and must exit 0. The
//! scripts need the packages in tests/requirements.txt (`pip install -r
//! tests/requirements.txt`, which README's test command and .ci/run do first).
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Proc;

/// Longest one script may run.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

fn scripts() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/redis_py");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .collect();
    found.sort();
    found
}

/// Runs one script against a fresh server; `Err` with its output if it fails.
fn run(script: &Path) -> Result<(), String> {
    let server = Proc::spawn(&["server"]);
    run_against(script, server.addr.port())
}

/// Runs one script against whatever listens on `port`.
fn run_against(script: &Path, port: u16) -> Result<(), String> {
    let mut child = Command::new("python3")
        .arg(script)
        .env("SHALE_PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{} failed ({}):\n{}{}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

#[test]
fn redis_py_scripts_pass() {
    let probe = Command::new("python3").args(["-c", "import redis"]).output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "redis-py is missing: run `pip install -r tests/requirements.txt` (README's test command does)"
    );
    let failures: Vec<String> = scripts().iter().filter_map(|s| run(s).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn redis_py_transactions_pass_through_a_router() {
    // One shard on two replicas: every key shares it, so the script's transactions run on
    // its coordinator, and its WATCH loop goes through TXWATCH.
    let ports = [common::free_port(), common::free_port()];
    let map = shale::shardmap::ShardMap::builder(1)
        .node("n1", "127.0.0.1", ports[0])
        .node("n2", "127.0.0.1", ports[1])
        .shard(1, &["n1", "n2"])
        .build()
        .unwrap();
    let map = common::temp_file("redis-py-map.json", &map.to_json());
    let map = map.to_str().unwrap();
    let nodes: Vec<Proc> = [("n1", ports[0]), ("n2", ports[1])]
        .iter()
        .map(|(name, port)| Proc::spawn_on(&["server", "--shardmap", map, "--node", name], *port))
        .collect();
    for n in &nodes {
        n.wait_log("node ready");
    }
    let router = Proc::spawn(&["router", "--shardmap", map]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/redis_py/test_transactions.py");
    if let Err(e) = run_against(&script, router.addr.port()) {
        panic!("{e}\n---- router ----\n{}", router.log());
    }
}
