//! The store-backed [`Handler`]: dispatches each [`Command`] to its function in `cmd`.

use std::future::{Ready, ready};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::auth::{Gate, Password, Screened};
use crate::codec::Inbound;
use crate::net::{Handler, NetConfig, NetStats, Session};
use crate::protocol::dump::{DUMP_PAGE_MAX_BYTES, DUMP_PAGE_MAX_ITEMS, DumpPage, encode_page};
use crate::protocol::{Command, Reply, Status};
use crate::store::Store;

use super::cmd::{admin, expiry, info, keys};
use super::shards::ShardFilter;

/// Answers requests from the local store.
#[derive(Debug)]
pub struct StoreHandler {
    store: Arc<Store>,
    net: Arc<NetStats>,
    started: Instant,
    port: u16,
    settings: Vec<(&'static str, String)>,
    shards: Option<Arc<ShardFilter>>,
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
        Self { store, net, started: Instant::now(), port, settings, shards: None, gate }
    }

    /// Require clients to AUTH with `password` first (`None`: no password).
    pub fn with_password(mut self, password: Option<Password>) -> Self {
        self.gate = Gate::new(password);
        self
    }

    /// Answer WRONG_SHARD for keys of shards this node does not host.
    pub fn with_shards(mut self, shards: Option<Arc<ShardFilter>>) -> Self {
        self.shards = shards;
        self
    }

    /// The store this handler serves.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The shards this node serves (`--shardmap`), if it is a cluster node.
    pub fn shards(&self) -> Option<&Arc<ShardFilter>> {
        self.shards.as_ref()
    }

    /// Wrong passwords received since start.
    pub fn auth_failures(&self) -> u64 {
        self.gate.failures()
    }

    fn info_source(&self) -> info::InfoSource<'_> {
        info::InfoSource {
            store: &self.store,
            net: &self.net,
            started: self.started,
            port: self.port,
        }
    }

    /// One page of a shard's entries (the shard's readiness was checked already).
    fn dump(&self, shard: u32, cursor: u64, max_items: u32) -> Reply {
        let Some(filter) = &self.shards else {
            return Reply::error(
                Status::InvalidArgument,
                "SHARD_DUMP needs a server started with --shardmap",
            );
        };
        let map = filter.served().map.clone();
        let in_shard = |key: &[u8]| map.shard_for_key(key) == shard;
        let max = match max_items as usize {
            0 => DUMP_PAGE_MAX_ITEMS,
            n => n.min(DUMP_PAGE_MAX_ITEMS),
        };
        let (entries, next) = self.store.dump_page(cursor, max, DUMP_PAGE_MAX_BYTES, &in_shard);
        let records = entries.into_iter().map(super::sync::to_record).collect();
        Reply::Bulk(encode_page(&DumpPage { records, next }))
    }

    /// Answers one command synchronously.
    pub fn apply(&self, session: &mut Session, command: Command) -> Reply {
        let command = match self.gate.screen(session, command) {
            Screened::Forward(command) => command,
            Screened::Answer(reply) => return reply,
        };
        if let Some(Err(e)) = self.shards.as_ref().map(|s| s.check(&command)) {
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
            Command::VSet { version, .. } | Command::VDel { version, .. }
                if too_far_ahead(version) =>
            {
                Reply::error(Status::InvalidArgument, "version is too far in the future")
            }
            Command::VSet { key, value, ttl, version } => {
                match store.try_set_versioned(&key, &value, ttl, version) {
                    Ok(applied) => Reply::Int(i64::from(applied)),
                    Err(e) => keys::store_error(&e),
                }
            }
            Command::VDel { key, version } => {
                Reply::Int(i64::from(store.del_versioned(&key, version)))
            }
            Command::ShardDump { shard, cursor, max_items } => self.dump(shard, cursor, max_items),
        }
    }
}

/// How far ahead of this node's wall clock a write version may be. Every version a store
/// sees moves its clock forward, so one absurd version would drag all later ones with it.
pub const MAX_VERSION_SKEW: std::time::Duration = std::time::Duration::from_secs(600);

fn too_far_ahead(version: u64) -> bool {
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let limit = u64::try_from((now + MAX_VERSION_SKEW).as_millis()).unwrap_or(u64::MAX);
    crate::version::millis_of(version) > limit
}

impl Handler for StoreHandler {
    type Future = Ready<Reply>;

    fn session(&self, id: u64, peer: SocketAddr) -> Session {
        self.gate.session(id, peer)
    }

    fn call(&self, session: &mut Session, command: Command) -> Ready<Reply> {
        ready(self.apply(session, command))
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
