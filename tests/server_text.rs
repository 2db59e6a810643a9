//! Redis text (inline and RESP2) end to end over real TCP, byte for byte as redis-cli,
//! redis-benchmark and redis-py see it.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::{Text, start};

#[tokio::test]
async fn inline_commands_like_telnet() {
    let server = start().await;
    let mut c = Text::connect(server.local_addr()).await;
    c.roundtrip(b"PING\r\n", b"+PONG\r\n").await;
    c.roundtrip(b"ping hello\n", b"$5\r\nhello\r\n").await;
    c.roundtrip(b"set greeting \"hello world\"\r\n", b"+OK\r\n").await;
    c.roundtrip(b"get greeting\r\n", b"$11\r\nhello world\r\n").await;
    c.roundtrip(b"\r\n\r\nget missing\r\n", b"$-1\r\n").await;
    server.shutdown().await;
}

#[tokio::test]
async fn resp_commands_like_redis_cli() {
    let server = start().await;
    let mut c = Text::connect(server.local_addr()).await;
    c.roundtrip(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", b"+OK\r\n").await;
    c.roundtrip(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", b"$1\r\nv\r\n").await;
    c.roundtrip(b"*3\r\n$6\r\nEXISTS\r\n$1\r\nk\r\n$1\r\nx\r\n", b":1\r\n").await;
    c.roundtrip(b"*5\r\n$4\r\nMSET\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n", b"+OK\r\n")
        .await;
    c.roundtrip(
        b"*4\r\n$4\r\nMGET\r\n$1\r\na\r\n$1\r\nz\r\n$1\r\nb\r\n",
        b"*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n",
    )
    .await;
    c.roundtrip(b"DBSIZE\r\n", b":3\r\n").await;
    c.roundtrip(b"DEL a b z\r\n", b":2\r\n").await;
    c.roundtrip(b"FLUSHALL\r\n", b"+OK\r\n").await;
    c.roundtrip(b"DBSIZE\r\n", b":0\r\n").await;
    c.roundtrip(b"ECHO hi\r\n", b"$2\r\nhi\r\n").await;
    server.shutdown().await;
}

#[tokio::test]
async fn ttl_family() {
    let server = start().await;
    let mut c = Text::connect(server.local_addr()).await;
    c.roundtrip(b"TTL k\r\n", b":-2\r\n").await;
    c.roundtrip(b"SET k v EX 100\r\n", b"+OK\r\n").await;
    c.roundtrip(b"TTL k\r\n", b":100\r\n").await;
    c.roundtrip(b"PERSIST k\r\n", b":1\r\n").await;
    c.roundtrip(b"PTTL k\r\n", b":-1\r\n").await;
    c.roundtrip(b"EXPIRE k 50\r\n", b":1\r\n").await;
    c.roundtrip(b"TTL k\r\n", b":50\r\n").await;
    c.roundtrip(b"SET k v2 NX\r\n", b"$-1\r\n").await;
    c.roundtrip(b"SET k v3 XX PX 5000\r\n", b"+OK\r\n").await;
    c.roundtrip(b"TTL k\r\n", b":5\r\n").await;
    c.roundtrip(b"EXPIRE k 0\r\n", b":1\r\n").await;
    c.roundtrip(b"GET k\r\n", b"$-1\r\n").await;
    c.roundtrip(b"SET k v EX 0\r\n", b"-ERR invalid expire time in 'set' command\r\n").await;
    server.shutdown().await;
}

#[tokio::test]
async fn errors_keep_the_connection_open() {
    let server = start().await;
    let mut c = Text::connect(server.local_addr()).await;
    c.roundtrip(
        b"FOO bar\r\n",
        b"-ERR unknown command 'FOO', with args beginning with: 'bar' \r\n",
    )
    .await;
    c.roundtrip(b"GET\r\n", b"-ERR wrong number of arguments for 'get' command\r\n").await;
    c.roundtrip(b"SET k v NX XX\r\n", b"-ERR syntax error\r\n").await;
    c.roundtrip(b"GET \"\"\r\n", b"-ERR empty key\r\n").await;
    c.roundtrip(b"PING\r\n", b"+PONG\r\n").await;
    server.shutdown().await;
}

#[tokio::test]
async fn client_handshakes_are_answered() {
    let server = start().await;
    let mut c = Text::connect(server.local_addr()).await;
    c.roundtrip(b"CONFIG GET save\r\n", b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n").await;
    c.roundtrip(b"CONFIG GET appendonly\r\n", b"*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n").await;
    c.roundtrip(b"CLIENT SETNAME app\r\n", b"+OK\r\n").await;
    c.roundtrip(b"CLIENT GETNAME\r\n", b"$3\r\napp\r\n").await;
    c.roundtrip(b"CLIENT SETINFO LIB-NAME redis-py\r\n", b"+OK\r\n").await;
    c.roundtrip(b"SELECT 0\r\n", b"+OK\r\n").await;
    c.roundtrip(b"SELECT 1\r\n", b"-ERR DB index is out of range\r\n").await;
    c.roundtrip(b"COMMAND DOCS nosuch\r\n", b"*0\r\n").await;
    c.send(b"HELLO 2\r\n").await;
    c.expect(b"*14\r\n$6\r\nserver\r\n$5\r\nshale\r\n").await;
    server.shutdown().await;
}

#[tokio::test]
async fn hello_3_switches_to_resp3() {
    let server = start().await;
    let mut c = Text::connect(server.local_addr()).await;
    c.send(b"HELLO 3\r\n").await;
    c.expect(b"%7\r\n$6\r\nserver\r\n$5\r\nshale\r\n").await;
    c.send(b"HELLO 3\r\nGET missing\r\nHELLO 2\r\nGET missing\r\n").await;
    let _ = c.read_until(b"_\r\n").await;
    let _ = c.read_until(b"$-1\r\n").await;
    server.shutdown().await;
}

#[tokio::test]
async fn info_reports_the_contract_fields() {
    let server = start().await;
    let mut c = Text::connect(server.local_addr()).await;
    c.roundtrip(b"SET k v\r\n", b"+OK\r\n").await;
    c.send(b"INFO\r\nQUIT\r\n").await;
    let all = String::from_utf8(c.read_to_close().await).unwrap();
    for field in [
        "keys:1",
        "expired_keys:",
        "get_hits:",
        "get_misses:",
        "commands:",
        "connections:1",
        "used_memory:",
        "sweep_last_pass_ms:",
    ] {
        assert!(all.contains(&format!("\r\n{field}")), "{field} missing in {all}");
    }
    assert!(all.ends_with("+OK\r\n"), "QUIT answers OK then closes");
    server.shutdown().await;
}

#[tokio::test]
async fn protocol_errors_reply_then_close() {
    let server = start().await;
    let mut c = Text::connect(server.local_addr()).await;
    c.send(b"*abc\r\n").await;
    let got = c.read_to_close().await;
    assert!(got.starts_with(b"-ERR Protocol error"), "{}", String::from_utf8_lossy(&got));
    let mut c = Text::connect(server.local_addr()).await;
    c.send(b"*1\r\n$4000000000\r\n").await;
    let got = c.read_to_close().await;
    assert!(got.starts_with(b"-ERR Protocol error"), "{}", String::from_utf8_lossy(&got));
    server.shutdown().await;
}

#[tokio::test]
async fn cross_protocol_requests_are_dropped() {
    let server = start().await;
    for req in [&b"POST / HTTP/1.1\r\n"[..], b"Host: example\r\n"] {
        let mut c = Text::connect(server.local_addr()).await;
        c.send(req).await;
        assert!(c.read_to_close().await.is_empty(), "closed without a reply");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn mixed_inline_and_resp_pipeline() {
    let server = start().await;
    let mut c = Text::connect(server.local_addr()).await;
    c.send(b"SET a 1\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\nPING\r\n").await;
    c.expect(b"+OK\r\n$1\r\n1\r\n+PONG\r\n").await;
    server.shutdown().await;
}

#[tokio::test]
async fn text_connection_over_limit_gets_err() {
    let server = common::start_with(|c| c.net.max_connections = 1).await;
    let mut a = Text::connect(server.local_addr()).await;
    a.roundtrip(b"PING\r\n", b"+PONG\r\n").await;
    let mut b = Text::connect(server.local_addr()).await;
    b.send(b"PING\r\n").await;
    let got = b.read_to_close().await;
    assert_eq!(&got[..], b"-ERR max number of clients reached\r\n");
    server.shutdown().await;
}

/// Requests are decoded in runs (`net::PREPARE_RUN`) and their keys prefetched together;
/// replies must still follow every request in order across run boundaries, and whatever ends
/// a run early (QUIT, a protocol error) must come after the replies to what preceded it.
#[tokio::test]
async fn long_pipelines_end_in_order_at_quit_or_a_protocol_error() {
    let server = start().await;
    let (mut req, mut want) = (Vec::new(), Vec::new());
    for i in 0..40 {
        req.extend_from_slice(format!("SET k{i} v{i}\r\nGET k{}\r\n", i / 2).as_bytes());
        let value = format!("v{}", i / 2);
        want.extend_from_slice(format!("+OK\r\n${}\r\n{value}\r\n", value.len()).as_bytes());
    }
    for (end, reply) in [(&b"QUIT\r\n"[..], &b"+OK\r\n"[..]), (b"*abc\r\n", b"-ERR Protocol error")]
    {
        let mut c = Text::connect(server.local_addr()).await;
        let mut bytes = req.clone();
        bytes.extend_from_slice(end);
        bytes.extend_from_slice(b"PING\r\nPING\r\n");
        c.send(&bytes).await;
        let got = c.read_to_close().await;
        let text = String::from_utf8_lossy(&got);
        assert!(got.starts_with(&want), "{text}");
        assert!(got[want.len()..].starts_with(reply), "{text}");
        assert!(!text.contains("PONG"), "{text}");
    }
    server.shutdown().await;
}

/// A pipelined turn's replies are written after a yield, once the worker's other ready
/// connections have had their turn (`net::connection`); they must still come while other
/// pipelining clients keep the worker busy all the while.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_replies_come_while_other_clients_keep_the_worker_busy() {
    let server = common::start_with(|c| c.net.worker_threads = 1).await;
    let addr = server.local_addr();
    let busy: Vec<_> = (0..4)
        .map(|_| {
            tokio::spawn(async move {
                let mut c = Text::connect(addr).await;
                for _ in 0..200 {
                    c.send(&b"PING\r\n".repeat(16)).await;
                    c.expect(&b"+PONG\r\n".repeat(16)).await;
                }
            })
        })
        .collect();
    let mut c = Text::connect(addr).await;
    for i in 0..100 {
        let set = format!("SET k v{i}\r\nGET k\r\n");
        let want = format!("+OK\r\n${}\r\nv{i}\r\n", format!("v{i}").len());
        c.roundtrip(set.as_bytes(), want.as_bytes()).await;
    }
    for b in busy {
        b.await.unwrap();
    }
    server.shutdown().await;
}
