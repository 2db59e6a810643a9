//! Connections from this node to the other nodes of the map: one multiplexed connection per
//! peer, opened on first use and dropped on failure (the next call reconnects, re-resolving
//! the address), plus the NODE_STATUS poll the lifecycle decisions read.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use parking_lot::Mutex;

use super::decide::Peer;
use crate::client::{Connection, ConnectionConfig, Error};
use crate::protocol::Status;
use crate::protocol::binary::{RequestFrame, ResponseFrame};
use crate::protocol::cluster::{NodeStatus, node_status_frame};
use crate::shardmap::ShardMap;

/// Connect timeout to a peer.
pub const PEER_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Deadline of a NODE_STATUS poll.
pub const STATUS_TIMEOUT: Duration = Duration::from_secs(1);

/// How a node connects to its peers: nodes of one cluster are expected to share a
/// password, so a node authenticates with its own; with `tls`, over TLS.
pub fn peer_config(
    password: Option<crate::auth::Password>,
    tls: Option<Arc<crate::tls::TlsConnector>>,
) -> ConnectionConfig {
    ConnectionConfig { connect_timeout: PEER_CONNECT_TIMEOUT, password, tls, ..Default::default() }
}

/// Why a call to a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The peer is not in the map.
    #[error("{0} is not in the map")]
    Unknown(String),
    /// Transport failure or timeout.
    #[error("{peer}: {source}")]
    Call {
        /// The peer's name.
        peer: String,
        /// The client error.
        #[source]
        source: Error,
    },
    /// The peer answered with an error status.
    #[error("{peer} answered {}: {message}", status.name())]
    Refused {
        /// The peer's name.
        peer: String,
        /// Its status.
        status: Status,
        /// Its message.
        message: String,
    },
    /// The peer's reply did not decode.
    #[error("{peer}: malformed {what} reply")]
    Malformed {
        /// The peer's name.
        peer: String,
        /// Which reply.
        what: &'static str,
    },
}

/// This node's connections to its peers.
#[derive(Debug)]
pub struct Peers {
    me: String,
    cfg: ConnectionConfig,
    conns: Mutex<HashMap<String, (String, Arc<Connection>)>>,
}

impl Peers {
    /// Connections of node `me`, made with `cfg`.
    pub fn new(me: &str, cfg: ConnectionConfig) -> Self {
        Self { me: me.to_owned(), cfg, conns: Mutex::new(HashMap::new()) }
    }

    /// Sends `frame` to node `peer` of `map`; an error status is [`PeerError::Refused`].
    pub async fn call(
        &self,
        map: &ShardMap,
        peer: &str,
        frame: RequestFrame,
        timeout: Duration,
    ) -> Result<ResponseFrame, PeerError> {
        let spec = map.node(peer).ok_or_else(|| PeerError::Unknown(peer.to_owned()))?;
        let addr = spec.addr_string();
        let conn = self.conn(peer, &addr).await?;
        let resp = conn.call(frame, timeout).await.map_err(|source| {
            self.conns.lock().remove(peer);
            PeerError::Call { peer: peer.to_owned(), source }
        })?;
        match resp.status() {
            Some(s) if s.is_error() => Err(PeerError::Refused {
                peer: peer.to_owned(),
                status: s,
                message: String::from_utf8_lossy(&resp.payload).into_owned(),
            }),
            _ => Ok(resp),
        }
    }

    async fn conn(&self, peer: &str, addr: &str) -> Result<Arc<Connection>, PeerError> {
        if let Some((a, c)) = self.conns.lock().get(peer) {
            if a == addr && !c.is_closed() {
                return Ok(c.clone());
            }
        }
        let conn = Connection::connect(addr, &self.cfg)
            .await
            .map_err(|source| PeerError::Call { peer: peer.to_owned(), source })?;
        let conn = Arc::new(conn);
        self.conns.lock().insert(peer.to_owned(), (addr.to_owned(), conn.clone()));
        Ok(conn)
    }

    /// NODE_STATUS of every other node of `map`, concurrently. A node that does not answer,
    /// or answers with another name (a map pointing at the wrong process), is unreachable.
    pub async fn statuses(&self, map: &ShardMap) -> HashMap<String, Option<NodeStatus>> {
        let names: Vec<String> =
            map.nodes().map(|n| n.name.clone()).filter(|n| *n != self.me).collect();
        let polls = names.iter().map(|name| async move {
            let resp = self.call(map, name, node_status_frame(), STATUS_TIMEOUT).await.ok()?;
            let status = NodeStatus::decode(&resp.payload)?;
            (status.name == *name).then_some(status)
        });
        names.iter().cloned().zip(join_all(polls).await).collect()
    }
}

/// What `status` says of `shard`, as the decisions read it.
pub fn peer_view(status: Option<&NodeStatus>, shard: u32) -> Peer {
    status.map_or(Peer::Unreachable, |s| Peer::Up(s.shard(shard)))
}
