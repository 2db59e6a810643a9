//! The blocking client from plain threads, and its refusal to run inside a runtime.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::time::Duration;

use shale::client::blocking::Client;
use shale::client::{Error, TtlState, Value};
use shale::server::{Server, ServerConfig};

/// A server on its own runtime, so the test thread stays outside any runtime.
fn server() -> (tokio::runtime::Runtime, Server) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let server = rt.block_on(Server::start(ServerConfig::loopback(0))).expect("server starts");
    (rt, server)
}

#[test]
fn blocking_client_basics_from_a_plain_thread() {
    let (rt, server) = server();
    let addr = server.local_addr().to_string();
    let worker = std::thread::spawn(move || {
        let c = Client::connect(addr).expect("connects");
        assert_eq!(c.get("k").unwrap(), None);
        c.set("k", "v").unwrap();
        assert_eq!(c.get("k").unwrap().as_deref(), Some(&b"v"[..]));
        assert_eq!(c.ttl("k").unwrap(), Some(None));
        c.set_ttl("t", "v", Duration::from_secs(60)).unwrap();
        assert!(matches!(c.ttl_state("t").unwrap(), TtlState::Expires(_)));
        assert!(c.del("k").unwrap());
        assert!(c.ping().unwrap() < common::WAIT);
        assert_eq!(c.stats().unwrap().get_u64("keys"), Some(1));
        let results = c.pipeline().set("p", "1").get("p").del("p").execute().unwrap();
        assert_eq!(results[1].as_ref().ok(), Some(&Value::Get(Some("1".into()))));
        let quick = c.with_timeout(Duration::from_millis(700));
        quick.set("q", "1").unwrap();
        assert_eq!(c.metrics().requests, 13);
    });
    worker.join().expect("worker thread passed");
    rt.block_on(server.shutdown());
}

#[test]
fn one_blocking_client_shared_by_threads() {
    let (rt, server) = server();
    let c = Client::connect(server.local_addr().to_string()).expect("connects");
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let c = c.clone();
            std::thread::spawn(move || {
                for i in 0..100 {
                    let (k, v) = (format!("t{t}-{i}"), format!("v{t}-{i}"));
                    c.set(k.clone(), v.clone()).unwrap();
                    assert_eq!(c.get(k).unwrap().as_deref(), Some(v.as_bytes()));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread passed");
    }
    assert_eq!(c.metrics().requests, 1600);
    drop(c);
    rt.block_on(server.shutdown());
}

#[tokio::test]
async fn blocking_client_refuses_to_run_inside_a_runtime() {
    let server = common::start().await;
    let e = Client::connect(server.local_addr().to_string()).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
}
