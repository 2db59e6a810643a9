//! Client operations against an in-process server: every method, argument types,
//! client-side limit checks, server error statuses, pipelines, per-call timeouts,
//! failover, pools and metrics.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use common::WAIT;
use shale::client::{Client, Error, TtlState, Value};
use shale::protocol::{Limits, Status};
use shale::server::Server;

async fn client_for(server: &Server) -> Client {
    let addr = server.local_addr().to_string();
    Client::builder().addr(addr).request_timeout(WAIT).connect().await.expect("connects")
}

/// An address nothing listens on: bound, then released.
async fn dead_addr() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    listener.local_addr().expect("has an address").to_string()
}

#[tokio::test]
async fn every_method_round_trips() {
    let server = common::start().await;
    let c = client_for(&server).await;
    assert_eq!(c.get("k").await.unwrap(), None);
    c.set("k", "v1").await.unwrap();
    assert_eq!(c.get("k").await.unwrap(), Some(Bytes::from_static(b"v1")));
    assert_eq!(c.ttl("k").await.unwrap(), Some(None));
    assert_eq!(c.ttl_state("k").await.unwrap(), TtlState::Persistent);
    c.set_ttl("k", "v2", Duration::from_secs(100)).await.unwrap();
    assert_eq!(c.get("k").await.unwrap().as_deref(), Some(&b"v2"[..]));
    let left = c.ttl("k").await.unwrap().flatten().expect("expires");
    assert!(left > Duration::from_secs(90) && left <= Duration::from_secs(100), "{left:?}");
    assert!(matches!(c.ttl_state("k").await.unwrap(), TtlState::Expires(_)));
    // SET without TTL clears the expiry.
    c.set("k", "v3").await.unwrap();
    assert_eq!(c.ttl("k").await.unwrap(), Some(None));
    assert!(c.del("k").await.unwrap());
    assert!(!c.del("k").await.unwrap());
    assert_eq!(c.ttl("k").await.unwrap(), None);
    assert_eq!(c.ttl_state("k").await.unwrap(), TtlState::Missing);
    assert!(c.ping().await.unwrap() < WAIT);
    let stats = c.stats().await.unwrap();
    assert_eq!(stats.get_u64("keys"), Some(0));
    assert!(stats.get_u64("commands").is_some_and(|n| n > 0));
    server.shutdown().await;
}

#[tokio::test]
async fn short_ttl_expires() {
    let server = common::start().await;
    let c = client_for(&server).await;
    c.set_ttl("brief", "v", Duration::from_millis(30)).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while c.get("brief").await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "key never expired");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(c.ttl("brief").await.unwrap(), None);
}

#[tokio::test]
async fn keys_and_values_accept_common_byte_types() {
    let server = common::start().await;
    let c = client_for(&server).await;
    let borrowed = vec![0u8, 1, 2, 255];
    c.set("str", String::from("owned")).await.unwrap();
    c.set(&b"static-bytes"[..], vec![0u8, 0, 0]).await.unwrap();
    c.set(String::from("string"), Bytes::from_static(b"bytes")).await.unwrap();
    c.set(Bytes::copy_from_slice(&borrowed), Bytes::copy_from_slice(&borrowed)).await.unwrap();
    assert_eq!(c.get("str").await.unwrap().as_deref(), Some(&b"owned"[..]));
    assert_eq!(c.get(&b"static-bytes"[..]).await.unwrap().as_deref(), Some(&[0u8, 0, 0][..]));
    assert_eq!(
        c.get(vec![b's', b't', b'r', b'i', b'n', b'g']).await.unwrap().as_deref(),
        Some(&b"bytes"[..])
    );
    let got = c.get(Bytes::copy_from_slice(&borrowed)).await.unwrap();
    assert_eq!(got.as_deref(), Some(&borrowed[..]));
    // A value at the default limit (1 MiB) goes through in one piece.
    let big = Bytes::from(vec![7u8; 1024 * 1024]);
    c.set("big", big.clone()).await.unwrap();
    assert_eq!(c.get("big").await.unwrap(), Some(big));
}

#[tokio::test]
async fn limits_are_checked_before_sending() {
    // Nothing listens on this address: reaching the network would be a Connect error.
    let limits = Limits { max_key_size: 4, max_value_size: 8 };
    let c = Client::builder().addr(dead_addr().await).limits(limits).build().unwrap();
    let e = c.get("12345").await.unwrap_err();
    assert!(matches!(e, Error::KeyTooLarge { len: 5, max: 4 }), "{e}");
    let e = c.set("k", "123456789").await.unwrap_err();
    assert!(matches!(e, Error::ValueTooLarge { len: 9, max: 8 }), "{e}");
    let e = c.del("").await.unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
    let e = c.set_ttl("k", "v", Duration::ZERO).await.unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
    assert!(!e.is_retryable());
    assert_eq!(c.metrics().requests, 0, "nothing was sent");
    // Within limits, the call does reach the network (and fails to connect).
    assert!(c.get("1234").await.unwrap_err().is_connection_error());
}

#[tokio::test]
async fn server_error_status_is_typed_and_keeps_the_connection() {
    let server = common::start_with(|cfg| cfg.net.limits.max_value_size = 16).await;
    let c = client_for(&server).await;
    let e = c.set("k", vec![0u8; 100]).await.unwrap_err();
    assert_eq!(e.status(), Some(Status::ValueTooLarge), "{e}");
    assert!(e.message().is_some_and(|m| !m.is_empty()));
    assert!(!e.is_retryable() && !e.is_connection_error());
    c.set("k", "fits").await.unwrap();
    assert_eq!(server.net_stats().accepted.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn pipeline_results_come_back_in_order() {
    let server = common::start().await;
    let c = client_for(&server).await;
    let results = c
        .pipeline()
        .set("a", "1")
        .set_ttl("b", "2", Duration::from_secs(60))
        .get("a")
        .get("") // fails the client-side check; the rest still runs
        .del("a")
        .get("a")
        .ttl("b")
        .ping()
        .stats()
        .execute()
        .await
        .unwrap();
    assert_eq!(results.len(), 9);
    assert!(matches!(results[0], Ok(Value::Set)));
    assert!(matches!(results[1], Ok(Value::Set)));
    assert_eq!(results[2].as_ref().ok(), Some(&Value::Get(Some("1".into()))));
    assert!(matches!(results[3], Err(Error::InvalidArgument(_))));
    assert_eq!(results[4].as_ref().ok(), Some(&Value::Del(true)));
    assert_eq!(results[5].as_ref().ok(), Some(&Value::Get(None)));
    assert!(matches!(results[6], Ok(Value::Ttl(TtlState::Expires(_)))));
    assert!(matches!(results[7], Ok(Value::Ping(_))));
    assert!(matches!(&results[8], Ok(Value::Stats(s)) if s.get_u64("keys") == Some(1)));
}

#[tokio::test]
async fn large_pipeline_and_empty_pipeline() {
    let server = common::start().await;
    let c = client_for(&server).await;
    let mut p = c.pipeline();
    for i in 0..500 {
        p = p.set(format!("k{i}"), format!("v{i}")).get(format!("k{i}"));
    }
    assert_eq!(p.len(), 1000);
    let results = p.execute().await.unwrap();
    for (i, pair) in results.chunks(2).enumerate() {
        assert!(matches!(pair[0], Ok(Value::Set)));
        assert_eq!(pair[1].as_ref().ok(), Some(&Value::Get(Some(format!("v{i}").into()))));
    }
    assert!(c.pipeline().execute().await.unwrap().is_empty());
}

#[tokio::test]
async fn with_timeout_overrides_the_deadline_and_shares_connections() {
    let server = common::start().await;
    let c = client_for(&server).await;
    let quick = c.with_timeout(Duration::from_millis(1234));
    assert_eq!(quick.timeout(), Duration::from_millis(1234));
    assert_eq!(c.timeout(), WAIT);
    quick.set("k", "v").await.unwrap();
    assert_eq!(c.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(server.net_stats().accepted.load(Ordering::Relaxed), 1);
    assert_eq!(c.metrics().requests, 2, "metrics are shared by handles");
}

#[tokio::test]
async fn fails_over_to_the_next_address_in_order() {
    let server = common::start().await;
    let c = Client::builder()
        .addr(dead_addr().await)
        .addr(server.local_addr().to_string())
        .request_timeout(WAIT)
        .connect()
        .await
        .expect("the second address is up");
    c.set("k", "v").await.unwrap();
    assert_eq!(c.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
}

#[tokio::test]
async fn connect_fails_when_no_address_is_reachable() {
    let e = Client::connect(dead_addr().await).await.unwrap_err();
    assert!(matches!(e, Error::Connect { .. }) && e.is_connection_error(), "{e}");
    assert!(matches!(Client::builder().build(), Err(Error::NoAddresses)));
    let zero = Client::builder().addr("127.0.0.1:1").connections_per_addr(0).build();
    assert!(matches!(zero, Err(Error::InvalidArgument(_))));
}

#[tokio::test]
async fn pool_opens_all_connections_and_spreads_requests() {
    let server = common::start().await;
    let addr = server.local_addr().to_string();
    let c = Client::builder().addr(addr).connections_per_addr(4).request_timeout(WAIT);
    let c = c.connect().await.unwrap();
    let stats = server.net_stats().clone();
    let mut rounds = 0;
    while stats.accepted.load(Ordering::Relaxed) < 4 && rounds < 1000 {
        c.ping().await.unwrap();
        rounds += 1;
    }
    assert_eq!(stats.accepted.load(Ordering::Relaxed), 4, "after {rounds} pings");
}

#[tokio::test]
async fn metrics_count_requests_errors_and_latency() {
    let server = common::start().await;
    let c = client_for(&server).await;
    for i in 0..10 {
        c.set(format!("k{i}"), "v").await.unwrap();
    }
    let _ = c.set("k", vec![0u8; 2 * 1024 * 1024]).await; // client-side error: not counted
    let m = c.metrics();
    assert_eq!((m.requests, m.errors, m.timeouts, m.reconnects), (10, 0, 0, 0));
    assert!(m.latency.max > Duration::ZERO && m.latency.p50 <= m.latency.p99);
    assert!(m.latency.p99 <= m.latency.max && m.latency.mean <= m.latency.max);
}

#[test]
fn handles_and_their_futures_are_send_and_sync() {
    fn shareable<T: Send + Sync>() {}
    fn sendable<T: Send>(_: &T) {}
    shareable::<Client>();
    shareable::<shale::client::blocking::Client>();
    shareable::<shale::client::Pool>();
    shareable::<shale::client::Connection>();
    shareable::<Error>();
    // Building is lazy, so no runtime is needed to check the futures' types.
    let c = Client::builder().addr("127.0.0.1:1").build().unwrap();
    sendable(&c.get("k"));
    sendable(&c.set("k", "v"));
    sendable(&c.pipeline().get("k").execute());
}
