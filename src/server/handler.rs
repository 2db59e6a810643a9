//! The store-backed [`Handler`]: screens each [`Command`] through the auth gate and the
//! shard check, then runs it with [`cmd::execute`] against the local store. What the
//! connection-level commands need from a server (INFO sections, CONFIG parameters, shard
//! dumps) is its [`crate::cmd::Env`], in `env.rs`.

use std::future::{Ready, ready};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::auth::{Gate, Password, Screened};
use crate::cmd::config::Config;
use crate::cmd::{self, Command, Ctx, Services};
use crate::codec::Inbound;
use crate::net::{Handler, NetConfig, NetStats, Session};
use crate::protocol::Reply;
use crate::store::Store;

use super::env::server_config;
use super::shards::ShardFilter;

pub use crate::cmd::internal::MAX_VERSION_SKEW;

/// Answers requests from the local store.
#[derive(Debug)]
pub struct StoreHandler {
    pub(super) store: Arc<Store>,
    pub(super) net: Arc<NetStats>,
    pub(super) started: Instant,
    pub(super) port: u16,
    pub(super) services: Arc<Services>,
    pub(super) config: Config,
    pub(super) shards: Option<Arc<ShardFilter>>,
    pub(super) gate: Gate,
}

impl StoreHandler {
    /// A handler over `store`, reporting `net` counters and settings from `cfg`.
    pub fn new(store: Arc<Store>, net: Arc<NetStats>, cfg: &NetConfig, port: u16) -> Self {
        let services = Arc::new(Services::new(cfg.max_connections, cfg.idle_timeout));
        let gate = Gate::default();
        let config = server_config(&store, &services, &gate, cfg, port);
        Self { store, net, started: Instant::now(), port, services, config, shards: None, gate }
    }

    /// Require clients to AUTH with `password` first (`None`: no password).
    pub fn with_password(self, password: Option<Password>) -> Self {
        self.gate.set_password(password);
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

    /// The connection-level state (clients, monitors, slow log).
    pub fn services(&self) -> &Arc<Services> {
        &self.services
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
        let mut ctx = Ctx::new(session, self, Some(&*self.store));
        cmd::execute(command, &mut ctx)
    }
}

impl Handler for StoreHandler {
    type Future = Ready<Reply>;

    fn session(&self, id: u64, peer: SocketAddr) -> Session {
        self.gate.session(id, peer)
    }

    fn services(&self) -> Option<&Services> {
        Some(&self.services)
    }

    fn call(&self, session: &mut Session, command: Command) -> Ready<Reply> {
        ready(self.apply(session, command))
    }

    /// A pipelined run's keys are prefetched together, so their cache misses overlap; a
    /// lone request gains nothing from it.
    fn prepare(&self, run: &[Inbound]) {
        if run.len() > 1 {
            let commands = run.iter().filter_map(|inbound| inbound.command.as_ref().ok());
            self.store.prefetch(commands.flat_map(|c| c.keys()).map(|key| &key[..]));
        }
    }
}
