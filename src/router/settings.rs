//! The router settings CONFIG SET may change while it serves: the read, write and request
//! timeouts, the read policy and the write-ack mode (the connect timeout is fixed at
//! start: backend pools are built with it). Each is an atomic read on every request, so a
//! change applies to requests that start after it; requests in flight keep what they read.
//!
//! CONFIG names are the command-line flags without dashes in front (`read-timeout`,
//! `write-ack`, ...), and durations take the flags' syntax (`250ms`, `1s`; a bare number
//! is seconds). CONFIG GET shows durations in milliseconds with the `ms` unit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use super::forward::Timeouts;
use super::select::ReadPolicy;
use super::write::WriteAck;
use crate::cmd::config::{Config, parse_enum};
use crate::units::parse_duration;

/// Shortest timeout CONFIG SET accepts: a zero deadline would fail every request.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(1);
/// Longest timeout CONFIG SET accepts.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// Settings read on every request.
#[derive(Debug)]
pub struct Settings {
    connect: Duration,
    read_try_ms: AtomicU64,
    write_ms: AtomicU64,
    request_ms: AtomicU64,
    read_policy: AtomicU8,
    write_ack: AtomicU8,
}

const POLICIES: [(&str, ReadPolicy); 2] =
    [("random", ReadPolicy::Random), ("p2c", ReadPolicy::P2c)];
const ACKS: [(&str, WriteAck); 4] = [
    ("healthy", WriteAck::Healthy),
    ("all", WriteAck::All),
    ("quorum", WriteAck::Quorum),
    ("one", WriteAck::One),
];

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn index_of<T: PartialEq>(table: &[(&str, T)], v: T) -> u8 {
    table.iter().position(|(_, x)| *x == v).unwrap_or(0) as u8
}

impl Settings {
    /// Settings starting from the command line's.
    pub fn new(timeouts: Timeouts, read_policy: ReadPolicy, write_ack: WriteAck) -> Self {
        Self {
            connect: timeouts.connect,
            read_try_ms: AtomicU64::new(ms(timeouts.read_try)),
            write_ms: AtomicU64::new(ms(timeouts.write)),
            request_ms: AtomicU64::new(ms(timeouts.request)),
            read_policy: AtomicU8::new(index_of(&POLICIES, read_policy)),
            write_ack: AtomicU8::new(index_of(&ACKS, write_ack)),
        }
    }

    /// The timeouts now.
    pub fn timeouts(&self) -> Timeouts {
        let get = |a: &AtomicU64| Duration::from_millis(a.load(Ordering::Relaxed));
        Timeouts {
            connect: self.connect,
            read_try: get(&self.read_try_ms),
            write: get(&self.write_ms),
            request: get(&self.request_ms),
        }
    }

    /// How reads pick a replica now.
    pub fn read_policy(&self) -> ReadPolicy {
        POLICIES[usize::from(self.read_policy.load(Ordering::Relaxed)) % POLICIES.len()].1
    }

    /// The write-ack mode now.
    pub fn write_ack(&self) -> WriteAck {
        ACKS[usize::from(self.write_ack.load(Ordering::Relaxed)) % ACKS.len()].1
    }

    /// Adds the router's parameters to `config`.
    pub fn params(self: &Arc<Self>, config: Config) -> Config {
        let connect = self.connect;
        config
            .fixed("connect-timeout", move || format!("{}ms", ms(connect)))
            .bound(self.clone())
            .mutable("read-timeout", |s| show(&s.read_try_ms), |s, v, a| set(&s.read_try_ms, v, a))
            .mutable("write-timeout", |s| show(&s.write_ms), |s, v, a| set(&s.write_ms, v, a))
            .mutable("request-timeout", |s| show(&s.request_ms), |s, v, a| set(&s.request_ms, v, a))
            .mutable(
                "read-policy",
                |s| name_of(&POLICIES, &s.read_policy),
                |s, v, a| choose(&POLICIES, &s.read_policy, v, a),
            )
            .mutable(
                "write-ack",
                |s| name_of(&ACKS, &s.write_ack),
                |s, v, a| choose(&ACKS, &s.write_ack, v, a),
            )
            .build()
    }
}

fn show(a: &AtomicU64) -> String {
    format!("{}ms", a.load(Ordering::Relaxed))
}

/// Checks a duration and, when `apply`, stores it.
fn set(a: &AtomicU64, v: &[u8], apply: bool) -> Result<(), String> {
    let text = std::str::from_utf8(v).map_err(|_| "argument must be a duration".to_owned())?;
    let d = parse_duration(text.trim()).map_err(|e| e.to_string())?;
    if !(MIN_TIMEOUT..=MAX_TIMEOUT).contains(&d) {
        return Err(format!(
            "argument must be between {}ms and {}s",
            ms(MIN_TIMEOUT),
            MAX_TIMEOUT.as_secs()
        ));
    }
    if apply {
        a.store(ms(d), Ordering::Relaxed);
    }
    Ok(())
}

fn name_of<T>(table: &[(&'static str, T)], a: &AtomicU8) -> String {
    table[usize::from(a.load(Ordering::Relaxed)) % table.len()].0.to_owned()
}

fn choose<T>(
    table: &[(&'static str, T)],
    a: &AtomicU8,
    v: &[u8],
    apply: bool,
) -> Result<(), String> {
    let names: Vec<&'static str> = table.iter().map(|(n, _)| *n).collect();
    let word = parse_enum(v, &names)?;
    if apply {
        a.store(names.iter().position(|n| *n == word).unwrap_or(0) as u8, Ordering::Relaxed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn b(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    #[test]
    fn config_set_changes_what_requests_read() {
        let s = Arc::new(Settings::new(Timeouts::default(), ReadPolicy::Random, WriteAck::Healthy));
        let cfg = s.params(Config::default());
        assert_eq!(cfg.value("read-timeout").as_deref(), Some("250ms"));
        assert_eq!(cfg.value("connect-timeout").as_deref(), Some("200ms"));
        cfg.set(&[(b("read-timeout"), b("40ms")), (b("write-ack"), b("QUORUM"))]).expect("valid");
        assert_eq!(s.timeouts().read_try, Duration::from_millis(40));
        assert_eq!(s.write_ack(), WriteAck::Quorum);
        cfg.set(&[(b("read-policy"), b("p2c")), (b("request-timeout"), b("2"))]).expect("valid");
        assert_eq!(s.read_policy(), ReadPolicy::P2c);
        assert_eq!(cfg.value("request-timeout").as_deref(), Some("2000ms"));
        let err = cfg.set(&[(b("write-ack"), b("most"))]).expect_err("refused").message;
        assert!(err.contains("healthy, all, quorum, one"), "{err}");
        assert!(cfg.set(&[(b("write-timeout"), b("0ms"))]).is_err(), "zero is refused");
        assert!(cfg.set(&[(b("connect-timeout"), b("1s"))]).is_err(), "fixed at start");
        assert_eq!(s.timeouts().write, Duration::from_millis(500), "nothing else changed");
    }
}
