//! What a router needs to start ([`RouterConfig`]) and its defaults.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use super::forward::Timeouts;
use super::health::HealthConfig;
use super::hints::HintLimits;
use super::select::ReadPolicy;
use super::write::WriteAck;
use crate::auth::Password;
use crate::net::{NetConfig, TlsListen};
use crate::tls::TlsConnector;

/// Default port of `shale router`.
pub const DEFAULT_ROUTER_PORT: u16 = 7380;
/// How long a router's worker busy-polls after a read ([`NetConfig::busy_poll`]): longer
/// than a backend's round trip plus a client's turn on loopback, so one connection's
/// request and its reply are each served without a wake-up. Nodes do not spin by default.
pub const DEFAULT_ROUTER_BUSY_POLL: Duration = Duration::from_micros(200);
/// Default multiplexed connections per backend node.
pub const DEFAULT_POOL_SIZE: usize = 2;

/// Everything a router needs to start.
#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// Address to listen on; port 0 picks a free port.
    pub addr: SocketAddr,
    /// A TLS port for clients too, or instead (`--tls-port`); reloads on SIGHUP.
    pub tls: Option<TlsListen>,
    /// TLS to the nodes, probes included (`--backend-tls`); `None` is plain TCP.
    pub backend_tls: Option<Arc<TlsConnector>>,
    /// Client-side connection limits and timeouts.
    pub net: NetConfig,
    /// The shard map file, followed for changes.
    pub map_path: PathBuf,
    /// How reads choose a replica.
    pub read_policy: ReadPolicy,
    /// Backend timeouts.
    pub timeouts: Timeouts,
    /// Traffic connections per backend node.
    pub pool_size: usize,
    /// Health thresholds and probe timing.
    pub health: HealthConfig,
    /// How many replicas must ack a write before the client is answered.
    pub write_ack: WriteAck,
    /// Writer id of this router's version clock (12 bits); distinct per router.
    pub router_id: u16,
    /// Clients must AUTH with this first (`--requirepass`); `None` lets everyone in.
    pub password: Option<Password>,
    /// Sent as AUTH on every backend connection, probes included (`--backend-password`).
    pub backend_password: Option<Password>,
    /// Bounds of each node's hint queue.
    pub hints: HintLimits,
    /// Resolves node addresses instead of the system resolver (tests); see
    /// [`crate::client::ConnectionConfig::resolver`].
    pub resolver: Option<crate::client::config::Resolver>,
}

impl RouterConfig {
    /// Defaults, listening on 127.0.0.1 at `port`, routing by the map at `map_path`.
    pub fn loopback(port: u16, map_path: impl Into<PathBuf>) -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            tls: None,
            backend_tls: None,
            net: NetConfig { busy_poll: DEFAULT_ROUTER_BUSY_POLL, ..NetConfig::default() },
            map_path: map_path.into(),
            read_policy: ReadPolicy::Random,
            timeouts: Timeouts::default(),
            pool_size: DEFAULT_POOL_SIZE,
            health: HealthConfig::default(),
            write_ack: WriteAck::Healthy,
            router_id: rand::thread_rng().gen_range(2048..=crate::version::MAX_WRITER_ID),
            password: None,
            backend_password: None,
            hints: HintLimits::default(),
            resolver: None,
        }
    }
}
