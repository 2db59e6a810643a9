//! The router answers the connection commands itself, through the same code as a server
//! but with its own environment: COMMAND lists what the router runs, CONFIG and INFO are
//! the router's, CLIENT and MONITOR see the router's connections.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::{Text, one_node_map, start};
use shale::router::{Router, RouterConfig};

#[tokio::test]
async fn router_answers_connection_commands_for_itself() {
    let node = start().await;
    let addr = node.local_addr();
    let map = one_node_map("map.json", addr);
    let router = Router::start(RouterConfig::loopback(0, &map)).await.unwrap();
    let port = router.local_addr().port();
    let mut c = Text::connect(router.local_addr()).await;
    c.roundtrip(b"PING\r\n", b"+PONG\r\n").await;
    let want = format!("*2\r\n$4\r\nport\r\n${}\r\n{port}\r\n", port.to_string().len());
    c.roundtrip(b"CONFIG GET port\r\n", want.as_bytes()).await;
    // The router's own settings change while it serves.
    c.roundtrip(b"CONFIG SET read-timeout 100ms write-ack quorum\r\n", b"+OK\r\n").await;
    let want = b"*4\r\n$12\r\nread-timeout\r\n$5\r\n100ms\r\n$9\r\nwrite-ack\r\n$6\r\nquorum\r\n";
    c.roundtrip(b"CONFIG GET read-timeout write-ack\r\n", want).await;
    c.send(b"CONFIG SET read-policy fastest\r\n").await;
    let err = String::from_utf8(c.read_until(b"\r\n").await).unwrap();
    assert!(err.starts_with("-ERR CONFIG SET failed") && err.contains("read-policy"), "{err}");

    // COMMAND knows what the router runs, by each command's declared route: data commands
    // (EXPIRE on a coordinator) yes, node-to-node operations no.
    c.send(b"COMMAND COUNT\r\n").await;
    let count = String::from_utf8(c.read_until(b"\r\n").await).unwrap();
    let count: usize = count.trim_start_matches(':').trim().parse().unwrap();
    assert!(count < shale::cmd::COMMANDS.len() && count > 10, "{count}");
    c.send(b"COMMAND INFO get expire dbsize vset\r\n").await;
    c.read_until(b"$3\r\nget\r\n").await;
    c.read_until(b"$6\r\nexpire\r\n").await;
    c.read_until(b"$6\r\ndbsize\r\n").await;
    c.read_until(b"$-1\r\n").await;
    let internal = b"-ERR 'vset' is not supported through the router: a node-to-node operation\r\n";
    c.roundtrip(b"VSET k v 0 1\r\n", internal).await;

    // The router's INFO: shared sections plus its own counters and nodes.
    c.send(b"INFO\r\n").await;
    let info = String::from_utf8(c.read_until(b"# Nodes\r\nnode_n1:addr=").await).unwrap();
    for field in ["role:router", "arch_bits:", "cluster_enabled:0", "requests:", "num_shards:1"] {
        assert!(info.contains(field), "{field} in {info}");
    }
    c.read_until(b"\r\n\r\n").await;
    // A section without the keyspace is the router's alone, answered at once.
    c.send(b"INFO server\r\n").await;
    let server = String::from_utf8(c.read_until(b"role:router\r\n\r\n").await).unwrap();
    assert!(!server.contains("# Keyspace"), "{server}");

    // MONITOR on the router shows what its clients send.
    let mut m = Text::connect(router.local_addr()).await;
    m.roundtrip(b"MONITOR\r\n", b"+OK\r\n").await;
    c.roundtrip(b"SET k v\r\n", b"+OK\r\n").await;
    let line = String::from_utf8(m.read_until(b"\r\n").await).unwrap();
    assert!(line.ends_with("\"SET\" \"k\" \"v\"\r\n"), "{line}");
    c.send(b"CLIENT LIST\r\n").await;
    let list = String::from_utf8(c.read_until(b"\n\r\n").await).unwrap();
    assert_eq!(list.matches(" addr=").count(), 2, "{list}");
    assert!(list.contains(" flags=O "), "the monitor is flagged: {list}");
    router.shutdown().await;
    node.shutdown().await;
}
