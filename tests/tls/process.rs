//! The real binaries over TLS: `shale server` serving TLS only (`--port 0`), certificate
//! reload on SIGHUP, start-up errors, and `shale cli` / `shale bench` / `shale stress`
//! with `--tls`.

use std::process::Stdio;

use shale::tls::ClientAuth;
use tokio::process::Command;

use crate::common::{Proc, WAIT};
use crate::pki::{Leaf, Pki, write_atomically};
use crate::support::{raw_tls, roundtrip, tls_server};

/// `shale server` on a free TLS port only, presenting `leaf`, no client certificates.
fn tls_only_server(leaf: &Leaf) -> Proc {
    let (cert, key) = (leaf.cert.to_str().unwrap(), leaf.key.to_str().unwrap());
    let args = ["server", "--tls-port", "0", "--tls-cert-file", cert, "--tls-key-file", key];
    // `Proc::spawn` adds `--port 0`: next to --tls-port that means no plain port.
    Proc::spawn(&[&args[..], &["--tls-auth-clients", "no"]].concat())
}

/// The certificate the server at `addr` presents to a new connection.
async fn presented(pki: &Pki, addr: std::net::SocketAddr) -> Vec<u8> {
    let s = raw_tls(addr, "localhost", pki.rustls_client(None)).await.unwrap();
    s.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

#[tokio::test]
async fn server_binary_serves_tls_only_with_port_0() {
    let pki = Pki::new("binary");
    let server = tls_only_server(&pki.server());
    let line = server.wait_log("listening");
    assert!(line.contains(&format!("tls_addr={}", server.addr)), "{line}");
    let mut s = raw_tls(server.addr, "localhost", pki.rustls_client(None)).await.unwrap();
    roundtrip(&mut s, b"PING\r\n", b"+PONG\r\n").await;
}

#[tokio::test]
async fn sighup_reloads_the_certificate_without_dropping_connections() {
    let pki = Pki::new("reload");
    let first = pki.server();
    let server = tls_only_server(&first);
    let mut open = raw_tls(server.addr, "localhost", pki.rustls_client(None)).await.unwrap();
    roundtrip(&mut open, b"SET k v\r\n", b"+OK\r\n").await;
    assert_eq!(presented(&pki, server.addr).await, first.cert_der().to_vec());

    // A new certificate and key replace the files; SIGHUP makes new handshakes use them.
    let second = pki.server();
    assert_ne!(first.cert_der(), second.cert_der());
    server.signal("-HUP");
    server.wait_log("TLS files reloaded");
    assert_eq!(presented(&pki, server.addr).await, second.cert_der().to_vec());
    // The connection opened before the reload carries on.
    roundtrip(&mut open, b"GET k\r\n", b"$1\r\nv\r\n").await;

    // A broken certificate file is refused at reload, logged at ERROR, and the last good
    // certificate stays in use.
    write_atomically(&second.cert, "not a certificate\n");
    server.signal("-HUP");
    let line = server.wait_log("TLS reload failed");
    assert!(line.contains("ERROR") && line.contains("CERTIFICATE"), "{line}");
    assert_eq!(presented(&pki, server.addr).await, second.cert_der().to_vec());
    roundtrip(&mut open, b"PING\r\n", b"+PONG\r\n").await;
}

/// Runs `shale <args>` to completion (bounded), returning exit code, stdout and stderr.
async fn shale(args: &[&str]) -> (Option<i32>, String, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_shale"))
        .args(args)
        .env_remove("SHALE_ADDR")
        .env("SHALE_HISTFILE", "/dev/null")
        // Errors are checked for one line; a backtrace is another issue's business.
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let out = tokio::time::timeout(WAIT * 3, child.wait_with_output()).await.unwrap().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[tokio::test]
async fn bad_tls_files_stop_the_server_with_one_clear_line() {
    let pki = Pki::new("startup");
    let leaf = pki.server();
    let missing = pki.dir.join("missing.pem");
    let (cert, key) = (leaf.cert.to_str().unwrap(), leaf.key.to_str().unwrap());
    // (flags after `server --port 0 --tls-port 0`, what the error names)
    let cases: [(&[&str], &str); 3] = [
        (&["--tls-cert-file", missing.to_str().unwrap(), "--tls-key-file", key], "missing.pem"),
        (&["--tls-cert-file", key, "--tls-key-file", key], "no CERTIFICATE"),
        (&["--tls-cert-file", cert, "--tls-key-file", key], "--tls-ca-cert-file"),
    ];
    for (flags, names) in cases {
        let args = [&["server", "--port", "0", "--tls-port", "0"][..], flags].concat();
        let (code, _, stderr) = shale(&args).await;
        assert_ne!(code, Some(0), "{args:?} started");
        let errors: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(errors.len(), 1, "{stderr}");
        assert!(errors[0].contains(names), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_bench_and_stress_speak_tls() {
    let pki = Pki::new("tools");
    let server = tls_server(&pki, ClientAuth::None, true).await;
    let port = server.tls_addr().unwrap().port().to_string();
    let ca = pki.ca.to_str().unwrap();
    let uri = format!("shales://localhost:{port}");
    // Binary (PING) and text (DBSIZE) commands both go over TLS.
    let (code, out, err) = shale(&["cli", "--cacert", ca, "-u", &uri, "ping"]).await;
    assert_eq!((code, out.trim()), (Some(0), "PONG"), "{err}");
    let (code, out, err) = shale(&["cli", "--tls", "--cacert", ca, "-p", &port, "dbsize"]).await;
    assert_eq!((code, out.trim()), (Some(0), "0"), "{err}");
    // A CA that did not sign the server's certificate: one clear line, exit 1.
    let other = Pki::new("tools-other");
    let (code, _, err) =
        shale(&["cli", "--cacert", other.ca.to_str().unwrap(), "-u", &uri, "ping"]).await;
    assert_eq!(code, Some(1));
    assert!(err.contains("UnknownIssuer"), "{err}");
    // --tls without --cacert says what is missing.
    let (code, _, err) = shale(&["cli", "--tls", "-p", &port, "ping"]).await;
    assert_eq!(code, Some(1));
    assert!(err.contains("--cacert"), "{err}");
    for proto in ["binary", "resp"] {
        let args = ["bench", "-u", &uri, "--cacert", ca, "--proto", proto, "-c", "2", "-n", "200"];
        let (code, out, err) =
            shale(&[&args[..], &["-q", "--csv", "-t", "set,get"]].concat()).await;
        assert_eq!(code, Some(0), "{proto}: {err}");
        let errors: u64 =
            out.lines().skip(1).filter_map(|l| l.split(',').nth(2)?.parse::<u64>().ok()).sum();
        assert_eq!(errors, 0, "{proto}: {out}");
    }
    let stress = ["stress", "-u", &uri, "--cacert", ca, "--duration", "1s", "--num-keys", "50"];
    let (code, out, err) = shale(&stress).await;
    assert_eq!(code, Some(0), "stress: {out}{err}");
    server.shutdown().await;
}
