//! The router's [`Env`]: what the shared connection-level commands (INFO, CONFIG, CLIENT,
//! COMMAND, ...) see of a router. COMMAND lists only what the router runs, by the same
//! [`plan`] its dispatch follows.

use std::sync::Arc;
use std::time::Instant;

use super::Inner;
use super::handler::{Plan, plan};
use super::settings::Settings;
use crate::auth::Gate;
use crate::cmd::config::Config;
use crate::cmd::{ConnCounts, Env, Role, Section, Services, Spec};

/// CONFIG's parameters for a router: the shared ones, `requirepass`, and the router's own
/// settings (timeouts, read policy, write-ack mode; see [`Settings`]).
pub(super) fn router_config(
    services: &Arc<Services>,
    gate: &Gate,
    settings: &Arc<Settings>,
    port: u16,
) -> Config {
    settings.params(gate.config_param(Config::shared(services.clone(), port)))
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

    /// What dispatch runs: every class but node-to-node operations and transactions.
    fn supports(&self, spec: &Spec) -> bool {
        !matches!(plan(spec.route), Plan::Refuse(_))
    }
}
