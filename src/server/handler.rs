//! The store-backed [`Handler`]: screens each [`Command`] through the auth gate and, on a
//! cluster node, the shard admission check ([`super::node`]'s), then runs it with
//! [`cmd::execute`] against the local store (an RMW request's command through the node's
//! coordinator check, see `node/rmw.rs`). Everything is answered synchronously except three
//! cluster operations that wait for work elsewhere (a digest's walk of the store, a shard
//! sync's rounds with peers, a fence's wait for running read-modify-writes). What the
//! connection-level commands need from a server (INFO sections, CONFIG parameters, shard
//! dumps) is its [`crate::cmd::Env`], in `env.rs`.

use std::future::{Future, Ready, ready};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use futures_util::future::Either;

use crate::auth::{Gate, Password, Screened};
use crate::cmd::config::Config;
use crate::cmd::internal::needs_cluster;
use crate::cmd::{self, Command, Ctx, Services};
use crate::codec::Inbound;
use crate::net::{Handler, NetConfig, NetStats, Session};
use crate::protocol::cluster::Digest;
use crate::protocol::{Limits, Reply, Status};
use crate::store::Store;

use super::env::server_config;
use super::node::Cluster;
use super::shard_ops;

pub use crate::cmd::internal::MAX_VERSION_SKEW;

/// A reply that needs waiting for: a boxed future.
pub type Pending = Pin<Box<dyn Future<Output = Reply> + Send>>;

/// Answers requests from the local store.
#[derive(Debug)]
pub struct StoreHandler {
    pub(super) store: Arc<Store>,
    pub(super) net: Arc<NetStats>,
    pub(super) started: Instant,
    pub(super) port: u16,
    pub(super) services: Arc<Services>,
    pub(super) config: Config,
    pub(super) cluster: Option<Arc<Cluster>>,
    pub(super) limits: Limits,
    pub(super) gate: Gate,
}

impl StoreHandler {
    /// A handler over `store`, reporting `net` counters and settings from `cfg`.
    pub fn new(store: Arc<Store>, net: Arc<NetStats>, cfg: &NetConfig, port: u16) -> Self {
        let services = Arc::new(Services::new(cfg.max_connections, cfg.idle_timeout));
        let gate = Gate::default();
        let config = server_config(&store, &services, &gate, cfg, port);
        Self {
            store,
            net,
            started: Instant::now(),
            port,
            services,
            config,
            cluster: None,
            limits: cfg.limits,
            gate,
        }
    }

    /// Require clients to AUTH with `password` first (`None`: no password).
    pub fn with_password(self, password: Option<Password>) -> Self {
        self.gate.set_password(password);
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

    /// This server as a cluster node (`--shardmap`), if it is one.
    pub fn node(&self) -> Option<&Arc<super::Node>> {
        self.cluster.as_ref().map(|c| &c.node)
    }

    /// The store this handler serves.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The connection-level state (clients, monitors, slow log).
    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    /// Wrong passwords received since start.
    pub fn auth_failures(&self) -> u64 {
        self.gate.failures()
    }

    /// Answers one command synchronously.
    pub fn apply(&self, session: &mut Session, command: Command) -> Reply {
        let command = match self.gate.screen(session, command) {
            Screened::Forward(command) => command,
            Screened::Answer(reply) => return reply,
        };
        if let Some(Err(e)) = self.cluster.as_ref().map(|c| c.node.check(&command)) {
            // Inside MULTI a key this node cannot serve fails the transaction at queue
            // time, as Redis Cluster's -MOVED does: EXEC then aborts.
            session.tx.fail();
            return Reply::Error(e);
        }
        let mut ctx = Ctx::new(session, self, Some(&*self.store));
        match (command, &self.cluster) {
            (Command::Rmw(args), Some(c)) => c.node.rmw(&self.store, *args, &mut ctx),
            (Command::VSet(mut a), Some(c)) => {
                let (key, version, ids) = (a.key.clone(), a.version, std::mem::take(&mut a.ids));
                let apply = || cmd::execute(Command::VSet(a), &mut ctx);
                c.node.outcome_write(&key, version, ids.as_slice(), apply)
            }
            (Command::VDel(mut a), Some(c)) => {
                let (key, version, ids) = (a.key.clone(), a.version, std::mem::take(&mut a.ids));
                let apply = || cmd::execute(Command::VDel(a), &mut ctx);
                c.node.outcome_write(&key, version, ids.as_slice(), apply)
            }
            (command, _) => cmd::execute(command, &mut ctx),
        }
    }

    /// The cluster operations that wait: a digest (a walk of the store, off the runtime's
    /// threads), a shard sync (rounds with peers), a fence (the shard's running
    /// read-modify-writes), and the router's shard operations (walks of the store too, on
    /// cluster nodes and plain servers alike). `None` for everything else.
    fn waiting(&self, session: &mut Session, command: &Command) -> Option<Pending> {
        if matches!(command, Command::VFlush(_) | Command::ShardCount(_) | Command::ShardScan(_)) {
            return self.shard_op(session, command);
        }
        if !matches!(command, Command::Digest(_) | Command::Sync(_) | Command::Fence(_)) {
            return None;
        }
        let Some(cluster) = self.cluster.clone() else {
            return Some(Box::pin(ready(Reply::Error(needs_cluster()))));
        };
        if !session.authenticated {
            return None;
        }
        if let Err(e) = cluster.node.check(command) {
            return Some(Box::pin(ready(Reply::Error(e))));
        }
        Some(match command {
            Command::Fence(a) => {
                let (shard, by) = (a.shard, a.by.clone());
                Box::pin(async move {
                    match cluster.node.coord().fence(shard, &by).await {
                        Ok(()) => {
                            let clock = cluster.store.hlc().peek();
                            let ids = cluster.node.rmw_ids_of(shard);
                            Reply::Bulk(crate::protocol::rmw::FenceOk { clock, ids }.encode())
                        }
                        Err(e) => Reply::error(Status::Timeout, e.to_string()),
                    }
                })
            }
            &Command::Digest(a) => Box::pin(async move {
                let c = cluster.clone();
                let (shard, fresh) = (a.shard, a.fresh);
                let buckets =
                    tokio::task::spawn_blocking(move || c.node.digest(&c.store, shard, fresh))
                        .await
                        .unwrap_or_default();
                let (clock, flushed) = (cluster.store.hlc().peek(), cluster.store.flush_floor());
                Reply::Bulk(Digest { clock, buckets, flushed }.encode())
            }),
            &Command::Sync(a) => Box::pin(async move {
                match cluster.sync(a.shard).await {
                    Ok(applied) => Reply::Int(i64::try_from(applied).unwrap_or(i64::MAX)),
                    Err(why) => Reply::error(Status::NotReady, why),
                }
            }),
            _ => return None,
        })
    }
}

impl StoreHandler {
    /// VFLUSH, SHARD_COUNT or SHARD_SCAN, once the gate and (on a node) the shard check
    /// passed; an unauthenticated session gets the gate's answer through `apply`.
    fn shard_op(&self, session: &mut Session, command: &Command) -> Option<Pending> {
        if !session.authenticated {
            return None;
        }
        if let Some(Err(e)) = self.cluster.as_ref().map(|c| c.node.check(command)) {
            return Some(Box::pin(ready(Reply::Error(e))));
        }
        let (store, cluster, command) = (self.store.clone(), self.cluster.clone(), command.clone());
        Some(Box::pin(async move {
            let work = move || match command {
                Command::VFlush(v) => shard_ops::vflush(&store, cluster.as_ref(), v),
                Command::ShardCount(r) => shard_ops::count(&store, r.num_shards, &r.shards),
                Command::ShardScan(r) => shard_ops::scan(&store, &r),
                other => Reply::error(Status::Internal, format!("{} is no shard op", other.name())),
            };
            tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
                Reply::error(Status::Internal, format!("shard operation failed: {e}"))
            })
        }))
    }
}

impl Handler for StoreHandler {
    type Future = Either<Ready<Reply>, Pending>;

    fn session(&self, id: u64, peer: SocketAddr) -> Session {
        self.gate.session(id, peer)
    }

    fn services(&self) -> Option<&Services> {
        Some(&self.services)
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
            self.store.prefetch(commands.flat_map(|c| c.keys()).map(|key| &key[..]));
        }
    }
}
