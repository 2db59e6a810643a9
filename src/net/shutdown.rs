//! Graceful shutdown: a handle on a running listener and its tasks, the signal wait used
//! by the binaries, and SIGHUP for the reloads.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::tls::{self, TlsAcceptor, TlsConnector};

/// A running listener (server or router) and every task it spawned.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    cancel: CancellationToken,
    tracker: TaskTracker,
    grace: Duration,
}

impl Running {
    /// Wraps the parts of a started service.
    pub fn new(
        addr: SocketAddr,
        cancel: CancellationToken,
        tracker: TaskTracker,
        grace: Duration,
    ) -> Self {
        Self { addr, cancel, tracker, grace }
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The token that stops everything when cancelled.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// The tracker every task of this service runs on.
    pub fn tracker(&self) -> &TaskTracker {
        &self.tracker
    }

    /// Stops accepting, lets in-flight replies drain, and waits up to the grace period.
    /// Returns whether every task finished in time.
    pub async fn shutdown(self) -> bool {
        self.cancel.cancel();
        self.tracker.close();
        let done = tokio::time::timeout(self.grace, self.tracker.wait()).await.is_ok();
        if done {
            info!(addr = %self.addr, "stopped");
        } else {
            warn!(addr = %self.addr, grace = ?self.grace, "grace period over, abandoning tasks");
        }
        done
    }
}

/// SIGINT and SIGTERM handlers, installed before a service announces it is listening:
/// a signal that arrives between "listening" and the wait must not kill the process with
/// the default action instead of shutting it down gracefully.
#[derive(Debug)]
pub struct Signals {
    #[cfg(unix)]
    handlers: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    /// Installs the handlers (needs a tokio runtime). Where they can't be installed,
    /// [`Signals::wait`] falls back to Ctrl-C.
    pub fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let handlers =
                signal(SignalKind::interrupt()).ok().zip(signal(SignalKind::terminate()).ok());
            Self { handlers }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Resolves on the first SIGINT or SIGTERM (Ctrl-C only on non-Unix).
    pub async fn wait(self) {
        #[cfg(unix)]
        if let Some((mut int, mut term)) = self.handlers {
            tokio::select! {
                _ = int.recv() => info!("SIGINT received, shutting down"),
                _ = term.recv() => info!("SIGTERM received, shutting down"),
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// SIGHUP as a stream of wake-ups (shard map and TLS reloads each install their own);
/// never fires where signals are unavailable.
#[derive(Debug)]
pub struct Hangup {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangup {
    /// Starts listening for SIGHUP (needs a tokio runtime); a signal from then on is not
    /// lost even if nobody is waiting yet.
    pub fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signal = signal(SignalKind::hangup())
                .map_err(
                    |err| warn!(error = %err, "cannot listen for SIGHUP; no reloads on SIGHUP"),
                )
                .ok();
            Self { signal }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    /// Resolves on the next SIGHUP; pends forever if there is no signal stream.
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(signal) = self.signal.as_mut() {
            if signal.recv().await.is_some() {
                return;
            }
            // The stream ended (the runtime is shutting down): stop listening.
            self.signal = None;
        }
        std::future::pending::<()>().await
    }
}

/// Reloads a service's TLS files (its listening certificate, and the client settings it
/// dials other nodes with) on each SIGHUP until `cancel` fires. A reload that fails is
/// logged at ERROR and the old files stay in use, so a half-written certificate never
/// breaks a running service. Connections already open keep the session they negotiated.
pub fn reload_tls_on_hangup(
    acceptor: Option<Arc<TlsAcceptor>>,
    connector: Option<Arc<TlsConnector>>,
    cancel: CancellationToken,
    tracker: &TaskTracker,
) {
    let listen = acceptor.into_iter().map(|a| a as Arc<dyn tls::Reload>);
    let items: Vec<Arc<dyn tls::Reload>> = listen.chain(connector.map(|c| c as _)).collect();
    if items.is_empty() {
        return;
    }
    let mut hangup = Hangup::install();
    tracker.spawn(async move {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                () = hangup.recv() => {}
            }
            for item in &items {
                match item.reload() {
                    Ok(()) => info!(what = item.describe(), "SIGHUP: TLS files reloaded"),
                    Err(e) => error!(
                        what = item.describe(),
                        error = %e,
                        "SIGHUP: TLS reload failed; keeping the files loaded before"
                    ),
                }
            }
        }
    });
}
