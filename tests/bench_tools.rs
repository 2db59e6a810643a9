//! `shale bench` and `shale stress` run as real processes against in-process servers: the
//! reports parse and add up, stress passes against a correct server and catches a broken
//! one. Workloads are tiny and every run is bounded by [`RUN_LIMIT`].
#![allow(missing_docs, clippy::unwrap_used)]

use std::collections::HashMap;
use std::future::{Ready, ready};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::Value;
use shale::bench::CSV_HEADER;
use shale::cmd::Command;
use shale::net::{self, Handler, NetConfig, NetStats, Session};
use shale::protocol::Reply;
use shale::server::{Server, ServerConfig};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Longest any one tool run may take before the test fails.
const RUN_LIMIT: Duration = Duration::from_secs(60);

async fn shale(args: &[&str]) -> Output {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_shale"))
        .args(args)
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(RUN_LIMIT, run).await.expect("the tool finishes in time").unwrap()
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("shale-bench-tools-{}-{name}", std::process::id()))
}

fn read_json(path: &PathBuf) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    std::fs::remove_file(path).ok();
    serde_json::from_str(&text).unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_binary_json_counts_add_up() {
    let server = Server::start(ServerConfig::loopback(0)).await.unwrap();
    let port = server.local_addr().port().to_string();
    let json = temp_path("binary.json");
    let args = ["bench", "-p", &port, "-n", "2000", "-c", "4", "-P", "4", "-r", "500"];
    let out =
        shale(&[&args[..], &["-t", "set,get", "--json", json.to_str().unwrap()]].concat()).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = stdout(&out);
    for line in ["SET ", "GET ", "TOTAL "] {
        assert!(text.lines().any(|l| l.starts_with(line)), "no {line}row in\n{text}");
    }
    let report = read_json(&json);
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{report}");
    for (row, op) in rows.iter().zip(["SET", "GET"]) {
        assert_eq!(row["op"], op);
        assert_eq!((u(&row["requests"]), u(&row["errors"])), (2000, 0), "{row}");
        assert!(row["ops_per_sec"].as_f64().unwrap() > 0.0);
        assert!(row["p50_ms"].as_f64().unwrap() <= row["p99_ms"].as_f64().unwrap());
    }
    // GETs replay the SETs' key sequence, so each one finds a value.
    assert_eq!(u(&rows[1]["misses"]), 0);
    assert_eq!(u(&report["total"]["requests"]), 4000);
    assert!((1..=500).contains(&server.store().len()), "-r 500 bounds the keys written");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_resp_csv_counts_add_up() {
    let server = Server::start(ServerConfig::loopback(0)).await.unwrap();
    let port = server.local_addr().port().to_string();
    let args = ["bench", "-p", &port, "-n", "2000", "-c", "4", "-P", "4", "--threads", "2"];
    let out =
        shale(&[&args[..], &["--proto", "resp", "-t", "set,get,del", "--csv"]].concat()).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = stdout(&out);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(CSV_HEADER));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let ops: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(ops, ["SET", "GET", "DEL", "TOTAL"]);
    let requests = |r: &Vec<&str>| r[1].parse::<u64>().unwrap();
    assert!(rows[..3].iter().all(|r| requests(r) == 2000 && r[2] == "0"), "{text}");
    assert_eq!(requests(&rows[3]), 6000);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_mixed_ratio_splits_the_requests() {
    let server = Server::start(ServerConfig::loopback(0)).await.unwrap();
    let port = server.local_addr().port().to_string();
    let json = temp_path("mixed.json");
    let args = ["bench", "-p", &port, "-n", "1000", "-c", "2", "-P", "3", "--ratio", "1:3"];
    let extra = ["-d", "8-64", "--key-pattern", "zipf", "--ttl", "30s", "--json"];
    let out = shale(&[&args[..], &extra, &[json.to_str().unwrap()]].concat()).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = read_json(&json);
    let rows = report["rows"].as_array().unwrap();
    let sum: u64 = rows.iter().map(|r| u(&r["requests"])).sum();
    assert_eq!(sum, 1000);
    assert_eq!(u(&report["total"]["requests"]), 1000);
    assert_eq!(report["tests"][0], "mixed 1:3:0");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_fails_fast_without_a_server() {
    let out = shale(&["bench", "-p", "1", "-n", "10"]).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach 127.0.0.1:1"));
}

fn stress_args<'a>(port: &'a str, json: &'a str) -> Vec<&'a str> {
    let rates = ["--get-qps", "300", "--set-qps", "60", "--del-qps", "10"];
    let rest = ["--num-keys", "40", "--duration", "2s", "--timeout", "2s", "--json", json];
    [&["stress", "-p", port][..], &rates, &rest].concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stress_passes_against_a_correct_server() {
    let server = Server::start(ServerConfig::loopback(0)).await.unwrap();
    let port = server.local_addr().port().to_string();
    let json = temp_path("stress-ok.json");
    let mut args = stress_args(&port, json.to_str().unwrap());
    args.extend(["--ttl", "300ms"]); // so some reads meet expired keys
    let out = shale(&args).await;
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("PASS"), "{text}");
    let report = read_json(&json);
    let reads = &report["reads"];
    assert!(u(&reads["judged"]) > 0, "{reads}");
    assert_eq!(reads["correct"], reads["judged"], "{report}");
    assert_eq!(u(&reads["incorrect"]), 0);
    let get = &report["ops"][0];
    assert_eq!(get["op"], "GET");
    assert!(u(&get["scheduled"]) >= 500, "{get}"); // about 600 due in 2 s
    assert_eq!(report["passed"], true);
    server.shutdown().await;
}

/// A cache whose every third GET answers "bogus".
#[derive(Default)]
struct Broken {
    data: Mutex<HashMap<Bytes, Bytes>>,
    gets: AtomicU64,
}

impl Handler for Broken {
    type Future = Ready<Reply>;

    fn call(&self, _: &mut Session, cmd: Command) -> Self::Future {
        let mut data = self.data.lock();
        ready(match cmd {
            Command::Get(_) if self.gets.fetch_add(1, Ordering::Relaxed) % 3 == 0 => {
                Reply::Bulk("bogus".into())
            }
            Command::Get(key) => data.get(&key).cloned().map_or(Reply::Nil, Reply::Bulk),
            Command::Set(args) => {
                data.insert(args.key, args.value);
                Reply::Ok
            }
            Command::Del(keys) => {
                Reply::Int(keys.iter().filter(|k| data.remove(*k).is_some()).count() as i64)
            }
            Command::Ping(_) => Reply::Simple("PONG"),
            _ => Reply::Ok,
        })
    }
}

async fn broken_server() -> (SocketAddr, CancellationToken) {
    let listener = net::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let cancel = CancellationToken::new();
    let serve = net::serve(
        listener,
        Arc::new(Broken::default()),
        Arc::new(NetConfig::default()),
        Arc::new(NetStats::default()),
        cancel.clone(),
        TaskTracker::new(),
    );
    tokio::spawn(serve);
    (addr, cancel)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stress_fails_and_shows_incorrect_reads_from_a_broken_server() {
    let (addr, cancel) = broken_server().await;
    let port = addr.port().to_string();
    let json = temp_path("stress-broken.json");
    let out = shale(&stress_args(&port, json.to_str().unwrap())).await;
    let text = stdout(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("FAIL") && text.contains("incorrect read of stress:key:"), "{text}");
    assert!(text.contains("got \"bogus\""), "{text}");
    let report = read_json(&json);
    assert!(u(&report["reads"]["incorrect"]) > 0, "{report}");
    assert_eq!(report["passed"], false);
    assert!(String::from_utf8_lossy(&out.stderr).contains("stress check failed"));
    cancel.cancel();
}
