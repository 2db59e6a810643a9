//! The connection and introspection commands over real TCP, in RESP2 and RESP3: HELLO,
//! CLIENT, CONFIG (with settings that take effect), COMMAND, INFO, MONITOR, SLOWLOG, and
//! the binary CMD opcode through the client. Replies are Redis 7's (checked against
//! redis-server 7.0 by hand; see the report of the change that added them).
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::{Text, start};
use shale::client::{Client, RespValue, Value};
use shale::protocol::Status;

/// The `id=` of a CLIENT INFO / CLIENT LIST line.
fn id_of(line: &str) -> u64 {
    line.split_whitespace().find_map(|f| f.strip_prefix("id=")).unwrap().parse().unwrap()
}

async fn client_info(c: &mut Text) -> String {
    c.send(b"CLIENT INFO\r\n").await;
    String::from_utf8(c.read_until(b"\n\r\n").await).unwrap()
}

#[tokio::test]
async fn config_get_is_an_array_in_resp2_and_a_map_in_resp3() {
    let server = start().await;
    let mut c = Text::connect(server.local_addr()).await;
    c.roundtrip(b"CONFIG GET maxmemory\r\n", b"*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n").await;
    c.send(b"HELLO 3\r\n").await;
    c.read_until(b"modules\r\n*0\r\n").await;
    c.roundtrip(b"CONFIG GET maxmemory\r\n", b"%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n").await;
    c.roundtrip(b"CONFIG GET nosuch\r\n", b"%0\r\n").await;
    // COMMAND INFO's flags, tips, key specs and subcommands are sets in RESP3.
    c.send(b"COMMAND INFO ping\r\n").await;
    c.expect(b"*1\r\n*10\r\n$4\r\nping\r\n:-1\r\n~1\r\n+fast\r\n:0\r\n:0\r\n:0\r\n").await;
    c.expect(b"~2\r\n+@fast\r\n+@connection\r\n~2\r\n$25\r\nrequest_policy:all_shards\r\n").await;
    c.expect(b"$29\r\nresponse_policy:all_succeeded\r\n~0\r\n~0\r\n").await;
    c.roundtrip(b"INFO cluster\r\n", b"=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n").await;
    // INFO and CLIENT INFO are verbatim text in RESP3, bulk strings in RESP2.
    c.send(b"CLIENT INFO\r\n").await;
    c.read_until(b"txt:id=").await;
    c.read_until(b"\r\n").await;
    c.roundtrip(b"HELLO 4\r\n", b"-NOPROTO unsupported protocol version\r\n").await;
    server.shutdown().await;
}

#[tokio::test]
async fn config_set_changes_the_running_server() {
    let server = start().await;
    let addr = server.local_addr();
    let mut c = Text::connect(addr).await;
    c.roundtrip(b"CONFIG SET maxmemory 1mb maxmemory-policy allkeys-lru\r\n", b"+OK\r\n").await;
    assert_eq!(server.store().maxmemory(), 1024 * 1024);
    assert_eq!(server.store().eviction(), shale::store::EvictionPolicy::Clock);
    c.send(b"INFO memory\r\n").await;
    // The section's last line, then the bulk string's own CRLF.
    let info =
        String::from_utf8(c.read_until(b"maxmemory_policy:allkeys-lru\r\n\r\n").await).unwrap();
    assert!(info.contains("\r\nmaxmemory:1048576\r\n"), "{info}");
    let bad = "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - \
               shale supports noeviction and allkeys-lru, not volatile-lru\r\n";
    c.roundtrip(b"CONFIG SET maxmemory-policy volatile-lru\r\n", bad.as_bytes()).await;

    // A password set at run time binds new connections; this one stays authenticated.
    c.roundtrip(b"CONFIG SET requirepass s3cret\r\n", b"+OK\r\n").await;
    let mut late = Text::connect(addr).await;
    late.roundtrip(b"PING\r\n", b"-NOAUTH Authentication required.\r\n").await;
    late.roundtrip(b"AUTH s3cret\r\n", b"+OK\r\n").await;
    c.roundtrip(b"PING\r\n", b"+PONG\r\n").await;
    c.roundtrip(b"CONFIG GET requirepass\r\n", b"*0\r\n").await;
    c.roundtrip(b"CONFIG SET requirepass \"\"\r\n", b"+OK\r\n").await;
    Text::connect(addr).await.roundtrip(b"PING\r\n", b"+PONG\r\n").await;

    // maxclients: with two connections open, a third is refused.
    c.roundtrip(b"CONFIG SET maxclients 2\r\n", b"+OK\r\n").await;
    let mut third = Text::connect(addr).await;
    third.send(b"PING\r\n").await;
    assert_eq!(third.read_to_close().await, b"-ERR max number of clients reached\r\n");
    c.roundtrip(b"CONFIG SET maxclients 100\r\n", b"+OK\r\n").await;

    // timeout: an idle connection is closed after it (one second at least).
    c.roundtrip(b"CONFIG SET timeout 1\r\n", b"+OK\r\n").await;
    let mut idle = Text::connect(addr).await;
    idle.roundtrip(b"PING\r\n", b"+PONG\r\n").await;
    assert_eq!(idle.read_to_close().await, b"");
    server.shutdown().await;
}

#[tokio::test]
async fn client_list_and_kill_see_every_connection() {
    let server = start().await;
    let mut a = Text::connect(server.local_addr()).await;
    let mut b = Text::connect(server.local_addr()).await;
    a.roundtrip(b"CLIENT SETNAME alpha\r\n", b"+OK\r\n").await;
    let a_id = id_of(&client_info(&mut a).await);
    b.send(b"CLIENT LIST\r\n").await;
    let list = String::from_utf8(b.read_until(b"\n\r\n").await).unwrap();
    assert_eq!(list.matches(" addr=127.0.0.1:").count(), 2, "{list}");
    assert!(list.contains(&format!("id={a_id} ")) && list.contains(" name=alpha "), "{list}");
    assert!(list.contains(" cmd=client|list "), "the asking client's own command: {list}");
    b.roundtrip(format!("CLIENT KILL ID {a_id}\r\n").as_bytes(), b":1\r\n").await;
    assert_eq!(a.read_to_close().await, b"", "killed");
    b.roundtrip(b"CLIENT KILL 127.0.0.1:1\r\n", b"-ERR No such client\r\n").await;
    server.shutdown().await;
}

#[tokio::test]
async fn client_reply_off_and_skip_silence_replies() {
    let server = start().await;
    let mut c = Text::connect(server.local_addr()).await;
    c.send(b"CLIENT REPLY OFF\r\nPING\r\nSET k v\r\nCLIENT REPLY ON\r\nGET k\r\n").await;
    c.expect(b"+OK\r\n$1\r\nv\r\n").await;
    c.send(b"CLIENT REPLY SKIP\r\nECHO a\r\nECHO b\r\n").await;
    c.expect(b"$1\r\nb\r\n").await;
    c.send(b"CLIENT REPLY OFF\r\nNOSUCH\r\nCLIENT REPLY ON\r\n").await;
    c.expect(b"+OK\r\n").await;
    server.shutdown().await;
}

#[tokio::test]
async fn monitor_streams_other_clients_commands() {
    let server = start().await;
    let mut m = Text::connect(server.local_addr()).await;
    m.roundtrip(b"MONITOR\r\n", b"+OK\r\n").await;
    let mut c = Text::connect(server.local_addr()).await;
    c.roundtrip(b"CONFIG GET timeout\r\n", b"*2\r\n$7\r\ntimeout\r\n$3\r\n300\r\n").await;
    c.roundtrip(b"SET k \"a b\"\r\n", b"+OK\r\n").await;
    c.send(b"AUTH secret\r\n").await;
    c.read_until(b"\r\n").await;
    let line = String::from_utf8(m.read_until(b"\r\n").await).unwrap();
    // Arguments as the client sent them.
    assert!(line.starts_with('+') && line.ends_with("\"SET\" \"k\" \"a b\"\r\n"), "{line}");
    assert!(line.contains(" [0 127.0.0.1:"), "{line}");
    let auth = String::from_utf8(m.read_until(b"\r\n").await).unwrap();
    assert!(
        auth.ends_with("\"AUTH\" \"(redacted)\"\r\n"),
        "admin CONFIG hidden, AUTH redacted: {auth}"
    );
    m.roundtrip(b"GET k\r\n", b"-ERR Replica can't interact with the keyspace\r\n").await;
    m.roundtrip(b"RESET\r\n", b"+RESET\r\n").await;
    m.roundtrip(b"GET k\r\n", b"$3\r\na b\r\n").await;
    server.shutdown().await;
}

#[tokio::test]
async fn slowlog_records_commands_over_the_threshold() {
    let server = start().await;
    let mut c = Text::connect(server.local_addr()).await;
    // Off (so a loaded machine's stalls log nothing), emptied, then everything is slow.
    let off = b"CONFIG SET slowlog-log-slower-than -1\r\nSLOWLOG RESET\r\nSLOWLOG LEN\r\n";
    c.roundtrip(off, b"+OK\r\n+OK\r\n:0\r\n").await;
    c.roundtrip(b"CLIENT SETNAME app\r\n", b"+OK\r\n").await;
    c.roundtrip(b"CONFIG SET slowlog-log-slower-than 0\r\nSET k v\r\n", b"+OK\r\n+OK\r\n").await;
    c.send(b"SLOWLOG GET 1\r\n").await;
    // The newest entry is the SET: [id, time, micros, [args], addr, name].
    let entry = String::from_utf8(c.read_until(b"$3\r\napp\r\n").await).unwrap();
    assert!(entry.starts_with("*1\r\n*6\r\n:"), "{entry}");
    assert!(entry.contains("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"), "{entry}");
    c.roundtrip(off, b"+OK\r\n+OK\r\n:0\r\n").await;
    server.shutdown().await;
}

#[tokio::test]
async fn info_and_command_answer_for_every_command() {
    let server = start().await;
    let mut c = Text::connect(server.local_addr()).await;
    c.roundtrip(b"SET k v EX 100\r\nSET p v\r\n", b"+OK\r\n+OK\r\n").await;
    c.send(b"INFO\r\n").await;
    let info = String::from_utf8(c.read_until(b"# Keyspace\r\n").await).unwrap();
    for field in [
        "redis_version:",
        "arch_bits:64",
        "mem_allocator:",
        "connected_clients:1",
        "aof_enabled:0",
        "role:master",
        "used_cpu_sys:",
        "cluster_enabled:0",
    ] {
        assert!(info.contains(field), "{field} in {info}");
    }
    let keyspace = String::from_utf8(c.read_until(b"\r\n").await).unwrap();
    c.expect(b"\r\n").await; // the bulk string's end
    let avg: u64 = keyspace.split("avg_ttl=").nth(1).unwrap().trim().parse().unwrap();
    assert!(keyspace.starts_with("db0:keys=2,expires=1,avg_ttl="), "{keyspace}");
    assert!(avg > 0 && avg <= 100_000, "{keyspace}");
    let count = shale::cmd::COMMANDS.len();
    c.roundtrip(b"COMMAND COUNT\r\n", format!(":{count}\r\n").as_bytes()).await;
    c.roundtrip(b"COMMAND INFO nosuch\r\n", b"*1\r\n$-1\r\n").await;
    server.shutdown().await;
}

#[tokio::test]
async fn cmd_opcode_reaches_every_command_through_the_client() {
    let server = start().await;
    let client = Client::connect(server.local_addr().to_string()).await.unwrap();
    assert_eq!(client.cmd(&["SET", "k", "v"]).await.unwrap(), RespValue::Simple("OK".into()));
    assert_eq!(client.cmd(&["GET", "k"]).await.unwrap(), RespValue::Bulk("v".into()));
    assert_eq!(client.cmd(&["GET", "nope"]).await.unwrap(), RespValue::Nil);
    assert_eq!(client.cmd(&["EXISTS", "k", "k", "nope"]).await.unwrap(), RespValue::Int(2));
    let mget = client.cmd(&["MGET", "k", "nope"]).await.unwrap();
    assert_eq!(mget, RespValue::Array(vec![RespValue::Bulk("v".into()), RespValue::Nil]));
    let RespValue::Map(cfg) = client.cmd(&["CONFIG", "GET", "timeout"]).await.unwrap() else {
        panic!("RESP3 map")
    };
    assert_eq!(cfg, vec![(RespValue::Bulk("timeout".into()), RespValue::Bulk("300".into()))]);
    let RespValue::Verbatim { format, text } = client.cmd(&["CLIENT", "INFO"]).await.unwrap()
    else {
        panic!("verbatim")
    };
    assert_eq!(format, "txt");
    assert!(text.starts_with(b"id="));
    let RespValue::Array(info) = client.cmd(&["COMMAND", "INFO", "get"]).await.unwrap() else {
        panic!("array")
    };
    assert!(matches!(&info[0], RespValue::Array(e) if e.len() == 10));
    let err = client.cmd(&["NOSUCH", "x"]).await.unwrap_err();
    assert_eq!(err.status(), Some(Status::UnknownOpcode));
    assert_eq!(err.message(), Some("unknown command 'NOSUCH', with args beginning with: 'x' "));
    let err = client.cmd(&["MONITOR"]).await.unwrap_err();
    assert_eq!(err.message(), Some("MONITOR needs a Redis text connection"));
    let results = client.pipeline().cmd(&["PING"]).cmd(&["ECHO", "e"]).execute().await.unwrap();
    assert_eq!(results[1].as_ref().unwrap(), &Value::Cmd(RespValue::Bulk("e".into())));
    // The typed opcodes still answer as before on the same connection.
    assert_eq!(client.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    server.shutdown().await;
}

#[test]
fn cmd_from_the_blocking_client() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(start());
    let client = shale::client::blocking::Client::connect(server.local_addr().to_string()).unwrap();
    assert_eq!(client.cmd(&["ECHO", "hi"]).unwrap(), RespValue::Bulk("hi".into()));
    let RespValue::Array(time) = client.cmd(&["TIME"]).unwrap() else { panic!("array") };
    assert_eq!(time.len(), 2);
    drop(client);
    rt.block_on(server.shutdown());
}
