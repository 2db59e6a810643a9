//! `shale cli` through the real binary: one-shot commands, exit codes, the piped REPL,
//! `-x`, `--json`, `-r`, `--latency` and `SHALE_ADDR`, against in-process servers.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use common::WAIT;

/// What one `shale cli` run printed, and how it exited.
struct Run {
    stdout: Vec<u8>,
    stderr: String,
    code: Option<i32>,
}

impl Run {
    fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs `shale cli <args>` with `stdin` piped in and `env` set, bounded by [`WAIT`]. The
/// caller's own SHALE_ADDR is removed and history is off, so runs don't depend on the
/// machine.
async fn cli_env(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shale"))
        .arg("cli")
        .args(args)
        .env_remove("SHALE_ADDR")
        .env("SHALE_HISTFILE", "/dev/null")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    // Written from a task so a child that talks before reading can't deadlock us.
    tokio::spawn(async move {
        let _ = input.write_all(&data).await;
    });
    let out = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .expect("shale cli exits in time")
        .unwrap();
    Run {
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code(),
    }
}

/// `shale cli -p PORT <args>` against `addr`, with empty stdin.
async fn cli(addr: SocketAddr, args: &[&str]) -> Run {
    let port = addr.port().to_string();
    let mut all = vec!["-p", port.as_str()];
    all.extend_from_slice(args);
    cli_env(&all, b"", &[]).await
}

/// Runs and checks stdout and a zero exit status.
async fn expect(addr: SocketAddr, args: &[&str], stdout: &str) {
    let run = cli(addr, args).await;
    assert_eq!(run.out(), stdout, "{args:?} stderr: {}", run.stderr);
    assert_eq!(run.code, Some(0), "{args:?} stderr: {}", run.stderr);
}

#[tokio::test]
async fn one_shot_binary_commands_print_like_redis_cli() {
    let server = common::start().await;
    let a = server.local_addr();
    // (args, stdout) in order; --no-raw forces the terminal format on a pipe.
    let cases: &[(&[&str], &str)] = &[
        (&["set", "k", "v"], "OK\n"),
        (&["--no-raw", "get", "k"], "\"v\"\n"),
        (&["get", "k"], "v\n"),
        (&["--no-raw", "ttl", "k"], "(integer) -1\n"),
        (&["--no-raw", "ttl", "missing"], "(integer) -2\n"),
        (&["--no-raw", "del", "k"], "(integer) 1\n"),
        (&["del", "k"], "0\n"),
        // A miss is an answer, not an error: exit status 0.
        (&["--no-raw", "get", "k"], "(nil)\n"),
        (&["get", "k"], "\n"),
        (&["ping"], "PONG\n"),
        (&["--no-raw", "set", "q", "a\"b\n\x01"], "OK\n"),
        (&["--no-raw", "get", "q"], "\"a\\\"b\\n\\x01\"\n"),
    ];
    for (args, stdout) in cases {
        expect(a, args, stdout).await;
    }
    let stats = cli(a, &["--no-raw", "stats"]).await;
    assert_eq!(stats.code, Some(0));
    let lines: Vec<&str> =
        stats.stdout.split(|&b| b == b'\n').filter_map(|l| std::str::from_utf8(l).ok()).collect();
    assert!(lines.iter().any(|l| l.starts_with("keys:")), "{}", stats.out());
    assert!(lines.iter().filter(|l| !l.is_empty()).all(|l| l.contains(':')), "{}", stats.out());
    server.shutdown().await;
}

#[tokio::test]
async fn set_with_expiry_then_ttl_counts_down_from_ten() {
    let server = common::start().await;
    let a = server.local_addr();
    for set in [
        &["set", "k1", "v", "EX", "10"][..],
        &["set", "k2", "v", "--ttl", "10s"],
        &["set", "k3", "v", "px", "10000"],
    ] {
        expect(a, set, "OK\n").await;
    }
    for key in ["k1", "k2", "k3"] {
        let run = cli(a, &["ttl", key]).await;
        assert!(["10\n", "9\n"].contains(&run.out().as_str()), "{key}: {}", run.out());
    }
    server.shutdown().await;
}

#[tokio::test]
async fn other_commands_go_over_resp() {
    let server = common::start().await;
    let a = server.local_addr();
    expect(a, &["mset", "a", "1", "b", "2"], "OK\n").await;
    expect(a, &["--no-raw", "mget", "a", "b", "nope"], "1) \"1\"\n2) \"2\"\n3) (nil)\n").await;
    expect(a, &["mget", "a", "b", "nope"], "1\n2\n\n").await;
    expect(a, &["--no-raw", "dbsize"], "(integer) 2\n").await;
    expect(a, &["exists", "a", "b", "nope"], "2\n").await;
    expect(a, &["expire", "a", "5"], "1\n").await;
    // A binary-looking command with options the binary protocol lacks: sent as text.
    expect(a, &["set", "a", "x", "NX"], "\n").await;
    server.shutdown().await;
}

#[tokio::test]
async fn error_replies_and_refused_connections_exit_1() {
    let server = common::start().await;
    let a = server.local_addr();
    // Raw mode (a pipe): the error goes to stderr, as redis-cli -e does; stdout stays clean.
    let run = cli(a, &["nosuchcmd", "x"]).await;
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.is_empty(), "{}", run.out());
    assert!(run.stderr.starts_with("ERR unknown command 'nosuchcmd'"), "{}", run.stderr);
    // Terminal format: the error is printed like any reply.
    let run = cli(a, &["--no-raw", "set", "k", "v", "EX", "nope"]).await;
    assert_eq!(run.out(), "(error) ERR value is not an integer or out of range\n");
    assert_eq!(run.code, Some(1));
    server.shutdown().await;

    // Nothing listens on a port just released.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let refused: SocketAddr = ([127, 0, 0, 1], port).into();
    for args in [&["ping"][..], &["dbsize"]] {
        let run = cli(refused, args).await;
        assert_eq!(run.code, Some(1), "{args:?}");
        let want = format!("Could not connect to shale at 127.0.0.1:{port}: Connection refused\n");
        assert_eq!(run.stderr, want, "{args:?}");
        assert!(run.stdout.is_empty());
    }
}

#[tokio::test]
async fn repl_reads_commands_from_a_pipe() {
    let server = common::start().await;
    let port = server.local_addr().port().to_string();
    let script = b"set greeting \"hello world\"\nget greeting\n\nhelp set\n3 ping\nmget greeting nope\nquit\nget greeting\n";
    let run = cli_env(&["-p", &port, "--no-raw"], script, &[]).await;
    let out = run.out();
    // Replies only, in order; no prompts; nothing after quit.
    let want_start =
        "OK\n\"hello world\"\n\n  SET key value [EX seconds|PX ms|--ttl duration] [NX|XX]\n";
    assert!(out.starts_with(want_start), "{out}");
    assert!(out.ends_with("PONG\nPONG\nPONG\n1) \"hello world\"\n2) (nil)\n"), "{out}");
    assert!(!out.contains("> "), "{out}");
    assert_eq!(run.code, Some(0), "{}", run.stderr);

    // An error reply does not stop a piped session, but the exit status reports it.
    let run = cli_env(&["-p", &port], b"nosuch\nping\n", &[]).await;
    assert_eq!(run.out(), "PONG\n");
    assert!(run.stderr.starts_with("ERR unknown command"), "{}", run.stderr);
    assert_eq!(run.code, Some(1));
    server.shutdown().await;
}

#[tokio::test]
async fn x_sends_stdin_byte_exact() {
    let server = common::start().await;
    let port = server.local_addr().port().to_string();
    let all: Vec<u8> = (0..=255u8).collect();
    let run = cli_env(&["-p", &port, "-x", "set", "blob"], &all, &[]).await;
    assert_eq!((run.out().as_str(), run.code), ("OK\n", Some(0)), "{}", run.stderr);
    let run = cli_env(&["-p", &port, "--raw", "get", "blob"], b"", &[]).await;
    let mut want = all.clone();
    want.push(b'\n');
    assert_eq!(run.stdout, want);
    // A trailing newline in the input is data, not trimmed.
    cli_env(&["-p", &port, "-x", "set", "line"], b"text\n", &[]).await;
    let run = cli_env(&["-p", &port, "get", "line"], b"", &[]).await;
    assert_eq!(run.stdout, b"text\n\n");
    server.shutdown().await;
}

#[tokio::test]
async fn json_prints_one_value_per_reply() {
    let server = common::start().await;
    let a = server.local_addr();
    expect(a, &["--json", "set", "k", "v"], "\"OK\"\n").await;
    expect(a, &["--json", "get", "k"], "\"v\"\n").await;
    expect(a, &["--json", "get", "nope"], "null\n").await;
    expect(a, &["--json", "ttl", "k"], "-1\n").await;
    expect(a, &["--json", "mget", "k", "nope"], "[\"v\",null]\n").await;
    let run = cli(a, &["--json", "nosuch"]).await;
    assert!(run.out().starts_with("{\"error\":\"ERR unknown command"), "{}", run.out());
    assert_eq!(run.code, Some(1));
    let stats = cli(a, &["--json", "stats"]).await;
    let value: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert!(value.get("keys").is_some(), "{value}");
    server.shutdown().await;
}

#[tokio::test]
async fn repeat_and_latency_are_bounded_by_r() {
    let server = common::start().await;
    let a = server.local_addr();
    expect(a, &["-r", "3", "ping"], "PONG\nPONG\nPONG\n").await;
    expect(a, &["-r", "2", "-i", "0.01", "--no-raw", "exists", "k"], "(integer) 0\n(integer) 0\n")
        .await;
    let run = cli(a, &["--latency", "-r", "5"]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let last = run.out().lines().last().unwrap_or_default().to_owned();
    let shape = last.starts_with("min: ") && last.contains(", max: ") && last.contains(", avg: ");
    assert!(shape && last.ends_with(" (5 samples)"), "{last}");
    let run = cli(a, &["--latency-history", "-r", "3", "-i", "0.01"]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.out().lines().count() >= 2, "a line per window: {}", run.out());
    server.shutdown().await;
}

#[tokio::test]
async fn shale_addr_sets_the_default_and_flags_override_it() {
    let server = common::start().await;
    let uri = format!("shale://{}", server.local_addr());
    let run = cli_env(&["ping"], b"", &[("SHALE_ADDR", &uri)]).await;
    assert_eq!((run.out().as_str(), run.code), ("PONG\n", Some(0)), "{}", run.stderr);
    let bare = server.local_addr().to_string();
    let run = cli_env(&["dbsize"], b"", &[("SHALE_ADDR", &bare)]).await;
    assert_eq!((run.out().as_str(), run.code), ("0\n", Some(0)), "{}", run.stderr);
    // -p replaces only the port of SHALE_ADDR.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let run = cli_env(&["-p", &port.to_string(), "ping"], b"", &[("SHALE_ADDR", &uri)]).await;
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains(&format!("127.0.0.1:{port}")), "{}", run.stderr);
    server.shutdown().await;
}
