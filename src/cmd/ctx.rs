//! What a command's `apply` sees: [`Ctx`] (the session, the keyspace, the [`Env`]), the
//! [`Env`] trait for what differs between a server and a router, and [`Services`], the
//! shared connection-level state (client registry, MONITOR hub, slow log, run-time net
//! limits) that both the commands and the connection loop use.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::clients::Clients;
use super::config::Config;
use super::monitor::Monitors;
use super::session::Session;
use super::slowlog::SlowLog;
use super::spec::Spec;
use crate::protocol::cluster::BucketSet;
use crate::protocol::{ErrorReply, Reply, Status};
use crate::store::Keyspace;

/// What process answers: a store-backed server or a router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `shale server`.
    Server,
    /// `shale router`.
    Router,
}

/// One INFO section: a title (`Server`, `Memory`, ...) and its `name:value` fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    /// The title, as INFO prints it after `# `.
    pub name: &'static str,
    /// Fields in order.
    pub fields: Vec<(String, String)>,
}

impl Section {
    /// An empty section.
    pub fn new(name: &'static str) -> Self {
        Self { name, fields: Vec::new() }
    }

    /// Appends a field.
    pub fn field(&mut self, name: impl Into<String>, value: impl ToString) -> &mut Self {
        self.fields.push((name.into(), value.to_string()));
        self
    }
}

/// Connection counters the Clients and Stats sections report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnCounts {
    /// Connections open now.
    pub open: u64,
    /// Connections accepted since start.
    pub accepted: u64,
    /// Connections refused at the limit.
    pub rejected: u64,
    /// Requests processed since start.
    pub commands: u64,
    /// Connections moved between worker threads since start.
    pub moved: u64,
    /// Connections open on each worker thread (empty off worker threads).
    pub by_worker: Vec<u64>,
}

/// What differs between the processes that answer commands. The connection-level
/// commands (INFO, CONFIG, CLIENT, ...) read everything process-specific through it.
pub trait Env: Send + Sync {
    /// Server or router.
    fn role(&self) -> Role;

    /// The shared connection-level state.
    fn services(&self) -> &Services;

    /// The CONFIG parameters.
    fn config(&self) -> &Config;

    /// The port clients connect to.
    fn port(&self) -> u16;

    /// When the process started serving.
    fn started(&self) -> Instant;

    /// Whether clients must authenticate (RESET deauthenticates them again).
    fn requires_auth(&self) -> bool;

    /// Connection counters.
    fn conn_counts(&self) -> ConnCounts;

    /// The process-specific INFO sections, by title: a server fills `Memory`, `Stats` and
    /// `Keyspace`, a router `Stats` and `Nodes`. Shared fields are added to these by the
    /// INFO command, and missing sections are filled with the shared fields only.
    fn info(&self) -> Vec<Section>;

    /// CONFIG RESETSTAT: zero the counters INFO reports.
    fn reset_stats(&self);

    /// Whether this process runs `spec`'s command (COMMAND lists only those).
    fn supports(&self, _spec: &Spec) -> bool {
        true
    }

    /// A versioned write was refused for clock skew (counted by cluster nodes).
    fn clock_skew_refused(&self) {}

    /// One page of a shard's entries for a peer (SHARD_DUMP: all of them; BUCKET_DUMP:
    /// those in `buckets`), with `ids` each entry's RMW ids after it; only cluster nodes
    /// have shards.
    fn shard_dump(
        &self,
        _shard: u32,
        _buckets: Option<&BucketSet>,
        _cursor: u64,
        _max_items: u32,
        _ids: bool,
    ) -> Result<Reply, ErrorReply> {
        Err(super::internal::needs_cluster())
    }

    /// The node's identity, clock, limits and shard states (NODE_STATUS); only cluster
    /// nodes have them.
    fn node_status(&self) -> Result<Reply, ErrorReply> {
        Err(super::internal::needs_cluster())
    }
}

/// Everything a command's `apply` may touch.
pub struct Ctx<'a> {
    /// The connection's state.
    pub session: &'a mut Session,
    /// The process.
    pub env: &'a dyn Env,
    keyspace: Option<&'a dyn Keyspace>,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx").field("session", &self.session.id).finish_non_exhaustive()
    }
}

impl<'a> Ctx<'a> {
    /// A context over `keyspace` (`None` where there is no local data, as in a router).
    pub fn new(
        session: &'a mut Session,
        env: &'a dyn Env,
        keyspace: Option<&'a dyn Keyspace>,
    ) -> Self {
        Self { session, env, keyspace }
    }

    /// The keyspace, or an internal error where there is none (a router asked to run a data
    /// command locally: a routing bug).
    pub fn keyspace(&self) -> Result<&'a dyn Keyspace, ErrorReply> {
        self.keyspace.ok_or_else(|| ErrorReply::new(Status::Internal, "no local keyspace here"))
    }

    /// The shared connection-level state.
    pub fn services(&self) -> &'a Services {
        self.env.services()
    }
}

/// State shared by every connection of one process: what CLIENT, MONITOR and SLOWLOG
/// read, and the net limits CONFIG SET may change while connections are open.
#[derive(Debug, Default)]
pub struct Services {
    /// Open connections.
    pub clients: Clients,
    /// MONITOR listeners.
    pub monitors: Monitors,
    /// Slow commands.
    pub slowlog: SlowLog,
    maxclients: AtomicUsize,
    idle_timeout_secs: AtomicU64,
}

impl Services {
    /// Services starting from these limits (`idle_timeout` `None` = never).
    pub fn new(maxclients: usize, idle_timeout: Option<Duration>) -> Self {
        let services = Self::default();
        services.set_maxclients(maxclients);
        services.set_idle_timeout(idle_timeout);
        services
    }

    /// Most open connections (`maxclients`).
    pub fn maxclients(&self) -> usize {
        self.maxclients.load(Ordering::Relaxed)
    }

    /// Sets `maxclients`; connections already open stay.
    pub fn set_maxclients(&self, n: usize) {
        self.maxclients.store(n, Ordering::Relaxed);
    }

    /// Idle connections close after this (`timeout`; `None` = never).
    pub fn idle_timeout(&self) -> Option<Duration> {
        match self.idle_timeout_secs.load(Ordering::Relaxed) {
            0 => None,
            s => Some(Duration::from_secs(s)),
        }
    }

    /// `timeout` in whole seconds, 0 for none (as CONFIG GET shows it).
    pub fn idle_secs(&self) -> i64 {
        i64::try_from(self.idle_timeout_secs.load(Ordering::Relaxed)).unwrap_or(i64::MAX)
    }

    /// Sets `timeout`; open connections use it from their next wait on.
    pub fn set_idle_timeout(&self, t: Option<Duration>) {
        // A sub-second timeout rounds up: 0 would mean "never".
        let secs = t.map_or(0, |t| t.as_secs().max(1));
        self.idle_timeout_secs.store(secs, Ordering::Relaxed);
    }
}
