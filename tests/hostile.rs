//! Hostile clients against an in-process server and router, over real TCP on 127.0.0.1:0:
//! slowloris, a reader that never reads, connection floods, huge declared lengths, random
//! and mutated bytes, broken backends behind the router, and authentication.
//!
//! Each scenario prints what it measured (the latency of a well-behaved client during the
//! attack, the process RSS, which is the in-process server's too), so `cargo test --test
//! hostile -- --nocapture` doubles as a report. Assertions are deliberately loose so that
//! a loaded 2-core machine passes; scenarios run one at a time ([`support::serial`])
//! because RSS and latency are process-wide.
#![allow(missing_docs, clippy::unwrap_used)]

#[path = "common/mod.rs"]
mod common;

#[path = "hostile/auth.rs"]
mod auth;
#[path = "hostile/backends.rs"]
mod backends;
#[path = "hostile/flood.rs"]
mod flood;
#[path = "hostile/garbage.rs"]
mod garbage;
#[path = "hostile/router_auth.rs"]
mod router_auth;
#[path = "hostile/slow.rs"]
mod slow;
#[path = "hostile/support.rs"]
mod support;
