//! The shale client: an async [`Client`] (and a [`blocking`] one) speaking the binary
//! protocol, multiplexing any number of concurrent requests over each connection.
//!
//! Layers, bottom up:
//! - [`Connection`]: one TCP connection to one address. Callers register in an in-flight
//!   table that assigns request ids; a writer task sends everything queued in one write;
//!   a reader task matches replies to callers by id, in any order. A reply that fits no
//!   request resets the connection rather than reaching the wrong caller.
//! - [`Pool`]: N connections to one address, round-robin, reconnected lazily with
//!   exponential backoff ([`ReconnectPolicy`]). The router reuses these two for its
//!   backends.
//! - [`Client`]: one pool per configured address with in-order failover, client-side
//!   limit checks, typed results, per-call timeouts, [`Pipeline`]s and [`ClientMetrics`];
//!   [`Client::cmd`] runs any command through the CMD opcode and returns a [`RespValue`].
//!
//! Any of these speaks TLS when its [`ConnectionConfig`] has a [`crate::tls::TlsConnector`]
//! ([`ClientBuilder::tls`], or a `shales://host:port` address, see [`url`]).
//!
//! The wire format itself belongs to [`crate::protocol`] and [`crate::codec`]; this module
//! never parses bytes on its own.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! # let server = shale::server::Server::start(shale::server::ServerConfig::loopback(0)).await.unwrap();
//! # let addr = server.local_addr().to_string();
//! use std::time::Duration;
//! use shale::client::Client;
//!
//! let client = Client::connect(addr).await.expect("server is up");
//! client.set("user:1", "ada").await.unwrap();
//! assert_eq!(client.get("user:1").await.unwrap().as_deref(), Some(&b"ada"[..]));
//! client.set_ttl("session", "xyz", Duration::from_secs(30)).await.unwrap();
//! assert!(client.del("user:1").await.unwrap());
//! assert_eq!(client.get("user:1").await.unwrap(), None);
//!
//! // Clones share the connection; requests from many tasks run concurrently.
//! let tasks: Vec<_> = (0..10)
//!     .map(|i| {
//!         let client = client.clone();
//!         tokio::spawn(async move { client.set(format!("k{i}"), format!("v{i}")).await })
//!     })
//!     .collect();
//! for task in tasks {
//!     task.await.unwrap().unwrap();
//! }
//! let rtt = client.ping().await.unwrap();
//! let keys = client.stats().await.unwrap().get_u64("keys");
//! println!("rtt {rtt:?}, {keys:?} keys, {:?}", client.metrics());
//!
//! // Errors say what went wrong and whether a retry may help.
//! let err = client.get("").await.unwrap_err();
//! assert!(!err.is_retryable());
//! # server.shutdown().await;
//! # }
//! ```

mod batch;
pub mod blocking;
mod blocking_strings;
mod builder;
pub mod config;
mod connection;
pub mod dialect;
mod error;
mod handle;
mod inflight;
mod keyspace;
pub(crate) mod metrics;
mod pending;
mod pipeline;
mod pool;
mod reply;
mod request;
mod stats;
mod strings;
mod sweep;
mod tasks;
mod tx;
pub mod url;

pub use crate::protocol::text::RespValue;
pub use builder::ClientBuilder;
pub use config::{ConnectionConfig, Greeting, ReconnectPolicy};
pub use connection::Connection;
pub(crate) use connection::Sent;
pub use error::Error;
pub use handle::Client;
pub use keyspace::{ExpireCondition, ScanOptions};
pub use metrics::{ClientMetrics, Latency};
pub use pipeline::Pipeline;
pub use pool::Pool;
pub use reply::{TtlState, Value};
pub use stats::Stats;
pub use strings::{BitUnit, GetExpiry, SetOptions, SetResult};
pub use sweep::SWEEP_TICK;
pub use tx::{TRANSACTION_ATTEMPTS, Transaction};
