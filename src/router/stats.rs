//! Router counters and the STATS/INFO text: overall requests, errors by kind, latency
//! percentiles, and per-node state and counters.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::topology::Topology;
use crate::client::Error;
use crate::client::metrics::Metrics;
use crate::net::NetStats;
use crate::protocol::cluster::ShardState;
use crate::protocol::{Reply, Status};

/// Counters for every request the router forwarded.
#[derive(Debug, Default)]
pub struct RouterStats {
    requests: Metrics,
    unavailable: AtomicU64,
    partial: AtomicU64,
}

impl RouterStats {
    /// Records one forwarded command and how it ended.
    pub fn record(&self, took: Duration, reply: &Reply) {
        let result = match reply {
            Reply::Error(e) => {
                match e.status {
                    Status::Unavailable => self.unavailable.fetch_add(1, Ordering::Relaxed),
                    Status::Partial => self.partial.fetch_add(1, Ordering::Relaxed),
                    _ => 0,
                };
                let err = if e.message.contains("timed out") {
                    Error::Timeout
                } else {
                    Error::Server { status: e.status, message: String::new() }
                };
                Err(err)
            }
            _ => Ok(()),
        };
        self.requests.record(took, result.as_ref().err());
    }
}

/// The `name:value` fields of the router's STATS, in sections for INFO.
pub fn sections(
    stats: &RouterStats,
    net: &NetStats,
    topo: &Topology,
    uptime: Duration,
    port: u16,
    map_rejected: u64,
) -> Vec<(&'static str, Vec<(String, String)>)> {
    let n = |c: &AtomicU64| c.load(Ordering::Relaxed).to_string();
    let m = stats.requests.snapshot(0);
    let backends = topo.backends();
    let snaps: Vec<_> = backends.iter().map(|b| b.snapshot()).collect();
    let total = |f: fn(&super::backend::BackendSnapshot) -> u64| {
        snaps.iter().map(f).sum::<u64>().to_string()
    };
    let kv = |k: &str, v: String| (k.to_owned(), v);
    let server = vec![
        kv("redis_version", "7.2.0".into()),
        kv("shale_version", env!("CARGO_PKG_VERSION").into()),
        kv("role", "router".into()),
        kv("tcp_port", port.to_string()),
        kv("uptime_in_seconds", uptime.as_secs().to_string()),
    ];
    let clients =
        vec![kv("connections", n(&net.connections)), kv("connected_clients", n(&net.connections))];
    let overall = vec![
        kv("commands", n(&net.commands)),
        kv("requests", m.requests.to_string()),
        kv("errors", m.errors.to_string()),
        kv("errors_unavailable", n(&stats.unavailable)),
        kv("errors_partial", n(&stats.partial)),
        kv("timeouts", m.timeouts.to_string()),
        kv("latency_p50_us", m.latency.p50.as_micros().to_string()),
        kv("latency_p99_us", m.latency.p99.as_micros().to_string()),
        kv("latency_max_us", m.latency.max.as_micros().to_string()),
        kv("ejections", total(|s| s.ejections)),
        kv("probes", total(|s| s.probes)),
        kv("num_shards", topo.map().num_shards().to_string()),
        kv("nodes", backends.len().to_string()),
        kv("map_rejected", map_rejected.to_string()),
        kv(
            "clock_skew_refusals",
            backends.iter().map(|b| b.view().counters().2).sum::<u64>().to_string(),
        ),
    ];
    let nodes = backends
        .iter()
        .zip(&snaps)
        .map(|(b, s)| {
            let mut v = String::new();
            let (offset, restarts, refusals) = b.view().counters();
            let not_ready: Vec<String> =
                [ShardState::Copying, ShardState::Isolated, ShardState::Retiring]
                    .into_iter()
                    .flat_map(|st| b.view().shards_in(st).into_iter().map(move |s| format!("{s}:{}", st.name())))
                    .collect();
            let _ = write!(
                v,
                "addr={},state={},requests={},errors={},timeouts={},ejections={},probes={},in_flight={},p50_us={},p99_us={},hints={},hint_bytes={},hinted={},hints_dropped={},stale_shards={},ready_shards={},not_ready_shards={},clock_offset_ms={offset},restarts={restarts},clock_refusals={refusals},impostor={}",
                b.addr(),
                b.health().state().name(),
                s.metrics.requests,
                s.metrics.errors,
                s.metrics.timeouts,
                s.ejections,
                s.probes,
                s.in_flight,
                s.metrics.latency.p50.as_micros(),
                s.metrics.latency.p99.as_micros(),
                b.hints().len(),
                b.hints().bytes(),
                b.hints().counters().0,
                b.hints().counters().1,
                b.hints().stale_shards().len(),
                b.view().shards_in(ShardState::Ready).len(),
                not_ready.join(" "),
                u8::from(b.view().is_impostor()),
            );
            (format!("node_{}", b.name()), v)
        })
        .collect();
    vec![("Server", server), ("Clients", clients), ("Stats", overall), ("Nodes", nodes)]
}

/// Renders sections as INFO (with `# Section` headers and CRLF) or STATS (`name:value\n`).
pub fn render(
    sections: &[(&'static str, Vec<(String, String)>)],
    wanted: Option<&str>,
    info: bool,
) -> String {
    let wanted = wanted.map(str::to_ascii_lowercase);
    let all = matches!(wanted.as_deref(), None | Some("all" | "everything" | "default"));
    let mut out = String::new();
    for (name, fields) in sections {
        if !all && wanted.as_deref() != Some(&name.to_ascii_lowercase()) {
            continue;
        }
        if info {
            let _ = write!(out, "# {name}\r\n");
        }
        for (k, v) in fields {
            let _ = write!(out, "{k}:{v}{}", if info { "\r\n" } else { "\n" });
        }
        if info {
            out.push_str("\r\n");
        }
    }
    out
}
