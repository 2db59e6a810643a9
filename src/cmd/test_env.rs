//! A minimal [`Env`] for unit tests of commands: shared CONFIG parameters plus a port, an
//! INFO keyspace section, no password.

use std::sync::Arc;
use std::time::Instant;

use super::config::Config;
use super::{ConnCounts, Env, Role, Section, Services};

/// A process that is neither server nor router, for tests.
pub(crate) struct TestEnv {
    pub(crate) services: Arc<Services>,
    config: Config,
    started: Instant,
}

impl TestEnv {
    pub(crate) fn new() -> Self {
        let services = Arc::new(Services::new(100, None));
        let config = Config::shared(services.clone(), 6379).secret("requirepass", |_, _| Ok(()));
        Self { services, config, started: Instant::now() }
    }
}

impl Env for TestEnv {
    fn role(&self) -> Role {
        Role::Server
    }

    fn services(&self) -> &Services {
        &self.services
    }

    fn config(&self) -> &Config {
        &self.config
    }

    fn port(&self) -> u16 {
        6379
    }

    fn started(&self) -> Instant {
        self.started
    }

    fn requires_auth(&self) -> bool {
        false
    }

    fn conn_counts(&self) -> ConnCounts {
        ConnCounts { open: 1, accepted: 1, rejected: 0, commands: 7, ..ConnCounts::default() }
    }

    fn info(&self) -> Vec<Section> {
        let mut keyspace = Section::new("Keyspace");
        keyspace.field("db0", "keys=1,expires=0,avg_ttl=0");
        vec![keyspace]
    }

    fn reset_stats(&self) {}
}
