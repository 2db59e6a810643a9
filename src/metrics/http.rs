//! A minimal HTTP/1.1 server for three GET endpoints: `/metrics`, `/healthz`, `/readyz`.
//!
//! Hand-rolled rather than hyper because it needs so little: read one request head, answer,
//! close. That keeps it small enough to check against hostile input by reading it: the
//! head is read into a fixed [`MAX_HTTP_HEAD`] buffer (larger: 431), every connection has a
//! [`HTTP_CONNECTION_TIMEOUT`] for the whole exchange, at most [`MAX_HTTP_CONNECTIONS`] are
//! served at once (more are closed at accept), and any bytes that are not a GET or HEAD of
//! a known path get a 4xx. No keep-alive: every response ends the connection, which
//! Prometheus and kubelet probes handle as usual. Request bodies are never read.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::debug;

use super::Endpoints;

/// Largest request head (request line and headers) read, in bytes.
pub const MAX_HTTP_HEAD: usize = 8 * 1024;
/// Longest one HTTP connection may take, from accept to the last byte written.
pub const HTTP_CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);
/// Most HTTP connections served at once; further ones are closed at accept.
pub const MAX_HTTP_CONNECTIONS: usize = 64;

/// The `Content-Type` of `/metrics`: Prometheus text format 0.0.4.
pub const METRICS_CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// One response, before it is written.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Body (omitted on the wire for HEAD).
    pub body: String,
}

impl Response {
    fn text(status: u16, body: impl Into<String>) -> Self {
        Self { status, content_type: "text/plain; charset=utf-8", body: body.into() }
    }

    fn to_bytes(&self, head_only: bool) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            431 => "Request Header Fields Too Large",
            503 => "Service Unavailable",
            _ => "Error",
        };
        let mut out = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            self.content_type,
            self.body.len()
        );
        if self.status == 405 {
            out.push_str("Allow: GET, HEAD\r\n");
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        if !head_only {
            bytes.extend_from_slice(self.body.as_bytes());
        }
        bytes
    }
}

/// Accepts and answers connections until `cancel` fires.
pub(super) async fn serve(
    listener: TcpListener,
    endpoints: Arc<Endpoints>,
    cancel: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(MAX_HTTP_CONNECTIONS));
    let tracker = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else {
            // Out of file descriptors and the like: back off instead of spinning.
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_millis(50)) => continue,
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else { continue };
        let endpoints = endpoints.clone();
        tracker.spawn(async move {
            let exchange =
                tokio::time::timeout(HTTP_CONNECTION_TIMEOUT, answer(stream, &endpoints));
            if let Ok(Err(e)) = exchange.await {
                debug!(error = %e, "metrics connection failed");
            }
            drop(permit);
        });
    }
    tracker.close();
}

/// Reads one request head and writes the response.
async fn answer(mut stream: TcpStream, endpoints: &Endpoints) -> io::Result<()> {
    let mut head = [0u8; MAX_HTTP_HEAD];
    let mut len = 0;
    let response = loop {
        if let Some(end) = head_end(&head[..len]) {
            break Some(route(&head[..end], endpoints));
        }
        if len == head.len() {
            break Some((Response::text(431, "request head too large\n"), false));
        }
        let n = stream.read(&mut head[len..]).await?;
        if n == 0 {
            break None;
        }
        len += n;
    };
    if let Some((response, head_only)) = response {
        stream.write_all(&response.to_bytes(head_only)).await?;
    }
    stream.shutdown().await
}

/// Where the head ends (before the blank line), if it is complete.
fn head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| bytes.windows(2).position(|w| w == b"\n\n"))
}

/// The response to a request head, and whether only its head is sent (HEAD).
pub fn route(head: &[u8], endpoints: &Endpoints) -> (Response, bool) {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return (Response::text(400, "bad request line\n"), false);
    };
    if !version.starts_with(b"HTTP/1.") {
        return (Response::text(400, "only HTTP/1.x is spoken here\n"), false);
    }
    let head_only = match method {
        b"GET" => false,
        b"HEAD" => true,
        _ => return (Response::text(405, "only GET and HEAD\n"), false),
    };
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    let response = match path {
        b"/metrics" => endpoints.metrics(),
        b"/healthz" => Response::text(200, "ok\n"),
        b"/readyz" if endpoints.ready() => Response::text(200, "ready\n"),
        b"/readyz" => Response::text(503, "not ready\n"),
        _ => Response::text(404, "not found: try /metrics, /healthz or /readyz\n"),
    };
    (response, head_only)
}

impl Endpoints {
    fn metrics(&self) -> Response {
        let mut body = String::new();
        match prometheus_client::encoding::prometheus_text::encode(&mut body, &self.registry) {
            Ok(()) => Response { status: 200, content_type: METRICS_CONTENT_TYPE, body },
            Err(_) => Response::text(500, "metrics could not be encoded\n"),
        }
    }
}
