//! shale: a Redis-like distributed cache.
//!
//! Data flows one way: bytes -> [`codec`] -> [`cmd::Command`] -> [`server`] -> [`store`]
//! -> [`protocol::Reply`] -> [`codec`] -> bytes. Every command is declared once in [`cmd`];
//! the router and the client reuse [`protocol`], [`cmd`] and [`codec`]; nothing parses the
//! wire twice.

pub mod auth;
pub mod bench;
pub mod cli;
pub mod client;
pub mod cluster;
pub mod cmd;
pub mod codec;
#[doc(hidden)]
pub mod fuzzing;
pub mod metrics;
pub mod net;
pub mod protocol;
pub mod router;
pub mod server;
pub mod shardmap;
pub mod store;
#[doc(hidden)]
pub mod testdir;
pub mod tls;
pub mod units;
pub mod version;
