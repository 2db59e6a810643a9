//! One backend node as the router sees it: a pool of multiplexed connections for traffic,
//! a separate one-connection pool for probes (so probes never queue behind traffic), its
//! [`Health`], and the load signals P2C reads (requests in flight, EWMA latency).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use tracing::{info, warn};

use super::health::{Failure, Flip, Health, HealthConfig};
use super::hints::Hints;
use crate::client::ClientMetrics;
use crate::client::metrics::Metrics;
use crate::client::{ConnectionConfig, Error, Pool, ReconnectPolicy};
use crate::protocol::Status;
use crate::protocol::binary::{RequestFrame, ResponseFrame};

/// Weight of the newest sample in the latency EWMA.
const EWMA_ALPHA: f64 = 0.3;

/// Reconnect backoff of the traffic pool: short, because health (not the pool) decides
/// when a node gets traffic, and a readmitted node must be usable at once.
const TRAFFIC_RECONNECT: ReconnectPolicy = ReconnectPolicy {
    base: Duration::from_millis(10),
    max: Duration::from_millis(200),
    jitter: true,
};

/// Probes connect on every attempt; their pace is set by the health backoff.
const PROBE_RECONNECT: ReconnectPolicy =
    ReconnectPolicy { base: Duration::ZERO, max: Duration::ZERO, jitter: false };

/// A backend node.
#[derive(Debug)]
pub struct Backend {
    name: String,
    addr: String,
    weight: u32,
    pool: Pool,
    probe_pool: Pool,
    health: Health,
    hints: Hints,
    in_flight: AtomicU32,
    ewma_us: AtomicU64,
    metrics: Metrics,
    probes: AtomicU64,
    probe_failures: AtomicU64,
}

/// Statuses that are the request's fault, not the node's: no failover, no health penalty.
/// NOAUTH is not among them: clients authenticate to the router, so a backend asking for
/// a password means the router's `--backend-password` is missing, which is the node's
/// problem as far as routing goes (fail over, eject, report it).
pub fn is_client_fault(status: Status) -> bool {
    matches!(
        status,
        Status::InvalidArgument
            | Status::UnknownOpcode
            | Status::KeyTooLarge
            | Status::ValueTooLarge
    )
}

impl Backend {
    /// A backend at `addr` with `pool_size` traffic connections.
    pub fn new(
        name: &str,
        addr: String,
        weight: u32,
        pool_size: usize,
        conn: ConnectionConfig,
        health: HealthConfig,
    ) -> Self {
        let pool = Pool::new(addr.clone(), pool_size, conn.clone(), TRAFFIC_RECONNECT);
        let probe_pool = Pool::new(addr.clone(), 1, conn, PROBE_RECONNECT);
        Self {
            name: name.to_owned(),
            addr,
            weight: weight.max(1),
            pool,
            probe_pool,
            health: Health::new(health),
            hints: Hints::default(),
            in_flight: AtomicU32::new(0),
            ewma_us: AtomicU64::new(0f64.to_bits()),
            metrics: Metrics::default(),
            probes: AtomicU64::new(0),
            probe_failures: AtomicU64::new(0),
        }
    }

    /// Node name from the shard map.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `host:port`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Weight from the shard map (at least 1).
    pub fn weight(&self) -> u32 {
        self.weight
    }

    /// Health state.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Missed writes, stale shards and settling keys.
    pub fn hints(&self) -> &Hints {
        &self.hints
    }

    /// Whether a read of `key` (in `shard`) may go here: up, and caught up on that key.
    pub fn readable(&self, shard: u32, key: &[u8]) -> bool {
        !self.health.is_ejected() && self.hints.readable(shard, key)
    }

    /// P2C's load score: EWMA latency x (in flight + 1) / weight. Lower is better.
    pub fn load_score(&self) -> f64 {
        let ewma = f64::from_bits(self.ewma_us.load(Ordering::Relaxed)).max(1.0);
        let in_flight = f64::from(self.in_flight.load(Ordering::Relaxed)) + 1.0;
        ewma * in_flight / f64::from(self.weight)
    }

    /// Forwards one request and feeds the outcome to health, metrics and load signals.
    /// A reply with an error status that is the node's fault is turned into an error.
    pub async fn call(
        &self,
        frame: RequestFrame,
        deadline: Instant,
    ) -> Result<ResponseFrame, Error> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let result = match self.pool.call_until(frame, deadline).await {
            Ok(resp) => match resp.status() {
                Some(s) if s.is_error() && !is_client_fault(s) => Err(Error::Server {
                    status: s,
                    message: String::from_utf8_lossy(&resp.payload).into_owned(),
                }),
                _ => Ok(resp),
            },
            Err(e) => Err(e),
        };
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        let took = started.elapsed();
        self.metrics.record(took, result.as_ref().err());
        match &result {
            Ok(_) => {
                self.observe_latency(took);
                self.health.record_success();
            }
            // A map disagreement is not the node's ill health.
            Err(Error::Server { status: Status::WrongShard, .. }) => {}
            Err(e) => self.on_flip(self.health.record_failure(failure_kind(e))),
        }
        result
    }

    /// One active health probe (PING with the probe timeout).
    pub async fn probe(&self, timeout: Duration) {
        self.probes.fetch_add(1, Ordering::Relaxed);
        let ping =
            RequestFrame { opcode: crate::protocol::Opcode::Ping as u8, ..Default::default() };
        let ok = matches!(
            self.probe_pool.call(ping, timeout).await,
            Ok(resp) if resp.status() == Some(Status::Ok)
        );
        if !ok {
            self.probe_failures.fetch_add(1, Ordering::Relaxed);
        }
        self.on_flip(self.health.record_probe(ok));
    }

    /// Counters for STATS.
    pub fn snapshot(&self) -> BackendSnapshot {
        BackendSnapshot {
            metrics: self.metrics.snapshot(self.pool.reconnects()),
            probes: self.probes.load(Ordering::Relaxed),
            probe_failures: self.probe_failures.load(Ordering::Relaxed),
            ejections: self.health.ejections(),
            in_flight: self.in_flight.load(Ordering::Relaxed),
        }
    }

    fn observe_latency(&self, took: Duration) {
        let sample = took.as_secs_f64() * 1e6;
        let old = f64::from_bits(self.ewma_us.load(Ordering::Relaxed));
        let new = if old == 0.0 { sample } else { old + EWMA_ALPHA * (sample - old) };
        // A lost race drops one sample, which an average can afford.
        self.ewma_us.store(new.to_bits(), Ordering::Relaxed);
    }

    fn on_flip(&self, flip: Option<Flip>) {
        match flip {
            Some(Flip::Ejected) => warn!(node = %self.name, addr = %self.addr, "node ejected"),
            Some(Flip::Readmitted) => {
                info!(node = %self.name, addr = %self.addr, "node readmitted")
            }
            None => {}
        }
    }
}

/// A point-in-time view of one backend's counters.
#[derive(Debug, Clone, Copy)]
pub struct BackendSnapshot {
    /// Requests, errors, timeouts, reconnects, latency.
    pub metrics: ClientMetrics,
    /// Probes sent.
    pub probes: u64,
    /// Probes that failed (no answer in time, or not OK).
    pub probe_failures: u64,
    /// Times ejected.
    pub ejections: u64,
    /// Requests in flight now.
    pub in_flight: u32,
}

fn failure_kind(e: &Error) -> Failure {
    match e {
        Error::Connect { source, .. } if source.kind() == std::io::ErrorKind::ConnectionRefused => {
            Failure::Refused
        }
        _ => Failure::Other,
    }
}
