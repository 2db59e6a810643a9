//! One backend node as the router sees it: pools of multiplexed connections for traffic
//! (one per worker thread, so a request forwarded on a worker never wakes another thread,
//! and one for background work such as repair and hint replay), a separate
//! one-connection pool for probes (so probes never queue behind traffic), its
//! [`Health`], what its NODE_STATUS probes said ([`NodeView`]: identity, limits, per-shard
//! readiness, clock), and the load signals P2C reads (requests in flight, EWMA latency).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use tracing::{info, warn};

use super::health::{Failure, Flip, Health};
use super::hints::Hints;
use super::load::Load;
use super::nodeview::NodeView;
use super::topology::BackendSettings;
use crate::client::ClientMetrics;
use crate::client::metrics::Metrics;
use crate::client::{ConnectionConfig, Error, Greeting, Pool, ReconnectPolicy, Sent};
use crate::protocol::Status;
use crate::protocol::binary::{RequestFrame, ResponseFrame};
use crate::protocol::cluster::{NodeStatus, node_status_frame};
use crate::version::Hlc;

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
    /// `pools[w]` carries worker `w`'s traffic; the last one everything off the workers'.
    pools: Box<[Pool]>,
    probe_pool: Pool,
    health: Health,
    hints: Hints,
    view: Arc<NodeView>,
    last_repair_error: parking_lot::Mutex<Option<String>>,
    hlc: Arc<Hlc>,
    load: Load,
    metrics: Metrics,
    probes: AtomicU64,
    probe_failures: AtomicU64,
    /// Signalled when the node answers a request while ejected (see `probe.rs`).
    probe_soon: Arc<tokio::sync::Notify>,
    /// Whether the node was ever up and answering for this router: a router started
    /// before its nodes logs their first ejection as "not reachable yet", not as a fault,
    /// and their admission as "node reachable".
    reached: AtomicBool,
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
    /// A backend at `addr` built with `s` (pool size, connections, health, hint limits and
    /// the router's clock, which this node's replies move forward).
    pub fn new(name: &str, addr: String, weight: u32, s: &BackendSettings) -> Self {
        let view = Arc::new(NodeView::default());
        let greeter = (view.clone(), name.to_owned());
        let greeting = Greeting {
            frame: node_status_frame(),
            accept: Arc::new(move |resp| greeter.0.greet(&greeter.1, resp)),
        };
        let conn = ConnectionConfig { greeting: Some(greeting), ..s.conn.clone() };
        let per_worker = s.pool_size.div_ceil(s.workers.max(1)).max(1);
        let sizes = std::iter::repeat_n(per_worker, s.workers).chain([s.pool_size]);
        let pools =
            sizes.map(|n| Pool::new(addr.clone(), n, conn.clone(), TRAFFIC_RECONNECT)).collect();
        let probe_pool = Pool::new(addr.clone(), 1, s.conn.clone(), PROBE_RECONNECT);
        Self {
            name: name.to_owned(),
            addr,
            weight: weight.max(1),
            pools,
            probe_pool,
            health: Health::new(s.health),
            hints: Hints::new(s.hints),
            view,
            last_repair_error: parking_lot::Mutex::new(None),
            hlc: s.hlc.clone(),
            load: Load::default(),
            metrics: Metrics::default(),
            probes: AtomicU64::new(0),
            probe_failures: AtomicU64::new(0),
            probe_soon: Arc::default(),
            reached: AtomicBool::new(false),
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

    /// What the node's NODE_STATUS probes said.
    pub fn view(&self) -> &NodeView {
        &self.view
    }

    /// The router's clock.
    pub fn hlc(&self) -> &Hlc {
        &self.hlc
    }

    /// Whether the node may take writes: it is the node the map names.
    pub fn writable(&self) -> bool {
        !self.view.is_impostor()
    }

    /// Whether a read of `key` (in `shard`) may go here: up, the node the map names, ready
    /// for the shard, and caught up on that key.
    pub fn readable(&self, shard: u32, key: &[u8]) -> bool {
        !self.health.is_ejected() && self.caught_up(shard, key)
    }

    /// Why a read of `key` does not go to this node (for error messages).
    pub fn why_not_read(&self, shard: u32, key: &[u8]) -> String {
        if !self.writable() {
            return "the map's address reaches another node".to_owned();
        }
        if !self.view.serves_reads(shard) {
            let state = self.view.shard_state(shard).map_or("restarted", |s| s.name());
            return format!("shard {shard} is {state} there");
        }
        if !self.hints.readable(shard, key) {
            let last = self.last_repair_error.lock().clone();
            let last = last.map_or_else(String::new, |e| format!(" (last attempt: {e})"));
            return format!("writes for it are queued or not yet synced{last}");
        }
        if self.health.is_ejected() { "ejected".to_owned() } else { "up".to_owned() }
    }

    /// Records why the last repair of this node (a replay or a sync) failed.
    pub fn repair_failed(&self, why: String) {
        *self.last_repair_error.lock() = Some(why);
    }

    /// Whether the node holds every acknowledged write of `key` as far as the router knows
    /// (whatever its health): the node the map names, ready for the shard, nothing queued
    /// for it, the shard not stale, no write of the key settling.
    pub fn caught_up(&self, shard: u32, key: &[u8]) -> bool {
        self.writable() && self.view.serves_reads(shard) && self.hints.readable(shard, key)
    }

    /// P2C's load score: EWMA latency x (in flight + 1) / weight. Lower is better.
    pub fn load_score(&self) -> f64 {
        let ewma = self.load.ewma_us().max(1.0);
        let in_flight = self.load.in_flight() as f64 + 1.0;
        ewma * in_flight / f64::from(self.weight)
    }

    /// Forwards one request and feeds the outcome to health, metrics and load signals.
    /// A reply with an error status that is the node's fault is turned into an error.
    pub async fn call(
        &self,
        frame: RequestFrame,
        deadline: Instant,
    ) -> Result<ResponseFrame, Error> {
        let _in_flight = self.load.enter(1);
        let started = Instant::now();
        // Sent at once when the connection is up: what is awaited is only the reply.
        let outcome = match self.traffic_pool().send(frame, deadline) {
            Sent::Now(mut claim) => claim.reply().await,
            Sent::Later(frame) => {
                let later = Box::pin(self.traffic_pool().call_until(frame, deadline));
                later.await
            }
            Sent::Failed(e) => Err(e),
        };
        let result = judge(outcome);
        self.account(started.elapsed(), &result);
        result
    }

    /// [`Backend::call`] for several requests sent in one write, on one connection, under
    /// one deadline: one outcome per frame, in order.
    pub async fn call_batch(
        &self,
        frames: Vec<RequestFrame>,
        deadline: Instant,
    ) -> Vec<Result<ResponseFrame, Error>> {
        let _in_flight = self.load.enter(frames.len() as u64);
        let started = Instant::now();
        let outcomes = self.traffic_pool().call_batch_until(frames, deadline).await;
        let took = started.elapsed();
        let results: Vec<_> = outcomes.into_iter().map(judge).collect();
        // The answers count one by one, as separate calls would; the successes' shared
        // latency is recorded once.
        let answered = results.iter().filter(|r| r.is_ok()).count() as u64;
        if answered > 0 {
            self.answered(took, answered);
        }
        for result in results.iter().filter(|r| r.is_err()) {
            self.account(took, result);
        }
        results
    }

    /// Feeds one outcome to metrics, load signals and health.
    fn account(&self, took: Duration, result: &Result<ResponseFrame, Error>) {
        let e = match result {
            Ok(_) => return self.answered(took, 1),
            Err(e) => e,
        };
        self.metrics.record(took, Some(e));
        match e {
            // A map disagreement, a shard not ready yet, a clock disagreement or another
            // node coordinating the shard is not the node's ill health: it answered.
            Error::Server {
                status:
                    Status::WrongShard | Status::NotReady | Status::ClockSkew | Status::NotCoordinator,
                ..
            } => {}
            e => self.on_flip(self.health.record_failure(failure_kind(e))),
        }
    }

    /// `n` requests answered after `took`: metrics, one latency sample, health. An
    /// ejected node that answers (writes still go to it) is alive: its prober is woken.
    fn answered(&self, took: Duration, n: u64) {
        self.metrics.record_ok(took, n);
        self.load.observe(took);
        self.health.record_success();
        if self.health.is_ejected() {
            self.wake_prober();
        } else if !self.reached.load(Ordering::Relaxed) {
            self.reached.store(true, Ordering::Relaxed);
        }
    }

    /// Brings the node's next probe forward (to [`super::probe::EARLY_PROBE_GAP`] after
    /// its last): it answered while ejected, or reads find no other replica.
    pub fn wake_prober(&self) {
        self.probe_soon.notify_one();
    }

    /// What wakes this node's prober early: an answer while it is ejected.
    pub fn probe_soon(&self) -> Arc<tokio::sync::Notify> {
        self.probe_soon.clone()
    }

    /// The calling thread's traffic pool: its worker's, or the background one.
    fn traffic_pool(&self) -> &Pool {
        let background = self.pools.len() - 1;
        let mine = crate::net::worker_index().filter(|w| *w < background);
        &self.pools[mine.unwrap_or(background)]
    }

    /// One active health probe: NODE_STATUS with the probe timeout. A node answering as
    /// another node fails the probe; a server that is not a cluster node (no NODE_STATUS)
    /// passes it with nothing known of its shards.
    pub async fn probe(&self, timeout: Duration) {
        self.probes.fetch_add(1, Ordering::Relaxed);
        let sent = crate::version::wall_ms();
        let ok = match self.probe_pool.call(node_status_frame(), timeout).await {
            Ok(resp) if resp.status() == Some(Status::Ok) => self.take_status(&resp, sent),
            Ok(resp) if resp.status() == Some(Status::InvalidArgument) => {
                self.view.clear();
                true
            }
            _ => false,
        };
        let flip = self.health.record_probe(ok);
        let first = ok && !self.health.is_ejected() && !self.reached.swap(true, Ordering::Relaxed);
        match flip {
            Some(Flip::Readmitted) if first => {
                info!(node = %self.name, addr = %self.addr, "node reachable");
            }
            flip => self.on_flip(flip),
        }
    }

    fn take_status(&self, resp: &ResponseFrame, sent_ms: u64) -> bool {
        let Some(status) = NodeStatus::decode(&resp.payload) else { return false };
        let clock = status.clock;
        let me = self.view.update(&self.name, status, sent_ms, crate::version::wall_ms());
        if me {
            observe(&self.hlc, clock);
        }
        me
    }

    /// Counters for STATS.
    pub fn snapshot(&self) -> BackendSnapshot {
        BackendSnapshot {
            metrics: self.metrics.snapshot(self.pools.iter().map(Pool::reconnects).sum()),
            probes: self.probes.load(Ordering::Relaxed),
            probe_failures: self.probe_failures.load(Ordering::Relaxed),
            ejections: self.health.ejections(),
            in_flight: u32::try_from(self.load.in_flight()).unwrap_or(u32::MAX),
        }
    }

    fn on_flip(&self, flip: Option<Flip>) {
        match flip {
            Some(Flip::Ejected) if !self.reached.load(Ordering::Relaxed) => {
                info!(node = %self.name, addr = %self.addr, "node not reachable yet; probing it");
            }
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

/// Merges a node's clock into the router's, unless it is further ahead of the router's wall
/// clock than any node accepts (then the node's clock is wrong, and following it would make
/// every write of this router refused).
pub fn observe(hlc: &Hlc, clock: u64) {
    if crate::version::within_skew(clock) {
        hlc.observe(clock);
    }
}

/// A reply with an error status that is the node's fault, as an error; client faults
/// (the request's own) stay replies.
fn judge(outcome: Result<ResponseFrame, Error>) -> Result<ResponseFrame, Error> {
    let resp = outcome?;
    match resp.status() {
        Some(s) if s.is_error() && !is_client_fault(s) => Err(Error::Server {
            status: s,
            message: String::from_utf8_lossy(&resp.payload).into_owned(),
        }),
        _ => Ok(resp),
    }
}

fn failure_kind(e: &Error) -> Failure {
    match e {
        Error::Connect { source, .. } if source.kind() == std::io::ErrorKind::ConnectionRefused => {
            Failure::Refused
        }
        _ => Failure::Other,
    }
}
