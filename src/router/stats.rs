//! Router counters and the router's own INFO/STATS sections: overall requests, errors by
//! status and forwarded requests that failed by [`Failure`] kind (taken from the typed
//! failure, never from message text), latency percentiles, and per-node state and
//! counters.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::forward::{Failed, Failure};
use super::topology::Topology;
use crate::client::Error;
use crate::client::metrics::Metrics;
use crate::cmd::Section;
use crate::net::NetStats;
use crate::protocol::cluster::ShardState;
use crate::protocol::{Reply, Status};

/// Counters for every request the router forwarded.
#[derive(Debug, Default)]
pub struct RouterStats {
    requests: Metrics,
    unavailable: AtomicU64,
    partial: AtomicU64,
    /// Forwarded requests that failed, by [`Failure::index`].
    failed: [AtomicU64; Failure::KINDS.len()],
}

impl RouterStats {
    /// Records one forwarded command and how it ended: a reply (perhaps an error the node
    /// or the router answered) or a forwarding failure.
    pub fn record(&self, took: Duration, result: &Result<Reply, Failed>) {
        let (status, failure) = match result {
            Ok(Reply::Error(e)) => (Some(e.status), None),
            Ok(_) => (None, None),
            Err(f) => (Some(f.reply.status), Some(f.failure)),
        };
        match status {
            Some(Status::Unavailable) => self.unavailable.fetch_add(1, Ordering::Relaxed),
            Some(Status::Partial) => self.partial.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
        if let Some(f) = failure {
            self.failed[f.index()].fetch_add(1, Ordering::Relaxed);
        }
        let err = match (status, failure) {
            (_, Some(Failure::Timeout)) => Some(Error::Timeout),
            (Some(status), _) => Some(Error::Server { status, message: String::new() }),
            (None, _) => None,
        };
        self.requests.record(took, err.as_ref());
    }

    /// Forwarded requests that failed with `kind` since start.
    pub fn failed(&self, kind: Failure) -> u64 {
        self.failed[kind.index()].load(Ordering::Relaxed)
    }
}

/// The router's own INFO sections: `Stats` (requests, errors, latency, cluster totals)
/// and `Nodes` (one line per backend). The fields every process shares are added by
/// [`crate::cmd::info`].
pub fn sections(
    stats: &RouterStats,
    net: &NetStats,
    topo: &Topology,
    map_rejected: u64,
) -> Vec<Section> {
    let n = |c: &AtomicU64| c.load(Ordering::Relaxed).to_string();
    let m = stats.requests.snapshot(0);
    let backends = topo.backends();
    let snaps: Vec<_> = backends.iter().map(|b| b.snapshot()).collect();
    let total = |f: fn(&super::backend::BackendSnapshot) -> u64| {
        snaps.iter().map(f).sum::<u64>().to_string()
    };
    let mut overall = Section::new("Stats");
    overall
        .field("commands", net.commands.get())
        .field("requests", m.requests)
        .field("errors", m.errors)
        .field("errors_unavailable", n(&stats.unavailable))
        .field("errors_partial", n(&stats.partial))
        .field("timeouts", m.timeouts)
        .field("latency_p50_us", m.latency.p50.as_micros())
        .field("latency_p99_us", m.latency.p99.as_micros())
        .field("latency_max_us", m.latency.max.as_micros())
        .field("ejections", total(|s| s.ejections))
        .field("probes", total(|s| s.probes))
        .field("num_shards", topo.map().num_shards())
        .field("nodes", backends.len())
        .field("map_rejected", map_rejected)
        .field("clock_skew_refusals", backends.iter().map(|b| b.view().counters().2).sum::<u64>());
    for kind in Failure::KINDS {
        overall.field(format!("failed_{}", kind.name()), stats.failed(kind));
    }
    let mut nodes = Section::new("Nodes");
    let map_hash = topo.map().placement_hash();
    for (b, s) in backends.iter().zip(&snaps) {
        nodes.field(format!("node_{}", b.name()), node_line(b, s, map_hash));
    }
    vec![overall, nodes]
}

/// One backend's `node_<name>` line.
/// `map_hash` is the router's map's: the line says whether the node applies the same.
fn node_line(
    b: &super::backend::Backend,
    s: &super::backend::BackendSnapshot,
    map_hash: u64,
) -> String {
    let mut v = String::new();
    let (offset, restarts, refusals) = b.view().counters();
    let not_ready: Vec<String> = [ShardState::Copying, ShardState::Isolated, ShardState::Retiring]
        .into_iter()
        .flat_map(|st| {
            b.view().shards_in(st).into_iter().map(move |s| format!("{s}:{}", st.name()))
        })
        .collect();
    let _ = write!(
        v,
        "addr={},state={},requests={},errors={},timeouts={},ejections={},probes={},in_flight={},p50_us={},p99_us={},hints={},hint_bytes={},hinted={},hints_dropped={},stale_shards={},ready_shards={},not_ready_shards={},clock_offset_ms={offset},restarts={restarts},clock_refusals={refusals},impostor={},map={}",
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
        match b.view().map_hash() {
            None => "-",
            Some(h) if h == map_hash => "same",
            Some(_) => "other",
        },
    );
    v
}
