//! The failures a new user meets first, through the real binary: a port in use, a refused
//! connection, a bad flag value, and a port that speaks only Redis text. Each must be one
//! clear line on stderr, with no backtrace even when RUST_BACKTRACE is set, and no cause
//! repeated.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::process::{Command, Output};

use common::{Proc, WAIT, free_port};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Runs `shale <args>` with RUST_BACKTRACE=1, bounded by [`WAIT`] (the commands here all
/// fail fast or are given a short duration).
fn shale(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shale"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .env_remove("SHALE_ADDR")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    while child.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "shale {args:?} did not exit");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// The one line `out` printed on stderr (log lines aside), checked for the usual noise.
fn one_line(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.contains(" INFO ")).collect();
    assert_eq!(lines.len(), 1, "one line, got: {stderr}");
    for noise in ["backtrace", "Caused by", "panicked", "For more information"] {
        assert!(!stderr.contains(noise), "{noise}: {stderr}");
    }
    lines[0].to_owned()
}

/// `line` does not say the same thing twice (a cause repeated by a wrapping error).
fn assert_no_repeat(line: &str) {
    let parts: Vec<&str> = line.split(": ").collect();
    for (i, a) in parts.iter().enumerate() {
        for b in &parts[i + 1..] {
            assert!(a.len() < 8 || !b.contains(a), "'{a}' repeated in: {line}");
        }
    }
}

#[test]
fn a_port_in_use_is_one_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    for args in
        [vec!["server", "--port", &port], vec!["server", "--port", "0", "--metrics-port", &port]]
    {
        let out = shale(&args);
        assert_eq!(out.status.code(), Some(1));
        let line = one_line(&out);
        assert!(line.starts_with("error: ") && line.contains("Address already in use"), "{line}");
        assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
        assert_no_repeat(&line);
    }
}

#[test]
fn a_refused_connection_is_one_line() {
    let port = free_port().to_string();
    for tool in ["bench", "stress"] {
        let out = shale(&[tool, "-p", &port, "--duration", "1s"]);
        assert_eq!(out.status.code(), Some(1), "{tool}");
        let line = one_line(&out);
        assert!(
            line.starts_with("error: cannot reach 127.0.0.1:") && line.contains("refused"),
            "{line}"
        );
        assert_no_repeat(&line);
    }
    let out = shale(&["cli", "-p", &port, "ping"]);
    assert_eq!(
        one_line(&out),
        format!("Could not connect to shale at 127.0.0.1:{port}: Connection refused")
    );
}

#[test]
fn a_bad_flag_value_is_one_line() {
    // (args, what the line must say)
    let cases: [(&[&str], &str); 5] = [
        (&["server", "--port", "abc"], "invalid value 'abc' for '--port"),
        (&["server", "--stripes", "3"], "3 is not a power of two"),
        (&["server", "--shards", "12"], "12 is not a power of two"), // the old spelling
        (&["server", "--idle-timeout", "soon"], "--idle-timeout"),
        (&["router", "--shardmap", "m.json", "--read-policy", "fastest"], "--read-policy"),
    ];
    for (args, says) in cases {
        let out = shale(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let line = one_line(&out);
        assert!(line.starts_with("error: ") && line.contains(says), "{args:?}: {line}");
    }
}

#[test]
fn stripes_take_a_power_of_two_under_either_name() {
    for flag in ["--stripes", "--shards"] {
        let server = Proc::spawn(&["server", flag, "8"]);
        assert!(server.addr.port() > 0);
    }
}

#[test]
fn a_bad_shard_map_names_the_file_once() {
    let path = common::temp_file("map.json", r#"{"numShards": 0}"#);
    let out = shale(&["router", "--shardmap", path.to_str().unwrap(), "--port", "0"]);
    let line = one_line(&out);
    assert_eq!(line, format!("error: {}: numShards must be at least 1", path.display()));
    let out = shale(&["server", "--shardmap", "/nonexistent/map.json", "--node", "n1"]);
    let line = one_line(&out);
    assert!(line.starts_with("error: cannot read shard map /nonexistent/map.json: "), "{line}");
    assert_no_repeat(&line);
}

/// A stand-in for redis-server: answers `INFO` like Redis and every other text line with
/// an error, and, like Redis, never answers binary frames (it looks for a newline with C
/// string functions, which stop at the frame's leading zero byte).
async fn redis_like() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (rd, mut wr) = stream.into_split();
                let mut lines = BufReader::new(rd).split(b'\n');
                while let Ok(Some(line)) = lines.next_segment().await {
                    if line.contains(&0) {
                        continue;
                    }
                    let info = "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n";
                    let reply = if line.starts_with(b"INFO") {
                        format!("${}\r\n{info}\r\n", info.len())
                    } else {
                        "-ERR unknown command\r\n".to_owned()
                    };
                    let _ = wr.write_all(reply.as_bytes()).await;
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_pointed_at_a_redis_text_port_say_so() {
    let addr = redis_like().await;
    let port = addr.port().to_string();
    let says = format!("127.0.0.1:{port} answers Redis text, not the shale binary protocol");
    // (args, the hint that follows, where the tool has one)
    let cases: [(&[&str], &str); 3] = [
        (&["bench", "-p", &port, "-n", "10"], "; use --proto resp"),
        (&["stress", "-p", &port, "--duration", "1s"], ""),
        (&["cli", "-p", &port, "get", "k"], "; use redis-cli for it"),
    ];
    for (args, hint) in cases {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        let out = tokio::task::spawn_blocking(move || {
            shale(&args.iter().map(String::as_str).collect::<Vec<_>>())
        })
        .await
        .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let line = one_line(&out);
        assert!(line.ends_with(&format!("{says}{hint}")), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_tells_shale_from_redis() {
    use shale::client::dialect::{Dialect, probe};
    let wait = std::time::Duration::from_secs(5);
    let server = common::start().await;
    assert_eq!(probe(&server.local_addr().to_string(), wait).await, Dialect::Binary);
    assert_eq!(probe(&redis_like().await.to_string(), wait).await, Dialect::RedisText);
    let closed = format!("127.0.0.1:{}", free_port());
    assert_eq!(probe(&closed, wait).await, Dialect::Unknown);
    let locked =
        common::start_with(|c| c.password = Some(shale::auth::Password::new("pw").unwrap())).await;
    assert_eq!(
        probe(&locked.local_addr().to_string(), wait).await,
        Dialect::Unknown,
        "NOAUTH tells nothing"
    );
    server.shutdown().await;
    locked.shutdown().await;
}
