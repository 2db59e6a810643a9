//! The store-backed [`Handler`]: dispatches each [`Command`] to its function in `cmd`.
//! Everything is answered synchronously from the store except two cluster operations that
//! wait for work elsewhere (a digest's walk of the store, a SYNC's rounds with peers).

use std::future::{Future, Ready, ready};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use futures_util::future::Either;

use crate::auth::{Gate, Password, Screened};
use crate::codec::Inbound;
use crate::net::{Handler, NetConfig, NetStats, Session};
use crate::protocol::cluster::{BucketSet, Digest, Stale, WriteAck};
use crate::protocol::dump::{DUMP_PAGE_MAX_BYTES, DUMP_PAGE_MAX_ITEMS, DumpPage, encode_page};
use crate::protocol::{Command, Limits, Reply, Status};
use crate::store::{Lww, Store};

use super::cmd::{admin, expiry, info, keys};
use super::node::Cluster;
use super::node::ae::to_record;
use super::node::digest::bucket_of;

/// A reply that needs waiting for: a boxed future.
pub type Pending = Pin<Box<dyn Future<Output = Reply> + Send>>;

/// Answers requests from the local store.
#[derive(Debug)]
pub struct StoreHandler {
    store: Arc<Store>,
    net: Arc<NetStats>,
    started: Instant,
    port: u16,
    settings: Vec<(&'static str, String)>,
    cluster: Option<Arc<Cluster>>,
    limits: Limits,
    gate: Gate,
}

impl StoreHandler {
    /// A handler over `store`, reporting `net` counters and settings from `cfg`.
    pub fn new(store: Arc<Store>, net: Arc<NetStats>, cfg: &NetConfig, port: u16) -> Self {
        let idle = cfg.idle_timeout.map_or(0, |d| d.as_secs());
        let settings = vec![
            ("save", String::new()),
            ("appendonly", "no".to_owned()),
            ("databases", "1".to_owned()),
            ("maxclients", cfg.max_connections.to_string()),
            ("timeout", idle.to_string()),
            ("maxmemory", store.options().maxmemory.to_string()),
            ("port", port.to_string()),
            ("proto-max-bulk-len", cfg.limits.max_value_size.to_string()),
        ];
        let gate = Gate::default();
        let limits = cfg.limits;
        Self { store, net, started: Instant::now(), port, settings, cluster: None, limits, gate }
    }

    /// Require clients to AUTH with `password` first (`None`: no password).
    pub fn with_password(mut self, password: Option<Password>) -> Self {
        self.gate = Gate::new(password);
        self
    }

    /// Serve as a node of a cluster: shard states decide what is answered (WRONG_SHARD,
    /// NOT_READY), and the cluster operations work.
    pub fn with_cluster(mut self, cluster: Option<Arc<Cluster>>) -> Self {
        self.cluster = cluster;
        self
    }

    /// The cluster this handler serves as a node of, if any.
    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.as_ref()
    }

    /// The store this handler serves.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// This server as a cluster node (`--shardmap`), if it is one.
    pub fn node(&self) -> Option<&Arc<super::Node>> {
        self.cluster.as_ref().map(|c| &c.node)
    }

    /// Wrong passwords received since start.
    pub fn auth_failures(&self) -> u64 {
        self.gate.failures()
    }

    fn info_source(&self) -> info::InfoSource<'_> {
        let cluster = self.cluster.as_ref().map(|c| {
            super::node::report::fields(&c.node, &self.store, c.node.watcher().rejected())
        });
        info::InfoSource {
            store: &self.store,
            net: &self.net,
            started: self.started,
            port: self.port,
            cluster,
        }
    }

    /// One page of a shard's entries (in `buckets`, if given); the shard's state was
    /// checked already.
    fn dump(&self, shard: u32, buckets: Option<&BucketSet>, cursor: u64, max_items: u32) -> Reply {
        let Some(cluster) = &self.cluster else { return needs_cluster() };
        let map = cluster.node.shards().map.clone();
        let wanted = |key: &[u8]| {
            map.shard_for_key(key) == shard && buckets.is_none_or(|b| b.contains(bucket_of(key)))
        };
        let max = match max_items as usize {
            0 => DUMP_PAGE_MAX_ITEMS,
            n => n.min(DUMP_PAGE_MAX_ITEMS),
        };
        let (entries, next) = self.store.dump_page(cursor, max, DUMP_PAGE_MAX_BYTES, &wanted);
        let records = entries.into_iter().map(to_record).collect();
        Reply::Bulk(encode_page(&DumpPage { records, next }))
    }

    /// A versioned write: applied last-writer-wins, or refused when its version is further
    /// ahead of this node's clock than [`MAX_VERSION_SKEW`].
    fn versioned(
        &self,
        key: &[u8],
        value: Option<&[u8]>,
        ttl: Option<std::time::Duration>,
        version: u64,
    ) -> Reply {
        let ahead = crate::version::ahead_of_wall_ms(version);
        if !crate::version::within_skew(version) {
            if let Some(c) = &self.cluster {
                c.node.count_clock_skew();
            }
            let msg = format!(
                "write version is {ahead} ms ahead of this node's clock (allowed skew {} ms): \
                 the writer's clock or this node's is wrong",
                MAX_VERSION_SKEW.as_millis()
            );
            return Reply::error(Status::ClockSkew, msg);
        }
        let clock = |store: &Store| store.hlc().peek();
        match self.store.write_versioned(key, value, ttl, version) {
            Ok(Lww::Applied { replaced_live }) => {
                let applied = if value.is_some() { true } else { replaced_live };
                Reply::Bulk(WriteAck { applied, clock: clock(&self.store) }.encode())
            }
            Ok(Lww::Stale { held }) => {
                Reply::Raw(Status::Stale, Stale { held, clock: clock(&self.store) }.encode())
            }
            Err(e) => keys::store_error(&e),
        }
    }

    /// Answers one command synchronously.
    pub fn apply(&self, session: &mut Session, command: Command) -> Reply {
        let command = match self.gate.screen(session, command) {
            Screened::Forward(command) => command,
            Screened::Answer(reply) => return reply,
        };
        if let Some(Err(e)) = self.cluster.as_ref().map(|c| c.node.check(&command)) {
            return Reply::Error(e);
        }
        let store = &*self.store;
        match command {
            Command::Get(key) => keys::get(store, &key),
            Command::Set(args) => keys::set(store, &args),
            Command::Del(k) => keys::del(store, &k),
            Command::Exists(k) => keys::exists(store, &k),
            Command::MGet(k) => keys::mget(store, &k),
            Command::MSet(pairs) => keys::mset(store, &pairs),
            Command::Ttl { key, unit } => expiry::ttl(store, &key, unit),
            Command::Expire { key, ttl } => expiry::expire(store, &key, ttl),
            Command::Persist(key) => expiry::persist(store, &key),
            Command::Ping(msg) => admin::ping(msg),
            Command::Echo(msg) => Reply::Bulk(msg),
            Command::DbSize => admin::dbsize(store),
            Command::FlushAll => admin::flushall(store),
            Command::Info(section) => info::info(section.as_deref(), &self.info_source()),
            Command::Stats => info::stats(&self.info_source()),
            Command::Select(db) => admin::select(db),
            Command::Hello(v) => admin::hello(v, session),
            Command::CommandDocs(args) => admin::command(&args),
            Command::ConfigGet(patterns) => admin::config_get(&patterns, &self.settings),
            Command::Client(args) => admin::client(&args, session),
            Command::Auth(_) => Reply::error(
                Status::InvalidArgument,
                "AUTH <password> called without any password configured for the default user. \
                 Are you sure your configuration is correct?",
            ),
            Command::Quit => Reply::Ok,
            Command::VSet { key, value, ttl, version } => {
                self.versioned(&key, Some(&value), ttl, version)
            }
            Command::VDel { key, version } => self.versioned(&key, None, None, version),
            Command::ShardDump { shard, cursor, max_items } => {
                self.dump(shard, None, cursor, max_items)
            }
            Command::BucketDump { shard, buckets, cursor } => {
                self.dump(shard, Some(&buckets), cursor, 0)
            }
            Command::NodeStatus => match &self.cluster {
                Some(c) => Reply::Bulk(c.node.status(store, &self.limits).encode()),
                None => needs_cluster(),
            },
            // Answered asynchronously by `call`; reaching here is a dispatch bug.
            Command::Digest { .. } | Command::Sync { .. } => {
                Reply::error(Status::Internal, "cluster operation dispatched synchronously")
            }
        }
    }

    /// The cluster operations that wait: a digest (a walk of the store, off the runtime's
    /// threads) and SYNC (rounds with peers). `None` for everything else.
    fn waiting(&self, session: &mut Session, command: &Command) -> Option<Pending> {
        if !matches!(command, Command::Digest { .. } | Command::Sync { .. }) {
            return None;
        }
        let Some(cluster) = self.cluster.clone() else {
            return Some(Box::pin(ready(needs_cluster())));
        };
        if !session.authenticated {
            return None;
        }
        if let Err(e) = cluster.node.check(command) {
            return Some(Box::pin(ready(Reply::Error(e))));
        }
        Some(match *command {
            Command::Digest { shard, fresh } => Box::pin(async move {
                let c = cluster.clone();
                let buckets =
                    tokio::task::spawn_blocking(move || c.node.digest(&c.store, shard, fresh))
                        .await
                        .unwrap_or_default();
                Reply::Bulk(Digest { clock: cluster.store.hlc().peek(), buckets }.encode())
            }),
            Command::Sync { shard } => Box::pin(async move {
                match cluster.sync(shard).await {
                    Ok(applied) => Reply::Int(i64::try_from(applied).unwrap_or(i64::MAX)),
                    Err(why) => Reply::error(Status::NotReady, why),
                }
            }),
            _ => return None,
        })
    }
}

/// How far ahead of this node's wall clock a write version may be (see
/// [`crate::version::MAX_CLOCK_SKEW`]); a write past it is refused with CLOCK_SKEW, which
/// the writer reports and hints.
pub const MAX_VERSION_SKEW: std::time::Duration = crate::version::MAX_CLOCK_SKEW;

fn needs_cluster() -> Reply {
    Reply::error(
        Status::InvalidArgument,
        "cluster operations need a server started with --shardmap and --node",
    )
}

impl Handler for StoreHandler {
    type Future = Either<Ready<Reply>, Pending>;

    fn session(&self, id: u64, peer: SocketAddr) -> Session {
        self.gate.session(id, peer)
    }

    fn call(&self, session: &mut Session, command: Command) -> Self::Future {
        match self.waiting(session, &command) {
            Some(pending) => Either::Right(pending),
            None => Either::Left(ready(self.apply(session, command))),
        }
    }

    /// A pipelined run's keys are prefetched together, so their cache misses overlap; a
    /// lone request gains nothing from it.
    fn prepare(&self, run: &[Inbound]) {
        if run.len() > 1 {
            let commands = run.iter().filter_map(|inbound| inbound.command.as_ref().ok());
            self.store.prefetch(commands.flat_map(Command::keys).map(|key| &key[..]));
        }
    }
}
