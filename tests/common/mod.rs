//! Shared helpers for integration tests: in-process servers on 127.0.0.1:0 and raw
//! binary/text connections with bounded waits.
#![allow(dead_code, missing_docs, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use shale::codec::ClientCodec;
use shale::protocol::binary::{RequestFrame, ResponseFrame};
use shale::server::{Server, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Decoder;

/// Generous bound for any single wait in a test, so a loaded machine still passes.
pub const WAIT: Duration = Duration::from_secs(10);

pub async fn start() -> Server {
    start_with(|_| {}).await
}

pub async fn start_with(tweak: impl FnOnce(&mut ServerConfig)) -> Server {
    let mut cfg = ServerConfig::loopback(0);
    tweak(&mut cfg);
    Server::start(cfg).await.expect("server starts")
}

pub async fn connect(addr: SocketAddr) -> TcpStream {
    let s = tokio::time::timeout(WAIT, TcpStream::connect(addr)).await.expect("connect in time");
    let s = s.expect("connects");
    s.set_nodelay(true).unwrap();
    s
}

/// A raw binary-protocol connection.
pub struct Bin {
    pub stream: TcpStream,
    buf: BytesMut,
    codec: ClientCodec,
}

impl Bin {
    pub async fn connect(addr: SocketAddr) -> Self {
        Self { stream: connect(addr).await, buf: BytesMut::new(), codec: ClientCodec::default() }
    }

    pub async fn send(&mut self, op: u8, id: u32, key: &[u8], value: &[u8], ttl_ms: u64) {
        let mut out = BytesMut::new();
        frame(op, id, key, value, ttl_ms).encode(&mut out);
        self.stream.write_all(&out).await.unwrap();
    }

    pub async fn call(&mut self, op: u8, key: &[u8], value: &[u8], ttl_ms: u64) -> ResponseFrame {
        self.send(op, 1, key, value, ttl_ms).await;
        self.recv().await.expect("a response")
    }

    /// The next response, or None when the server closed the connection.
    pub async fn recv(&mut self) -> Option<ResponseFrame> {
        next_frame(&mut self.stream, &mut self.buf, &mut self.codec).await
    }
}

/// Reads binary responses from a borrowed read half.
pub struct BinReader<'a> {
    rd: &'a mut tokio::net::tcp::OwnedReadHalf,
    buf: BytesMut,
    codec: ClientCodec,
}

impl Bin {
    pub fn from_read(rd: &mut tokio::net::tcp::OwnedReadHalf) -> BinReader<'_> {
        BinReader { rd, buf: BytesMut::new(), codec: ClientCodec::default() }
    }
}

impl BinReader<'_> {
    pub async fn recv(&mut self) -> Option<ResponseFrame> {
        next_frame(self.rd, &mut self.buf, &mut self.codec).await
    }
}

/// Decodes the next response frame from `rd`, or None at end of stream; bounded by WAIT.
async fn next_frame<R: tokio::io::AsyncRead + Unpin>(
    rd: &mut R,
    buf: &mut BytesMut,
    codec: &mut ClientCodec,
) -> Option<ResponseFrame> {
    tokio::time::timeout(WAIT, async {
        loop {
            if let Some(f) = codec.decode(buf).expect("valid response") {
                return Some(f);
            }
            if rd.read_buf(buf).await.unwrap_or(0) == 0 {
                return None;
            }
        }
    })
    .await
    .expect("response in time")
}

pub fn frame(op: u8, id: u32, key: &[u8], value: &[u8], ttl_ms: u64) -> RequestFrame {
    RequestFrame {
        opcode: op,
        flags: 0,
        id,
        ttl_ms,
        key: Bytes::copy_from_slice(key),
        value: Bytes::copy_from_slice(value),
    }
}

/// A raw text connection: write bytes, read until an expected byte count or close.
pub struct Text {
    pub stream: TcpStream,
    buf: BytesMut,
}

impl Text {
    pub async fn connect(addr: SocketAddr) -> Self {
        Self { stream: connect(addr).await, buf: BytesMut::new() }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Reads until `want` is a prefix of what arrived, returning exactly those bytes.
    pub async fn expect(&mut self, want: &[u8]) {
        let got = tokio::time::timeout(WAIT, async {
            while self.buf.len() < want.len() {
                if self.stream.read_buf(&mut self.buf).await.unwrap_or(0) == 0 {
                    break;
                }
            }
            let n = want.len().min(self.buf.len());
            self.buf.split_to(n)
        })
        .await
        .expect("reply in time");
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
    }

    /// Reads until `marker` appears; returns everything up to and including it.
    pub async fn read_until(&mut self, marker: &[u8]) -> Vec<u8> {
        tokio::time::timeout(WAIT, async {
            loop {
                if let Some(pos) = self.buf.windows(marker.len()).position(|w| w == marker) {
                    return self.buf.split_to(pos + marker.len()).to_vec();
                }
                assert!(self.stream.read_buf(&mut self.buf).await.unwrap() > 0, "closed early");
            }
        })
        .await
        .expect("marker in time")
    }

    /// Sends a command and checks the exact reply.
    pub async fn roundtrip(&mut self, cmd: &[u8], want: &[u8]) {
        self.send(cmd).await;
        self.expect(want).await;
    }

    /// Reads until the peer closes; returns everything left.
    pub async fn read_to_close(&mut self) -> Vec<u8> {
        tokio::time::timeout(WAIT, async {
            loop {
                match self.stream.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return self.buf.split().to_vec(),
                    Ok(_) => {}
                }
            }
        })
        .await
        .expect("close in time")
    }
}

/// Polls `check` (async) every 50 ms until it holds or a generous bound (3 x `WAIT`)
/// passes.
pub async fn until(mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + WAIT * 3;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Polls `check` every 20 ms until it holds or `WAIT` passes.
pub async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}

// ---- Scripted fake servers for the client tests (tests/client_*.rs) ----

/// A listener on 127.0.0.1:0 that hands each accepted connection, with its 0-based
/// index, to a script. The accept loop is aborted when this is dropped.
pub struct Fake {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn fake_server<F, Fut>(script: F) -> Fake
where
    F: Fn(usize, TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        for index in 0.. {
            let Ok((stream, _)) = listener.accept().await else { return };
            tokio::spawn(script(index, stream));
        }
    });
    Fake { addr, task }
}

/// Reads exactly `n` binary request frames; None if the peer closes first. Bounded by WAIT.
pub async fn read_requests(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    n: usize,
) -> Option<Vec<RequestFrame>> {
    use bytes::Buf;
    let mut out = Vec::with_capacity(n);
    let read = async {
        while out.len() < n {
            if buf.len() >= 4 {
                let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
                if buf.len() >= 4 + len {
                    buf.advance(4);
                    let body = buf.split_to(len).freeze();
                    out.push(RequestFrame::parse(body).expect("a valid request"));
                    continue;
                }
            }
            if stream.read_buf(buf).await.unwrap_or(0) == 0 {
                return None;
            }
        }
        Some(())
    };
    tokio::time::timeout(WAIT, read).await.ok().flatten()?;
    Some(out)
}

/// A plausible reply: GET answers the key itself as the value, SET empty, DEL 1,
/// TTL "no expiry", PING the echo, anything else an empty OK.
pub fn answer(req: &RequestFrame) -> ResponseFrame {
    let payload = match req.opcode {
        0x02 => req.key.clone(),
        0x04 => Bytes::from_static(&[1]),
        0x05 => Bytes::copy_from_slice(&(-1i64).to_be_bytes()),
        0x01 => req.value.clone(),
        _ => Bytes::new(),
    };
    ResponseFrame { status: 0, flags: 0, id: req.id, payload }
}

/// Encodes and writes response frames in one write; errors are ignored (peer gone).
pub async fn write_replies(stream: &mut TcpStream, replies: &[ResponseFrame]) {
    let mut out = BytesMut::new();
    for r in replies {
        r.encode(&mut out);
    }
    let _ = stream.write_all(&out).await;
}

/// Serves requests with [`answer`] until the peer closes.
pub async fn serve_answers(mut stream: TcpStream) {
    let mut buf = BytesMut::new();
    while let Some(reqs) = read_requests(&mut stream, &mut buf, 1).await {
        let replies: Vec<_> = reqs.iter().map(answer).collect();
        write_replies(&mut stream, &replies).await;
    }
}

/// A `shale` child process (server or router), killed on drop.
pub struct Proc {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    lines: std::sync::mpsc::Receiver<String>,
    /// Every line read so far, so a line logged before the one awaited is not lost.
    seen: std::cell::RefCell<Vec<String>>,
}

impl Proc {
    /// Runs `shale <args> --port 0` and waits for its "listening" log line (readiness).
    pub fn spawn(args: &[&str]) -> Proc {
        Self::spawn_on(args, 0)
    }

    /// Runs `shale <args> --port <port>` and waits until it listens.
    pub fn spawn_on(args: &[&str], port: u16) -> Proc {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_shale"))
            .args(args)
            .args(["--port", &port.to_string(), "--log-level", "info"])
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let seen = std::cell::RefCell::new(Vec::new());
        let mut proc = Proc { child, addr: "127.0.0.1:1".parse().unwrap(), lines, seen };
        let line = proc.wait_log("listening");
        let addr = line.split("addr=").nth(1).and_then(|a| a.split_whitespace().next());
        proc.addr = addr.expect("the process logs its address").parse().unwrap();
        proc
    }

    /// Like [`Proc::wait_log`], but `None` instead of a panic when the line never comes.
    pub fn try_wait_log(&self, pattern: &str) -> Option<String> {
        if let Some(line) = self.seen.borrow().iter().find(|l| l.contains(pattern)) {
            return Some(line.clone());
        }
        let deadline = std::time::Instant::now() + WAIT * 3;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = self.lines.recv_timeout(left).ok()?;
            self.seen.borrow_mut().push(line.clone());
            if line.contains(pattern) {
                return Some(line);
            }
        }
    }

    /// Waits (bounded) for a log line containing `pattern`, logged at any time since the
    /// process started, and returns it.
    pub fn wait_log(&self, pattern: &str) -> String {
        if let Some(line) = self.seen.borrow().iter().find(|l| l.contains(pattern)) {
            return line.clone();
        }
        let deadline = std::time::Instant::now() + WAIT * 3;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.borrow_mut().push(line.clone());
                    if line.contains(pattern) {
                        return line;
                    }
                }
                Err(e) => panic!("no log line with '{pattern}': {e}"),
            }
        }
    }

    /// Every line logged so far (for a failing test's message).
    pub fn log(&self) -> String {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.borrow_mut().push(line);
        }
        self.seen.borrow().join("\n")
    }

    pub fn signal(&self, sig: &str) {
        let pid = self.child.id().to_string();
        let ok = std::process::Command::new("kill").args([sig, &pid]).status().unwrap();
        assert!(ok.success(), "kill {sig} {pid}");
    }

    /// Stops the process (SIGSTOP) and waits until every one of its threads is stopped:
    /// the kernel stops a multi-threaded process's other threads only once the thread that
    /// took the signal runs, so a worker could still answer right after `kill` returns.
    pub fn stop(&self) {
        self.signal("-STOP");
        let tasks = format!("/proc/{}/task", self.child.id());
        let all_stopped = || {
            let Ok(dir) = std::fs::read_dir(&tasks) else { return false };
            dir.filter_map(Result::ok).all(|t| {
                let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
                // The state follows the parenthesised command name.
                matches!(stat.rsplit(") ").next().and_then(|s| s.chars().next()), Some('T' | 't'))
            })
        };
        for _ in 0..500 {
            if all_stopped() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("process {} did not stop", self.child.id());
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago (for nodes that must restart on the same port).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A fresh, unique temp directory.
pub fn temp_dir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "shale-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `text` to a fresh file in a unique temp directory and returns its path.
pub fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let path = temp_dir().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

// ---- Measuring helpers for the hostile-client tests (tests/hostile.rs) ----

/// This process's resident set size in KiB (`VmRSS` in /proc/self/status); 0 where that
/// file does not exist. In-process servers make this the server's memory too.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap_or_default();
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0)
}
