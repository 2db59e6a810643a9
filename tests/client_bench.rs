//! Throughput of one client connection at 1, 16 and 256 concurrent tasks against the
//! in-process server. A measurement, not a test: run it in release with
//! `cargo test --release --test client_bench -- --ignored --nocapture`.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::time::Duration;

use shale::client::Client;
use tokio::time::Instant;

const RUN: Duration = Duration::from_millis(1500);

/// Ops/s of `tasks` tasks each alternating SET and GET on its own key for `RUN`.
async fn measure(client: &Client, tasks: usize) -> f64 {
    let started = Instant::now();
    let deadline = started + RUN;
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let client = client.clone();
            tokio::spawn(async move {
                let key = format!("bench-{t}");
                let mut ops = 0u64;
                // Bounded by the deadline and by a count, whichever comes first.
                while ops < 50_000_000 && Instant::now() < deadline {
                    client.set(key.clone(), "0123456789abcdef0123456789abcdef").await.expect("set");
                    client.get(key.clone()).await.expect("get");
                    ops += 2;
                }
                ops
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h.await.expect("task ok");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run in release with --ignored --nocapture"]
async fn ops_per_second_on_one_connection() {
    let server = common::start().await;
    let addr = server.local_addr().to_string();
    let client =
        Client::builder().addr(addr).request_timeout(common::WAIT).connect().await.unwrap();
    measure(&client, 16).await; // warm-up
    for tasks in [1, 16, 256] {
        let rate = measure(&client, tasks).await;
        println!("{tasks:>4} tasks, 1 connection: {rate:>10.0} ops/s");
    }
    let m = client.metrics();
    println!("latency p50 {:?} p99 {:?} max {:?}", m.latency.p50, m.latency.p99, m.latency.max);
    server.shutdown().await;
}
