//! The fault proxy's [`super::proxy::Mode::OldPeer`]: a relay that makes the node behind it
//! look like a version from before RMW ids in BUCKET_DUMP pages. It reads the requests as
//! frames with the crate's own [`ServerCodec`] (no second parser), and answers a
//! BUCKET_DUMP flagged [`FLAG_RMW_IDS`] itself with the INVALID_ARGUMENT an older server's
//! flag check gives, rendered by the server's own [`encode_outbound`]; every other request
//! goes to the node, and every answer comes back, byte for byte as it came.
//!
//! Owns the framing of one relayed connection. Does not own accepting connections or the
//! other modes ([`super::proxy`]). Binary connections only (nodes talk binary to each
//! other): a text client's first reply does not frame as a binary response, and closes
//! the connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::{Bytes, BytesMut};
use shale::cmd::Command;
use shale::codec::{ClientCodec, Inbound, ServerCodec, encode_outbound};
use shale::protocol::binary::FLAG_RMW_IDS;
use shale::protocol::{ErrorReply, Limits, Reply};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Mutex;
use tokio_util::codec::Decoder;

/// Most bytes one read asks for; buffers grow only by what actually arrived.
const READ_CHUNK: usize = 16 * 1024;

/// Relays `client` to `upstream` until either side closes, refusing flagged BUCKET_DUMPs
/// (each one counted in `refused`). Mode changes of the proxy do not reach a connection
/// relayed so: its frames are only known from its first byte on.
pub async fn relay(client: TcpStream, upstream: TcpStream, refused: Arc<AtomicUsize>) {
    let (cr, cw) = client.into_split();
    let (ur, uw) = upstream.into_split();
    // The node's answers and the refusals share the way back: each is written whole, under
    // the lock, so a refusal never lands inside an answer.
    let back = Arc::new(Mutex::new(cw));
    tokio::select! {
        _ = requests(cr, uw, back.clone(), refused) => {}
        _ = answers(ur, back) => {}
    }
}

/// Forwards each request frame to the node, or answers it as an old version would.
async fn requests(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    back: Arc<Mutex<OwnedWriteHalf>>,
    refused: Arc<AtomicUsize>,
) {
    // These tests' nodes run with the default limits: this codec frames what theirs do.
    let mut frames = Frames::new(ServerCodec::new(Limits::default()));
    while let Some((inbound, raw)) = frames.next(&mut from).await {
        let Some(answer) = refusal(&inbound) else {
            if to.write_all(&raw).await.is_err() {
                return;
            }
            continue;
        };
        refused.fetch_add(1, Ordering::SeqCst);
        if back.lock().await.write_all(&answer).await.is_err() {
            return;
        }
    }
}

/// Copies the node's answers back, a whole frame at a time.
async fn answers(mut from: OwnedReadHalf, back: Arc<Mutex<OwnedWriteHalf>>) {
    let mut frames = Frames::new(ClientCodec::default());
    while let Some((_, raw)) = frames.next(&mut from).await {
        if back.lock().await.write_all(&raw).await.is_err() {
            return;
        }
    }
}

/// What a node from before ids in pages answers to `inbound`, if it differs from this
/// version: its `from_frame` allowed BUCKET_DUMP no flags, and refused any with the same
/// INVALID_ARGUMENT it still gives an opcode that takes none ("flags must be 0, got
/// 0x0002"), under the request's id so the caller matches it.
fn refusal(inbound: &Inbound) -> Option<BytesMut> {
    let Ok(Command::BucketDump(args)) = &inbound.command else { return None };
    // Only the binary flag asks for ids (text BUCKET_DUMP never does).
    if !args.ids {
        return None;
    }
    let refused = ErrorReply::invalid(format!("flags must be 0, got 0x{FLAG_RMW_IDS:04x}"));
    let mut out = BytesMut::new();
    encode_outbound(inbound.id, inbound.shape, &Reply::Error(refused), false, &mut out);
    Some(out)
}

/// One direction of a connection as frames, each with the exact bytes it came as: the
/// codec finds the boundaries and bounds every frame by its limit; `raw` keeps what the
/// codec consumed until the frame it belongs to is complete. Invariant: `raw` is the
/// consumed bytes of the frame in progress followed by `buf`.
struct Frames<D> {
    codec: D,
    buf: BytesMut,
    raw: BytesMut,
}

impl<D: Decoder> Frames<D> {
    fn new(codec: D) -> Self {
        Self { codec, buf: BytesMut::new(), raw: BytesMut::new() }
    }

    /// The next frame and its bytes; None once `from` closes or fails, or the stream stops
    /// framing (over the codec's limit, or not the dialect expected).
    async fn next<R: AsyncRead + Unpin>(&mut self, from: &mut R) -> Option<(D::Item, Bytes)> {
        loop {
            if let Some(item) = self.codec.decode(&mut self.buf).ok()? {
                let used = self.raw.len() - self.buf.len();
                return Some((item, self.raw.split_to(used).freeze()));
            }
            self.buf.reserve(READ_CHUNK);
            let start = self.buf.len();
            if from.read_buf(&mut self.buf).await.ok()? == 0 {
                return None;
            }
            self.raw.extend_from_slice(&self.buf[start..]);
        }
    }
}
