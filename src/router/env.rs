//! The router's [`Env`]: what the shared connection-level commands (INFO, CONFIG, CLIENT,
//! COMMAND, ...) see of a router. COMMAND lists only what the router runs.

use std::sync::Arc;
use std::time::Instant;

use super::Inner;
use super::handler::FORWARDED;
use crate::auth::Gate;
use crate::cmd::config::Config;
use crate::cmd::{ConnCounts, Env, Role, Route, Section, Services, Spec};

/// CONFIG's parameters for a router: the shared ones and `requirepass`. Router-specific
/// settings (timeouts, read policy) come with issue 15.
pub(super) fn router_config(services: &Arc<Services>, gate: &Gate, port: u16) -> Config {
    gate.config_param(Config::shared(services.clone(), port))
}

impl Env for Inner {
    fn role(&self) -> Role {
        Role::Router
    }

    fn services(&self) -> &Services {
        &self.services
    }

    fn config(&self) -> &Config {
        &self.config
    }

    fn port(&self) -> u16 {
        self.port
    }

    fn started(&self) -> Instant {
        self.started
    }

    fn requires_auth(&self) -> bool {
        self.gate.requires_auth()
    }

    fn conn_counts(&self) -> ConnCounts {
        self.net.counts()
    }

    fn info(&self) -> Vec<Section> {
        let topo = self.topology.load();
        super::stats::sections(&self.stats, &self.net, &topo, self.watcher.rejected())
    }

    fn reset_stats(&self) {
        self.net.reset();
    }

    /// Same-shard commands run on the coordinator when their keys share a shard.
    fn supports(&self, spec: &Spec) -> bool {
        matches!(spec.route, Route::Connection | Route::ReadModifyWrite | Route::SameShard)
            || FORWARDED.contains(&spec.name)
    }
}
