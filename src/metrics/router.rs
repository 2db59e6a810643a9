//! The metrics of `shale router`: what the connection loop counts (also summed by command
//! class), each backend's health, load and hints, and the shard map. Every value is read at
//! scrape time from counters the router keeps anyway.

use std::collections::BTreeMap;
use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use super::families::{Labels, Out};
use crate::net::tally::{Class, Outcome};
use crate::router::Router;
use crate::router::backend::Backend;
use crate::router::forward::Failure;
use crate::router::health::State;

/// Reads a running router's counters on each scrape.
#[derive(Debug)]
pub struct RouterCollector {
    router: Router,
    started_unix: f64,
}

impl RouterCollector {
    /// A collector for `router`.
    pub fn new(router: &Router) -> Self {
        Self { router: router.clone(), started_unix: super::unix_now() }
    }

    /// Requests by command class and outcome: the per-command counts, summed.
    fn requests(&self, out: &mut Out<'_>) -> fmt::Result {
        let mut by: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for c in self.router.net_stats().by_command.counts() {
            *by.entry((c.class.name(), c.outcome.name())).or_default() += c.count;
        }
        // Every class with ok present, so a dashboard's rate() has a series from the start.
        for class in Class::ALL {
            by.entry((class.name(), Outcome::Ok.name())).or_default();
        }
        let rows: Vec<(Labels, u64)> = by
            .into_iter()
            .map(|((class, outcome), n)| {
                (vec![("class", class.to_owned()), ("outcome", outcome.to_owned())], n)
            })
            .collect();
        out.counters(
            "shale_router_requests",
            "Client requests by command class (read, write, other) and outcome.",
            &rows,
        )
    }

    /// Forwarded requests that failed, by what happened (the typed failure's kind).
    fn failures(&self, out: &mut Out<'_>) -> fmt::Result {
        let rows: Vec<(Labels, u64)> = Failure::KINDS
            .iter()
            .map(|k| (vec![("kind", k.name().to_owned())], self.router.failed(*k)))
            .collect();
        out.counters(
            "shale_router_failed",
            "Forwarded requests that failed, by kind (timeout, refused, closed, reply, \
             wrong_shard, no_replica, partial).",
            &rows,
        )
    }

    fn backends(&self, out: &mut Out<'_>) -> fmt::Result {
        let topology = self.router.topology();
        let backends = topology.backends();
        let states: Vec<(Labels, f64)> = backends
            .iter()
            .flat_map(|b| {
                let now = b.health().state();
                [State::Up, State::Ejected, State::Probing].map(|s| {
                    let labels =
                        vec![("node", b.name().to_owned()), ("state", s.name().to_owned())];
                    (labels, f64::from(u8::from(s == now)))
                })
            })
            .collect();
        out.gauges(
            "shale_router_backend_state",
            "1 for the state each node is in (up, ejected, probing).",
            &states,
        )?;
        for m in PER_NODE {
            let rows = backends.iter().map(|b| (vec![("node", b.name().to_owned())], (m.read)(b)));
            if m.counter {
                out.counters(m.name, m.help, &rows.collect::<Vec<_>>())?;
            } else {
                let rows: Vec<_> = rows.map(|(labels, v)| (labels, v as f64)).collect();
                out.gauges(m.name, m.help, &rows)?;
            }
        }
        Ok(())
    }
}

/// A metric with one sample per backend node (label `node`).
struct PerNode {
    name: &'static str,
    help: &'static str,
    /// A counter (else a gauge).
    counter: bool,
    read: fn(&Backend) -> u64,
}

const fn counter(name: &'static str, help: &'static str, read: fn(&Backend) -> u64) -> PerNode {
    PerNode { name, help, counter: true, read }
}

const fn gauge(name: &'static str, help: &'static str, read: fn(&Backend) -> u64) -> PerNode {
    PerNode { name, help, counter: false, read }
}

/// Every per-node metric but the health state.
const PER_NODE: &[PerNode] = &[
    counter("shale_router_backend_requests", "Requests sent to the node.", |b| {
        b.snapshot().metrics.requests
    }),
    counter(
        "shale_router_backend_errors",
        "Requests to the node that failed, timeouts included.",
        |b| b.snapshot().metrics.errors,
    ),
    counter("shale_router_backend_timeouts", "Requests to the node that timed out.", |b| {
        b.snapshot().metrics.timeouts
    }),
    gauge("shale_router_backend_in_flight", "Requests to the node awaiting a reply.", |b| {
        u64::from(b.snapshot().in_flight)
    }),
    counter("shale_router_ejections", "Times the node was taken out of rotation.", |b| {
        b.health().ejections()
    }),
    counter("shale_router_readmissions", "Times the node was put back in rotation.", |b| {
        b.health().readmissions()
    }),
    counter("shale_router_probes", "Health probes sent to the node.", |b| b.snapshot().probes),
    counter("shale_router_probe_failures", "Health probes the node failed.", |b| {
        b.snapshot().probe_failures
    }),
    counter("shale_router_hints_queued", "Missed writes queued for the node.", |b| {
        b.hints().counters().0 as u64
    }),
    counter("shale_router_hints_replayed", "Queued writes delivered to the node.", |b| {
        b.hints().replayed() as u64
    }),
    counter(
        "shale_router_hints_dropped",
        "Queued writes dropped (queue full or too old); their shard goes stale.",
        |b| b.hints().counters().1 as u64,
    ),
    gauge("shale_router_hints_pending", "Missed writes waiting for the node now.", |b| {
        b.hints().len() as u64
    }),
    gauge("shale_router_stale_shards", "Shards of the node to be re-copied from a peer.", |b| {
        b.hints().stale_shards().len() as u64
    }),
];

impl Collector for RouterCollector {
    fn encode(&self, enc: DescriptorEncoder<'_>) -> fmt::Result {
        let mut out = Out::new(enc);
        out.process(self.started_unix, self.router.is_ready())?;
        out.net(self.router.net_stats())?;
        out.counter(
            "shale_auth_failures",
            "Wrong passwords received (AUTH, HELLO AUTH).",
            self.router.auth_failures(),
        )?;
        self.requests(&mut out)?;
        self.failures(&mut out)?;
        self.backends(&mut out)?;
        out.map(self.router.watcher())
    }
}
