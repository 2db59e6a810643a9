//! Multiplexing: many tasks on one connection each get their own reply, and replies
//! that arrive out of order are matched by id.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::BytesMut;
use common::WAIT;
use shale::client::{Client, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_tasks_share_one_client() {
    let server = common::start().await;
    let addr = server.local_addr().to_string();
    let client = Client::builder().addr(addr).request_timeout(WAIT).connect().await.unwrap();
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                let (key, value) =
                    (format!("key-{i}"), format!("value-{i}-{}", "x".repeat(i % 64)));
                client.set(key.clone(), value.clone()).await.expect("set");
                let got = client.get(key).await.expect("get");
                assert_eq!(got.as_deref(), Some(value.as_bytes()), "task {i} got another reply");
            })
        })
        .collect();
    for task in tasks {
        tokio::time::timeout(WAIT, task).await.expect("task in time").expect("task ok");
    }
    // All of it went over the one connection.
    assert_eq!(server.net_stats().accepted.load(Ordering::Relaxed), 1);
    assert_eq!(client.metrics().requests, 2000);
    server.shutdown().await;
}

/// Reads `n` requests, then answers them in reverse order.
async fn reverse_server(n: usize) -> common::Fake {
    common::fake_server(move |_, mut stream| async move {
        let mut buf = BytesMut::new();
        while let Some(reqs) = common::read_requests(&mut stream, &mut buf, n).await {
            let replies: Vec<_> = reqs.iter().rev().map(common::answer).collect();
            common::write_replies(&mut stream, &replies).await;
        }
    })
    .await
}

#[tokio::test]
async fn out_of_order_replies_reach_their_callers() {
    const N: usize = 32;
    let fake = reverse_server(N).await;
    let client =
        Client::builder().addr(fake.addr.to_string()).request_timeout(WAIT).build().unwrap();
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let client = client.clone();
            // The fake answers GET with the key itself as the value.
            tokio::spawn(async move { (i, client.get(format!("key-{i}")).await) })
        })
        .collect();
    for task in tasks {
        let (i, got) = task.await.expect("task ok");
        assert_eq!(got.expect("a reply").as_deref(), Some(format!("key-{i}").as_bytes()));
    }
}

#[tokio::test]
async fn pipeline_results_stay_in_order_when_replies_do_not() {
    const N: usize = 8;
    let fake = reverse_server(N).await;
    let client =
        Client::builder().addr(fake.addr.to_string()).request_timeout(WAIT).build().unwrap();
    let mut pipeline = client.pipeline();
    for i in 0..N {
        pipeline = pipeline.get(format!("key-{i}"));
    }
    let results = pipeline.execute().await.expect("sent");
    for (i, r) in results.into_iter().enumerate() {
        assert_eq!(r.expect("a reply"), Value::Get(Some(format!("key-{i}").into())));
    }
}

#[tokio::test]
async fn one_connection_serves_interleaved_pipelines_and_calls() {
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let fake = common::fake_server(move |_, stream| {
        counter.fetch_add(1, Ordering::Relaxed);
        common::serve_answers(stream)
    })
    .await;
    let client =
        Client::builder().addr(fake.addr.to_string()).request_timeout(WAIT).build().unwrap();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                let key = format!("k{i}");
                let results =
                    client.pipeline().get(key.clone()).ping().get(key.clone()).execute().await;
                let results = results.expect("sent");
                assert_eq!(results[0].as_ref().ok(), Some(&Value::Get(Some(key.clone().into()))));
                assert_eq!(results[2].as_ref().ok(), Some(&Value::Get(Some(key.clone().into()))));
                assert_eq!(
                    client.get(key.clone()).await.expect("get").as_deref(),
                    Some(key.as_bytes())
                );
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task ok");
    }
    assert_eq!(accepted.load(Ordering::Relaxed), 1);
}
