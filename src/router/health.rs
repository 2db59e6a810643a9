//! One backend node's health: passive (request failures) and active (probe results), with
//! ejection, probing backoff and readmission. State lives in atomics so the request path
//! reads it without a lock; every transition is reported once so it can be logged once.
//!
//! ```text
//!           3 consecutive failures, or a refused connection
//!   Up  ------------------------------------------------------>  Ejected
//!   ^                                                              |  probes with backoff
//!   |        2 consecutive good probes                             v  250 ms .. 10 s
//!   +---------------------------------------------------------- Probing (>= 1 good probe)
//! ```

use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use rand::Rng;

/// Health thresholds and probe timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthConfig {
    /// Consecutive request failures that eject a node.
    pub eject_after: u32,
    /// Consecutive failures, the last of them a probe, that eject a node. Lower than
    /// `eject_after` so an idle hung node is found within about two probe intervals.
    pub probe_eject_after: u32,
    /// Consecutive good probes that readmit an ejected node.
    pub readmit_after: u32,
    /// Probe interval for a node that is up (jittered +-20%).
    pub probe_interval: Duration,
    /// Deadline of one probe.
    pub probe_timeout: Duration,
    /// First probe delay after ejection; doubles per failed probe.
    pub backoff_base: Duration,
    /// Longest probe delay for an ejected node.
    pub backoff_max: Duration,
}

/// Default consecutive failures before ejection.
pub const DEFAULT_EJECT_AFTER: u32 = 3;
/// Default consecutive failures ending in a failed probe before ejection.
pub const DEFAULT_PROBE_EJECT_AFTER: u32 = 2;
/// Default consecutive good probes before readmission.
pub const DEFAULT_READMIT_AFTER: u32 = 2;
/// Default probe interval for nodes that are up.
pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// Default deadline of one probe.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_millis(200);
/// Default first probe delay after an ejection.
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_millis(250);
/// Default longest probe delay of an ejected node.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(10);

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            eject_after: DEFAULT_EJECT_AFTER,
            probe_eject_after: DEFAULT_PROBE_EJECT_AFTER,
            readmit_after: DEFAULT_READMIT_AFTER,
            probe_interval: DEFAULT_PROBE_INTERVAL,
            probe_timeout: DEFAULT_PROBE_TIMEOUT,
            backoff_base: DEFAULT_BACKOFF_BASE,
            backoff_max: DEFAULT_BACKOFF_MAX,
        }
    }
}

/// Where a node stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Serving traffic.
    Up,
    /// Taken out of rotation; probed with backoff.
    Ejected,
    /// Ejected, but the latest probes succeeded; readmitted after enough of them.
    Probing,
}

impl State {
    /// Lower-case name for STATS and logs.
    pub fn name(self) -> &'static str {
        match self {
            State::Up => "up",
            State::Ejected => "ejected",
            State::Probing => "probing",
        }
    }
}

/// How a request failed, for the passive check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The node refused the connection: nothing is listening, eject at once.
    Refused,
    /// Timeout, reset, bad reply or error status.
    Other,
}

/// A state change worth one log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flip {
    /// The node was taken out of rotation.
    Ejected,
    /// The node is back in rotation.
    Readmitted,
}

const UP: u8 = 0;
const EJECTED: u8 = 1;

/// Lock-free health of one node.
#[derive(Debug)]
pub struct Health {
    cfg: HealthConfig,
    state: AtomicU8,
    failures: AtomicU32,
    good_probes: AtomicU32,
    backoff_step: AtomicU32,
    ejections: AtomicU64,
    readmissions: AtomicU64,
}

impl Health {
    /// A node that starts out up.
    pub fn new(cfg: HealthConfig) -> Self {
        Self {
            cfg,
            state: AtomicU8::new(UP),
            failures: AtomicU32::new(0),
            good_probes: AtomicU32::new(0),
            backoff_step: AtomicU32::new(0),
            ejections: AtomicU64::new(0),
            readmissions: AtomicU64::new(0),
        }
    }

    /// Whether reads should skip this node. One relaxed load.
    pub fn is_ejected(&self) -> bool {
        self.state.load(Ordering::Relaxed) == EJECTED
    }

    /// The state for STATS.
    pub fn state(&self) -> State {
        match (self.is_ejected(), self.good_probes.load(Ordering::Relaxed)) {
            (false, _) => State::Up,
            (true, 0) => State::Ejected,
            (true, _) => State::Probing,
        }
    }

    /// Times this node was ejected.
    pub fn ejections(&self) -> u64 {
        self.ejections.load(Ordering::Relaxed)
    }

    /// Times this node was readmitted after an ejection.
    pub fn readmissions(&self) -> u64 {
        self.readmissions.load(Ordering::Relaxed)
    }

    /// A request to this node succeeded.
    pub fn record_success(&self) {
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Relaxed);
        }
    }

    /// A request to this node failed. Returns [`Flip::Ejected`] if this ejected it.
    pub fn record_failure(&self, kind: Failure) -> Option<Flip> {
        let n = self.failures.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        if kind == Failure::Refused || n >= self.cfg.eject_after {
            return self.eject();
        }
        None
    }

    /// A probe finished. Returns the flip it caused, if any.
    pub fn record_probe(&self, ok: bool) -> Option<Flip> {
        if !self.is_ejected() {
            return if ok {
                self.record_success();
                None
            } else {
                let n = self.failures.fetch_add(1, Ordering::Relaxed).saturating_add(1);
                if n >= self.cfg.probe_eject_after.min(self.cfg.eject_after) {
                    self.eject()
                } else {
                    None
                }
            };
        }
        if !ok {
            self.good_probes.store(0, Ordering::Relaxed);
            self.backoff_step.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let good = self.good_probes.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        if good < self.cfg.readmit_after {
            return None;
        }
        self.failures.store(0, Ordering::Relaxed);
        self.good_probes.store(0, Ordering::Relaxed);
        self.backoff_step.store(0, Ordering::Relaxed);
        let was = self.state.swap(UP, Ordering::AcqRel);
        if was != EJECTED {
            return None;
        }
        self.readmissions.fetch_add(1, Ordering::Relaxed);
        Some(Flip::Readmitted)
    }

    /// How long until the next probe: about the probe interval while up, backoff while
    /// ejected (good probes in a row come quickly so readmission is fast). Jittered so
    /// routers don't probe in lockstep.
    pub fn next_probe_in(&self) -> Duration {
        let base = if !self.is_ejected() {
            self.cfg.probe_interval
        } else if self.good_probes.load(Ordering::Relaxed) > 0 {
            self.cfg.backoff_base
        } else {
            let step = self.backoff_step.load(Ordering::Relaxed).min(16);
            self.cfg.backoff_base.saturating_mul(1 << step).min(self.cfg.backoff_max)
        };
        base.mul_f64(rand::thread_rng().gen_range(0.8..1.2))
    }

    fn eject(&self) -> Option<Flip> {
        let was = self.state.swap(EJECTED, Ordering::AcqRel);
        if was == EJECTED {
            return None;
        }
        self.good_probes.store(0, Ordering::Relaxed);
        self.backoff_step.store(0, Ordering::Relaxed);
        self.ejections.fetch_add(1, Ordering::Relaxed);
        Some(Flip::Ejected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health() -> Health {
        Health::new(HealthConfig::default())
    }

    #[test]
    fn three_failures_eject_and_success_resets() {
        let h = health();
        assert_eq!(h.record_failure(Failure::Other), None);
        assert_eq!(h.record_failure(Failure::Other), None);
        h.record_success();
        assert_eq!(h.record_failure(Failure::Other), None);
        assert_eq!(h.record_failure(Failure::Other), None);
        assert_eq!(h.record_failure(Failure::Other), Some(Flip::Ejected));
        assert!(h.is_ejected());
        assert_eq!(h.record_failure(Failure::Other), None, "flips are reported once");
        assert_eq!(h.ejections(), 1);
    }

    #[test]
    fn refused_ejects_at_once() {
        let h = health();
        assert_eq!(h.record_failure(Failure::Refused), Some(Flip::Ejected));
        assert_eq!(h.state(), State::Ejected);
    }

    #[test]
    fn two_good_probes_readmit_and_a_bad_one_restarts() {
        let h = health();
        h.record_failure(Failure::Refused);
        assert_eq!(h.record_probe(true), None);
        assert_eq!(h.state(), State::Probing);
        assert_eq!(h.record_probe(false), None);
        assert_eq!(h.state(), State::Ejected);
        assert_eq!(h.record_probe(true), None);
        assert_eq!(h.record_probe(true), Some(Flip::Readmitted));
        assert_eq!(h.state(), State::Up);
        assert_eq!((h.ejections(), h.readmissions()), (1, 1));
    }

    #[test]
    fn failed_probes_of_an_up_node_count_as_failures() {
        let h = health();
        assert_eq!(h.record_probe(false), None);
        assert_eq!(h.record_probe(false), Some(Flip::Ejected));
    }

    #[test]
    fn probe_backoff_doubles_to_the_cap() {
        let h = health();
        let within =
            |d: Duration, base: Duration| d >= base.mul_f64(0.79) && d <= base.mul_f64(1.21);
        assert!(within(h.next_probe_in(), DEFAULT_PROBE_INTERVAL));
        h.record_failure(Failure::Refused);
        assert!(within(h.next_probe_in(), Duration::from_millis(250)));
        h.record_probe(false);
        assert!(within(h.next_probe_in(), Duration::from_millis(500)));
        for _ in 0..20 {
            h.record_probe(false);
        }
        assert!(within(h.next_probe_in(), DEFAULT_BACKOFF_MAX));
    }
}
