//! [`ClientBuilder`]: addresses (`host:port`, `shale://`, `shales://`), timeouts, pool
//! size, reconnect policy, limits, the password and TLS, each with a documented default.
//!
//! Owns validation of the settings; the numbers live in [`super::config`].

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::Error;
use super::config::{
    ConnectionConfig, DEFAULT_CONNECTIONS_PER_ADDR, DEFAULT_REQUEST_TIMEOUT, ReconnectPolicy,
};
use super::handle::{Client, Inner};
use super::pool::Pool;
use super::url::{Scheme, TLS_SCHEME, split_scheme};
use crate::auth::Password;
use crate::protocol::Limits;
use crate::tls::{ClientTlsConfig, TlsConnector};

/// Configures and creates a [`Client`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # let server = shale::server::Server::start(shale::server::ServerConfig::loopback(0)).await.unwrap();
/// # let primary = server.local_addr().to_string();
/// use std::time::Duration;
/// use shale::client::{Client, ReconnectPolicy};
///
/// let client = Client::builder()
///     .addr(primary)                 // tried first
///     .addr("127.0.0.1:1")           // failover target, in order
///     .connect_timeout(Duration::from_millis(250))
///     .request_timeout(Duration::from_millis(200))
///     .connections_per_addr(2)
///     .reconnect(ReconnectPolicy { base: Duration::from_millis(10), ..Default::default() })
///     .connect()
///     .await
///     .expect("the first address is up");
/// client.ping().await.expect("pong");
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    addrs: Vec<String>,
    connection: ConnectionConfig,
    request_timeout: Duration,
    connections_per_addr: usize,
    reconnect: ReconnectPolicy,
    password: Option<Bytes>,
    tls: Option<TlsChoice>,
}

/// TLS as set on the builder: files to load at `build`, or a connector made already.
#[derive(Debug, Clone)]
enum TlsChoice {
    Files(ClientTlsConfig),
    Connector(Arc<TlsConnector>),
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            addrs: Vec::new(),
            connection: ConnectionConfig::default(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            connections_per_addr: DEFAULT_CONNECTIONS_PER_ADDR,
            reconnect: ReconnectPolicy::default(),
            password: None,
            tls: None,
        }
    }
}

impl ClientBuilder {
    /// Adds an address (`host:port`, resolved at each connect; `shale://host:port` for plain
    /// TCP, `shales://host:port` for TLS). Addresses are used in the order given: the
    /// client moves to the next one when connecting fails.
    pub fn addr(mut self, addr: impl Into<String>) -> Self {
        self.addrs.push(addr.into());
        self
    }

    /// Adds several addresses, in order.
    pub fn addrs<I, A>(mut self, addrs: I) -> Self
    where
        I: IntoIterator<Item = A>,
        A: Into<String>,
    {
        self.addrs.extend(addrs.into_iter().map(Into::into));
        self
    }

    /// Longest a TCP connect may take. Default 1 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connection.connect_timeout = timeout;
        self
    }

    /// Deadline of each call (connection setup included) unless overridden with
    /// [`Client::with_timeout`]. Default 500 ms.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Connections per address; requests are spread round-robin. Default 1, which
    /// already multiplexes any number of concurrent requests.
    pub fn connections_per_addr(mut self, n: usize) -> Self {
        self.connections_per_addr = n;
        self
    }

    /// Backoff between reconnect attempts. Default 50 ms doubling to 5 s, with jitter.
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = policy;
        self
    }

    /// Key and value limits checked before sending. Default [`Limits::default`]; set them
    /// to the server's so oversize arguments fail without a round trip.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.connection.limits = limits;
        self
    }

    /// Most requests in flight per connection. Default 65 536.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.connection.max_in_flight = n;
        self
    }

    /// Authenticate every connection with AUTH `password` before using it (servers started
    /// with `--requirepass`). A refused password fails calls with [`Error::Auth`]; it is
    /// retried only after the reconnect backoff. An empty password is refused by `build`.
    pub fn password(mut self, password: impl Into<Bytes>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Speak TLS to every address without a `shale://` scheme: verify the server's
    /// certificate with `settings.ca_file` against the address's host (or
    /// `settings.server_name`), presenting `settings.cert_file` if given. The files are
    /// read by `build`. Needed for `shales://` addresses.
    pub fn tls(mut self, settings: ClientTlsConfig) -> Self {
        self.tls = Some(TlsChoice::Files(settings));
        self
    }

    /// Like [`ClientBuilder::tls`] with a connector already loaded (and shared, or reloaded
    /// by its owner).
    pub fn tls_connector(mut self, connector: Arc<TlsConnector>) -> Self {
        self.tls = Some(TlsChoice::Connector(connector));
        self
    }

    /// Every connection-level setting at once (replaces connect timeout, limits and
    /// in-flight limits set earlier; a [`ClientBuilder::password`] still applies).
    pub fn connection_config(mut self, cfg: ConnectionConfig) -> Self {
        self.connection = cfg;
        self
    }

    /// Creates the client without connecting: the first call connects. Needs no runtime.
    pub fn build(mut self) -> Result<Client, Error> {
        if self.addrs.is_empty() {
            return Err(Error::NoAddresses);
        }
        if self.request_timeout.is_zero() || self.connection.connect_timeout.is_zero() {
            return Err(Error::InvalidArgument("timeouts must be positive".into()));
        }
        if self.connections_per_addr == 0 {
            return Err(Error::InvalidArgument("connections_per_addr must be at least 1".into()));
        }
        if let Some(password) = self.password.take() {
            let password = Password::new(password)
                .map_err(|_| Error::InvalidArgument("the password is empty".into()))?;
            self.connection.password = Some(password);
        }
        let tls = match self.tls.take() {
            None => self.connection.tls.clone(),
            Some(TlsChoice::Connector(c)) => Some(c),
            Some(TlsChoice::Files(settings)) => Some(
                TlsConnector::new(settings)
                    .map_err(|e| Error::InvalidArgument(format!("TLS settings: {e}")))?,
            ),
        };
        let pools: Result<Box<[Pool]>, Error> =
            self.addrs.iter().map(|a| self.pool(a, tls.as_ref())).collect();
        let inner = Inner {
            pools: pools?,
            active: AtomicUsize::new(0),
            limits: self.connection.limits,
            metrics: Default::default(),
        };
        Ok(Client::from_parts(inner, self.request_timeout))
    }

    /// The pool of one address, with TLS as its scheme (or the builder) says.
    fn pool(&self, addr: &str, tls: Option<&Arc<TlsConnector>>) -> Result<Pool, Error> {
        let (scheme, bare) = split_scheme(addr).map_err(Error::InvalidArgument)?;
        let mut cfg = self.connection.clone();
        cfg.tls = match (scheme, tls) {
            (Scheme::Plain, _) => None,
            (Scheme::Tls, None) => {
                return Err(Error::InvalidArgument(format!(
                    "{addr}: a {TLS_SCHEME} address needs TLS settings (ClientBuilder::tls)"
                )));
            }
            (_, tls) => tls.cloned(),
        };
        Ok(Pool::new(bare, self.connections_per_addr, cfg, self.reconnect))
    }

    /// Creates the client and connects to the first reachable address (in order), so a
    /// wrong address fails here rather than on the first call.
    pub async fn connect(self) -> Result<Client, Error> {
        let attempts = u32::try_from(self.addrs.len()).unwrap_or(u32::MAX);
        let per_attempt = self.connection.connect_timeout;
        let client = self.build()?;
        // Each attempt ends within the connect timeout; one extra covers scheduling.
        let deadline = Instant::now() + per_attempt.saturating_mul(attempts.saturating_add(1));
        client.connection(deadline).await?;
        Ok(client)
    }
}
