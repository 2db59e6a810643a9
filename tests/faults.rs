//! Faults, each asserting what users were promised (README: "Consistency model"): real
//! `shale server` and `shale router` processes, a TCP fault proxy in front of every node
//! (which can also play an old version of it), paused processes, skewed clocks (a hidden
//! `--debug-clock-offset-ms` flag), restarts and map edits. Every wait is bounded; the
//! bounds are generous so a loaded 2-core machine passes, and what each test promises is
//! checked exactly (no lost OK'd write, no deleted key back, identical replicas).
#![allow(missing_docs, clippy::unwrap_used)]

#[path = "common/mod.rs"]
mod common;

#[path = "faults/clocks.rs"]
mod clocks;
#[path = "faults/coord.rs"]
mod coord;
#[path = "faults/exact.rs"]
mod exact;
#[path = "faults/ids.rs"]
mod ids;
#[path = "faults/keyspace.rs"]
mod keyspace;
#[path = "faults/moves.rs"]
mod moves;
#[path = "faults/network.rs"]
mod network;
#[path = "faults/oldpeer.rs"]
mod oldpeer;
#[path = "faults/orphans.rs"]
mod orphans;
#[path = "faults/proxy.rs"]
mod proxy;
#[path = "faults/repair.rs"]
mod repair;
#[path = "faults/safety.rs"]
mod safety;
#[path = "faults/support.rs"]
mod support;
#[path = "faults/versions.rs"]
mod versions;
#[path = "faults/watch.rs"]
mod watch;
