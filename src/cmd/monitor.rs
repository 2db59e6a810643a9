//! [`Monitors`]: the hub behind MONITOR. Every command a connection runs is offered to
//! [`Monitors::feed`]; while some connection is in MONITOR mode it becomes one line, as
//! Redis prints it, broadcast to every monitoring connection:
//!
//! ```text
//! +1700000000.123456 [0 127.0.0.1:60866] "set" "k" "v"\r\n
//! ```
//!
//! Owns the line format, which commands are shown (not admin or `skip_monitor` ones, and
//! AUTH's arguments are redacted) and the bounded backlog per monitor. The connection loop
//! owns writing the lines out.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use tokio::sync::broadcast;

use super::spec::{Flag, Spec};

/// Lines a monitor may fall behind by before it is disconnected (Redis closes a monitor
/// whose output buffer passes its limit the same way).
pub const MONITOR_BACKLOG: usize = 4096;

/// Longest argument shown in full in a MONITOR line; the rest is cut, so one huge value
/// cannot make every monitor buffer megabytes.
pub const MONITOR_ARG_MAX: usize = 1024;

/// The monitor hub: a broadcast channel and a count of listeners.
#[derive(Debug)]
pub struct Monitors {
    tx: broadcast::Sender<Bytes>,
    active: AtomicUsize,
}

impl Default for Monitors {
    fn default() -> Self {
        Self { tx: broadcast::channel(MONITOR_BACKLOG).0, active: AtomicUsize::new(0) }
    }
}

/// One monitoring connection's subscription; leaving MONITOR mode drops it.
#[derive(Debug)]
pub struct Subscription<'a> {
    hub: &'a Monitors,
    /// The lines, already RESP simple strings.
    pub rx: broadcast::Receiver<Bytes>,
}

impl Drop for Subscription<'_> {
    fn drop(&mut self) {
        self.hub.active.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Monitors {
    /// Whether any connection is monitoring: one relaxed load, so feeding costs nothing
    /// while nobody watches.
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed) > 0
    }

    /// Starts receiving lines.
    pub fn subscribe(&self) -> Subscription<'_> {
        self.active.fetch_add(1, Ordering::Relaxed);
        Subscription { hub: self, rx: self.tx.subscribe() }
    }

    /// Broadcasts the command `argv` of `spec`, run by the client at `peer`, unless the
    /// command is one Redis keeps out of MONITOR. Passwords are redacted.
    pub fn feed(&self, spec: &Spec, peer: std::net::SocketAddr, argv: &[Bytes]) {
        if !self.active() || spec.has(Flag::Admin) || spec.has(Flag::SkipMonitor) {
            return;
        }
        let _ = self.tx.send(line(peer, &redact(spec, argv)));
    }
}

/// `argv` with passwords replaced by `(redacted)`, as Redis shows AUTH and HELLO's AUTH
/// option in MONITOR and SLOWLOG.
pub fn redact(spec: &Spec, argv: &[Bytes]) -> Vec<Bytes> {
    const HIDDEN: Bytes = Bytes::from_static(b"(redacted)");
    let mut out = argv.to_vec();
    match spec.name {
        "auth" => out.iter_mut().skip(1).for_each(|a| *a = HIDDEN),
        "hello" => {
            let mut i = 2;
            while i < out.len() {
                if out[i].eq_ignore_ascii_case(b"auth") {
                    for a in out.iter_mut().skip(i + 1).take(2) {
                        *a = HIDDEN;
                    }
                    i += 3;
                } else {
                    i += 1;
                }
            }
        }
        _ => {}
    }
    out
}

/// The MONITOR line for one command, `\r\n` included.
pub fn line(peer: std::net::SocketAddr, argv: &[Bytes]) -> Bytes {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut out = BytesMut::with_capacity(64 + argv.iter().map(|a| a.len() + 3).sum::<usize>());
    out.put_slice(format!("+{}.{:06} [0 {peer}]", now.as_secs(), now.subsec_micros()).as_bytes());
    for arg in argv {
        out.put_u8(b' ');
        quote(arg, &mut out);
    }
    out.put_slice(b"\r\n");
    out.freeze()
}

/// Redis's `sdscatrepr`: a double-quoted string with `\n`, `\r`, `\t`, `\a`, `\b`, `\\`
/// and `\"` escaped and other unprintable bytes as `\xHH`, cut at [`MONITOR_ARG_MAX`].
pub fn quote(arg: &[u8], out: &mut BytesMut) {
    out.put_u8(b'"');
    for &b in arg.iter().take(MONITOR_ARG_MAX) {
        match b {
            b'\\' => out.put_slice(b"\\\\"),
            b'"' => out.put_slice(b"\\\""),
            b'\n' => out.put_slice(b"\\n"),
            b'\r' => out.put_slice(b"\\r"),
            b'\t' => out.put_slice(b"\\t"),
            7 => out.put_slice(b"\\a"),
            8 => out.put_slice(b"\\b"),
            b if b.is_ascii_graphic() || b == b' ' => out.put_u8(b),
            b => out.put_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    if arg.len() > MONITOR_ARG_MAX {
        out.put_slice(format!("... ({} more bytes)", arg.len() - MONITOR_ARG_MAX).as_bytes());
    }
    out.put_u8(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_quote_like_redis() {
        let peer = "127.0.0.1:5".parse().expect("addr");
        let argv = [Bytes::from_static(b"set"), Bytes::from_static(b"k\"q\n\x01 x")];
        let l = line(peer, &argv);
        let l = std::str::from_utf8(&l).expect("ascii");
        assert!(
            l.starts_with('+') && l.ends_with(" [0 127.0.0.1:5] \"set\" \"k\\\"q\\n\\x01 x\"\r\n"),
            "{l}"
        );
        let auth = Spec::new("auth", -2);
        let shown = redact(&auth, &[Bytes::from_static(b"auth"), Bytes::from_static(b"pw")]);
        assert!(line(peer, &shown).ends_with(b"\"auth\" \"(redacted)\"\r\n"));
        let hello = Spec::new("hello", -1);
        let argv: Vec<Bytes> = ["hello", "3", "AUTH", "u", "p", "SETNAME", "x"]
            .map(|s| Bytes::from_static(s.as_bytes()))
            .to_vec();
        let shown = redact(&hello, &argv);
        assert_eq!(shown[3], "(redacted)");
        assert_eq!(shown[4], "(redacted)");
        assert_eq!(shown[6], "x");
    }

    #[tokio::test]
    async fn only_subscribers_get_lines_and_admin_commands_stay_hidden() {
        let hub = Monitors::default();
        let get = Spec::new("get", 2);
        let config = Spec::new("config|get", -3).flags(&[Flag::Admin]);
        let argv = [Bytes::from_static(b"get"), Bytes::from_static(b"k")];
        hub.feed(&get, "127.0.0.1:1".parse().expect("addr"), &argv);
        let mut sub = hub.subscribe();
        assert!(hub.active());
        hub.feed(&config, "127.0.0.1:1".parse().expect("addr"), &argv);
        hub.feed(&get, "127.0.0.1:1".parse().expect("addr"), &argv);
        let got = sub.rx.recv().await.expect("a line");
        assert!(got.ends_with(b"\"get\" \"k\"\r\n"));
        assert!(sub.rx.try_recv().is_err(), "nothing before subscribing, no admin commands");
        drop(sub);
        assert!(!hub.active());
    }
}
