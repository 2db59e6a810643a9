//! Authentication: NOAUTH before AUTH on both dialects, wrong and right passwords, HELLO
//! AUTH, the client library and CLI passwords, failed attempts logged without the password,
//! and protected mode refusing to start.

use std::process::Stdio;
use std::time::{Duration, Instant};

use shale::auth::Password;
use shale::client::{Client, Error};
use shale::net::NetStats;
use shale::protocol::Status;
use shale::server::Server;

use crate::common::{Bin, Proc, Text, WAIT, start_with, temp_file};
use crate::support::serial;

pub const PASSWORD: &str = "s3cret-pw";
const NOAUTH: &[u8] = b"-NOAUTH Authentication required.\r\n";
const WRONGPASS: &[u8] = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n";

pub fn password(p: &str) -> Option<Password> {
    Some(Password::new(p.to_owned()).unwrap())
}

async fn protected_server() -> Server {
    start_with(|c| c.password = password(PASSWORD)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_clients_must_authenticate_first() {
    let _serial = serial().await;
    let server = protected_server().await;
    let mut c = Text::connect(server.local_addr()).await;
    // Everything but AUTH, HELLO with AUTH and QUIT is refused, PING included (as in Redis).
    for cmd in ["PING", "GET k", "SET k v", "CONFIG GET requirepass", "DBSIZE", "INFO"] {
        c.roundtrip(format!("{cmd}\r\n").as_bytes(), NOAUTH).await;
    }
    // As in Redis, a command that does not parse is refused for that before auth matters.
    c.roundtrip(b"NOSUCHCMD\r\n", b"-ERR unknown command 'NOSUCHCMD'").await;
    c.read_until(b"\r\n").await;
    c.send(b"HELLO 3\r\n").await;
    let hello = c.read_until(b"\r\n").await;
    assert!(hello.starts_with(b"-NOAUTH HELLO must be called with the client already"));
    c.roundtrip(b"AUTH wrong\r\n", WRONGPASS).await;
    c.roundtrip(b"AUTH default wrong\r\n", WRONGPASS).await;
    c.roundtrip(format!("AUTH {PASSWORD}x\r\n").as_bytes(), WRONGPASS).await;
    c.roundtrip(b"GET k\r\n", NOAUTH).await;
    // AUTH and the next command in one write: the second sees the authenticated session.
    let pipelined = format!("AUTH {PASSWORD}\r\nSET k v\r\nGET k\r\n");
    c.roundtrip(pipelined.as_bytes(), b"+OK\r\n+OK\r\n$1\r\nv\r\n").await;
    // A failed AUTH does not undo an earlier success.
    c.roundtrip(b"AUTH wrong\r\nGET k\r\n", &[WRONGPASS, b"$1\r\nv\r\n"].concat()).await;
    // The password is never shown back.
    c.send(b"CONFIG GET *\r\nCONFIG GET requirepass\r\nINFO\r\nPING\r\n").await;
    let shown = c.read_until(b"+PONG\r\n").await;
    let shown = String::from_utf8_lossy(&shown);
    assert!(!shown.contains(PASSWORD), "the password leaked: {shown}");
    assert!(shown.contains("*0\r\n"), "CONFIG GET requirepass answers nothing: {shown}");

    // QUIT needs no password; HELLO can authenticate by itself.
    let mut q = Text::connect(server.local_addr()).await;
    q.send(b"QUIT\r\n").await;
    assert_eq!(q.read_to_close().await, b"+OK\r\n");
    let mut h = Text::connect(server.local_addr()).await;
    h.roundtrip(b"HELLO 3 AUTH default nope\r\n", WRONGPASS).await;
    h.send(format!("HELLO 3 AUTH default {PASSWORD} SETNAME app\r\n").as_bytes()).await;
    let map = h.read_until(b"modules\r\n*0\r\n").await;
    assert!(map.starts_with(b"%7\r\n"), "a RESP3 map: {}", String::from_utf8_lossy(&map));
    h.roundtrip(b"CLIENT GETNAME\r\nGET nope\r\n", b"$3\r\napp\r\n_\r\n").await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_clients_must_authenticate_first() {
    let _serial = serial().await;
    let server = protected_server().await;
    let mut c = Bin::connect(server.local_addr()).await;
    for op in [0x01, 0x02, 0x03, 0x06] {
        let resp = c.call(op, b"k", b"v", 0).await;
        assert_eq!(resp.status(), Some(Status::NoAuth), "opcode {op}");
        assert_eq!(&resp.payload[..], b"Authentication required.");
    }
    let wrong = c.call(0x07, b"", b"wrong", 0).await;
    assert_eq!(wrong.status(), Some(Status::NoAuth), "a wrong password is NOAUTH in binary");
    assert_eq!(&wrong.payload[..], b"invalid username-password pair or user is disabled.");
    let right = c.call(0x07, b"", PASSWORD.as_bytes(), 0).await;
    assert_eq!((right.status(), right.payload.len()), (Some(Status::Ok), 0));
    assert_eq!(c.call(0x03, b"k", b"v", 0).await.status(), Some(Status::Ok));
    assert_eq!(&c.call(0x02, b"k", b"", 0).await.payload[..], b"v");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_get_small_limits_until_they_authenticate() {
    let _serial = serial().await;
    let server = protected_server().await;
    let value = "v".repeat(100 * 1024);
    let set = format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n{value}\r\n", value.len());
    // Before AUTH a 100 KiB bulk is a protocol error, not something to buffer.
    let mut stranger = Text::connect(server.local_addr()).await;
    stranger.send(set.as_bytes()).await;
    let last = stranger.read_to_close().await;
    assert!(last.starts_with(b"-ERR Protocol error: invalid bulk length"), "{last:?}");
    let mut bin = Bin::connect(server.local_addr()).await;
    bin.send(0x03, 1, b"k", value.as_bytes(), 0).await;
    let resp = bin.recv().await.expect("a last word");
    assert_eq!(resp.status(), Some(Status::FrameTooLarge));
    assert!(bin.recv().await.is_none(), "then closed");
    // After AUTH (even pipelined with it) the configured limits apply.
    let mut member = Text::connect(server.local_addr()).await;
    let auth_then_set = format!("AUTH {PASSWORD}\r\n{set}");
    member.roundtrip(auth_then_set.as_bytes(), b"+OK\r\n+OK\r\n").await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_library_authenticates_and_never_hammers_with_a_wrong_password() {
    let _serial = serial().await;
    let server = protected_server().await;
    let addr = server.local_addr().to_string();
    let good = Client::builder().addr(addr.clone()).password(PASSWORD).connect().await.unwrap();
    good.set("k", "v").await.unwrap();
    assert_eq!(good.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));

    let none = Client::connect(addr.clone()).await.unwrap();
    let err = none.get("k").await.unwrap_err();
    assert_eq!(err.status(), Some(Status::NoAuth), "{err}");

    let refused = Client::builder().addr(addr.clone()).password("wrong").connect().await;
    let err = refused.unwrap_err();
    assert!(matches!(err, Error::Auth { status: Status::NoAuth, .. }), "{err}");
    assert!(!err.is_retryable(), "the same password fails again");

    // A caller retrying in a tight loop must not turn into a connection storm.
    let before = NetStats::get(&server.net_stats().accepted);
    let wrong = Client::builder().addr(addr).password("wrong").build().unwrap();
    let started = Instant::now();
    let mut calls = 0;
    while started.elapsed() < Duration::from_secs(1) {
        let err = wrong.get("k").await.unwrap_err();
        assert!(matches!(err, Error::Auth { .. }), "{err}");
        calls += 1;
        tokio::task::yield_now().await;
    }
    let attempts = NetStats::get(&server.net_stats().accepted) - before;
    println!("[auth] wrong-password client: {calls} calls in 1 s made {attempts} connections");
    assert!(attempts <= 10, "connection attempts are backed off: {attempts}");
    server.shutdown().await;
}

#[tokio::test]
async fn failed_attempts_are_logged_with_the_peer_but_not_the_password() {
    let _serial = serial().await;
    let p = Proc::spawn(&["server", "--requirepass", PASSWORD]);
    let mut c = Text::connect(p.addr).await;
    c.roundtrip(b"AUTH guess-123\r\n", WRONGPASS).await;
    let line = p.wait_log("authentication failed");
    println!("[auth] logged: {line}");
    assert!(line.contains("WARN") && line.contains("peer=127.0.0.1:"), "{line}");
    assert!(!line.contains("guess-123") && !line.contains(PASSWORD), "{line}");
}

/// Runs `shale <args>` to completion (bounded), returning (success, stdout, stderr).
pub async fn run_shale(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_shale"));
    cmd.args(args).env_remove("SHALE_PASSWORD").envs(env.iter().copied());
    cmd.stdin(Stdio::null()).kill_on_drop(true);
    let out = tokio::time::timeout(WAIT, cmd.output()).await.expect("exits in time").unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_sends_the_password_on_both_connections() {
    let _serial = serial().await;
    let server = protected_server().await;
    let port = server.local_addr().port().to_string();
    let cli = |extra: &'static [&'static str]| {
        let mut args = vec!["cli", "-p", port.as_str()];
        args.extend_from_slice(extra);
        args
    };
    // SET goes over the binary connection, DBSIZE over the text one.
    let (ok, out, _) = run_shale(&cli(&["-a", PASSWORD, "SET", "k", "v"]), &[]).await;
    assert!(ok && out.trim() == "OK", "{out}");
    let (ok, out, _) = run_shale(&cli(&["DBSIZE"]), &[("SHALE_PASSWORD", PASSWORD)]).await;
    assert!(ok && out.trim() == "1", "{out}");
    let (ok, out, err) = run_shale(&cli(&["GET", "k"]), &[]).await;
    assert!(!ok && format!("{out}{err}").contains("NOAUTH"), "{out} {err}");
    let (ok, out, err) = run_shale(&cli(&["-a", "wrong", "DBSIZE"]), &[]).await;
    assert!(!ok && format!("{out}{err}").contains("AUTH failed: WRONGPASS"), "{out} {err}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_mode_refuses_public_addresses_without_a_password() {
    let _serial = serial().await;
    let map = temp_file("map.json", "{}");
    let map = map.to_str().unwrap();
    let cases: [&[&str]; 3] = [
        &["server", "--bind", "0.0.0.0", "--port", "0"],
        &["server", "--bind", "::", "--port", "0", "--protected-mode", "yes"],
        &["router", "--shardmap", map, "--bind", "0.0.0.0", "--port", "0"],
    ];
    for args in cases {
        let (ok, _, err) = run_shale(args, &[]).await;
        assert!(!ok, "{args:?} must not start");
        assert!(err.contains("protected mode: refusing to listen on"), "{args:?}: {err}");
        assert!(err.contains("--protected-mode no"), "the refusal says how to override");
    }
    let empty = temp_file("pw", "\n");
    let args = ["server", "--port", "0", "--requirepass-file", empty.to_str().unwrap()];
    let (ok, _, err) = run_shale(&args, &[]).await;
    assert!(!ok && err.contains("is empty"), "an empty password file is refused: {err}");
}
