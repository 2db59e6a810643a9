//! A fake router backend: an in-process server whose handler answers probes as a plain
//! (non-cluster) server does, counts data requests, and can delay them or fail GETs.
#![allow(dead_code, missing_docs, clippy::unwrap_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use shale::cmd::Command;
use shale::net::{self, Handler, NetConfig, NetStats, Session};
use shale::protocol::cluster::WriteAck;
use shale::protocol::{Reply, Status};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A fake node: answers probes as a plain (non-cluster) server does, counts data requests,
/// can delay them or fail GETs.
#[derive(Default)]
pub struct Fake {
    pub delay: Duration,
    pub fail_gets: bool,
    pub data_requests: Arc<AtomicU64>,
}

impl Handler for Fake {
    type Future = Pin<Box<dyn Future<Output = Reply> + Send>>;

    fn call(&self, _: &mut Session, cmd: Command) -> Self::Future {
        let (delay, fail) = (self.delay, self.fail_gets);
        let probe = matches!(cmd, Command::Ping(_) | Command::NodeStatus(_) | Command::Sync(_));
        if !probe {
            self.data_requests.fetch_add(1, Ordering::Relaxed);
        }
        Box::pin(async move {
            // Data requests are slow; probes are answered at once so the node stays up.
            if !probe {
                tokio::time::sleep(delay).await;
            }
            match cmd {
                Command::Ping(_) => Reply::Simple("PONG"),
                Command::NodeStatus(_) | Command::Sync(_) => {
                    Reply::error(Status::InvalidArgument, "not a cluster node")
                }
                Command::Get(_) if fail => Reply::error(Status::Internal, "disk on fire"),
                Command::Get(_) => Reply::Bulk("fake".into()),
                Command::Del(_) => Reply::Int(1),
                Command::VSet { .. } | Command::VDel { .. } => {
                    Reply::Bulk(WriteAck { applied: true, clock: 0 }.encode())
                }
                _ => Reply::Ok,
            }
        })
    }
}

pub async fn fake(node: Fake) -> (SocketAddr, Arc<AtomicU64>, CancellationToken) {
    let listener = net::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let count = node.data_requests.clone();
    let cancel = CancellationToken::new();
    let cfg = Arc::new(NetConfig::default());
    let serve = net::serve(
        listener,
        Arc::new(node),
        cfg,
        Arc::new(NetStats::default()),
        cancel.clone(),
        TaskTracker::new(),
    );
    tokio::spawn(serve);
    (addr, count, cancel)
}
