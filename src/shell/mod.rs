//! The binary's subcommands that run services (`server`, `router`, `cluster`): their flags
//! (how they start is in `run`, TLS flags in `tls`), `shale map` ([`map`]), and the global
//! allocator ([`alloc`]).
//! Binary-only: this is where `anyhow` is allowed. Errors are worded here as one line each
//! (see `main`).

#[cfg(feature = "mimalloc")]
pub mod alloc;
pub mod map;
mod run;
mod tls;

pub use run::{run_cluster, run_router, run_server};

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::anyhow;
use clap::{ArgAction, Args};
use shale::auth::{Password, check_protected_mode};
use shale::router::select::ReadPolicy;
use shale::router::write::WriteAck;
use shale::shardmap::MapError;
use shale::store::EvictionPolicy;
use shale::units::{parse_duration, parse_size};

/// Who may connect: the password clients must AUTH with, and protected mode. Shared by
/// `server` and `router`.
#[derive(Args)]
pub struct SecurityArgs {
    /// Clients must AUTH with this password first. Visible in `ps`: prefer
    /// --requirepass-file.
    #[arg(long, value_name = "PASS", conflicts_with = "requirepass_file")]
    pub requirepass: Option<String>,
    /// Read the client password from the first line of this file.
    #[arg(long, value_name = "PATH")]
    pub requirepass_file: Option<PathBuf>,
    /// yes: refuse to listen on a non-loopback address without a password.
    #[arg(long, value_name = "yes|no", default_value = "yes", action = ArgAction::Set,
          value_parser = parse_yes_no)]
    pub protected_mode: bool,
}

/// Where `/metrics`, `/healthz` and `/readyz` are served. Shared by `server` and `router`.
#[derive(Args)]
pub struct MetricsArgs {
    /// Serve Prometheus metrics and the /healthz and /readyz probes on this port (0 picks a
    /// free one); off unless given.
    #[arg(long, value_name = "PORT")]
    pub metrics_port: Option<u16>,
    /// Address of the metrics port. Loopback by default; a pod IP or 0.0.0.0 lets a kubelet
    /// probe it (it serves no data, so protected mode does not apply).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub metrics_bind: IpAddr,
}

impl MetricsArgs {
    fn addr(&self) -> Option<SocketAddr> {
        self.metrics_port.map(|port| SocketAddr::new(self.metrics_bind, port))
    }
}

/// Redis spells its switches yes/no.
pub fn parse_yes_no(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(format!("'{s}' is neither yes nor no")),
    }
}

impl SecurityArgs {
    /// The client password, after checking that listening on `bind` is allowed.
    fn password(&self, bind: IpAddr) -> anyhow::Result<Option<Password>> {
        let file = self.requirepass_file.as_deref();
        let password = Password::from_flag_or_file(self.requirepass.clone(), file)
            .map_err(flag("--requirepass"))?;
        check_protected_mode(bind, password.is_some(), self.protected_mode)?;
        Ok(password)
    }
}

#[derive(Args)]
pub struct ServerArgs {
    /// Address to listen on. Loopback by default.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Port to listen on (0 picks a free one; next to --tls-port, 0 means TLS only). Default
    /// 7379, or with --node the node's port in the shard map (a different --port is refused
    /// unless --behind-proxy).
    #[arg(long)]
    pub port: Option<u16>,
    /// Worker threads serving connections, each keeping its connections for their whole
    /// life; 0 = one per core. Redis is single-threaded; on a machine whose cores are
    /// shared with the clients, 1 can cost less CPU per request.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// After a read, a worker keeps polling its sockets this long before sleeping, while
    /// it serves at most 2 connections: lower latency at few connections for the CPU time
    /// it spins (e.g. 200us). 0 = never.
    #[arg(long, default_value = "0", value_parser = parse_duration)]
    pub busy_poll: Duration,
    /// Whether connections move between worker threads: packed onto fewer workers while
    /// that saves CPU, spread out again when a worker runs out of core and the machine
    /// has idle cores (INFO's worker_connections and connections_moved show it).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub balance: bool,
    /// Lock stripes of the store (a power of two, at most 65536); 0 = 4 x cores. Not the
    /// cluster's shards: those are in the shard map. (`--shards` is an old spelling.)
    #[arg(long, alias = "shards", default_value_t = 0, value_parser = parse_stripes)]
    pub stripes: usize,
    /// Most concurrent client connections.
    #[arg(long, default_value_t = shale::net::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Largest key, e.g. 8KiB.
    #[arg(long, default_value = "8KiB", value_parser = parse_size)]
    pub max_key_size: usize,
    /// Largest value, e.g. 1MiB.
    #[arg(long, default_value = "1MiB", value_parser = parse_size)]
    pub max_value_size: usize,
    /// Close connections idle this long (0 = never).
    #[arg(long, default_value = "300s", value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// Log level or tracing filter (RUST_LOG overrides).
    #[arg(long, default_value = "info")]
    pub log_level: String,
    /// Memory limit for keys and values (0 = none), e.g. 2GiB.
    #[arg(long, default_value = "0", value_parser = parse_size)]
    pub maxmemory: usize,
    /// What a write does past --maxmemory: noeviction (answer OOM) or clock (evict cold keys).
    #[arg(long, default_value = "noeviction", value_parser = parse_eviction)]
    pub eviction: EvictionPolicy,
    /// yes: turn transparent huge pages off for this process, as Redis's `disable-thp` does
    /// by default. With THP (mimalloc asks for it) memory is faulted in 2 MiB at a time, and
    /// the partly used huge pages cost about 20 bytes of RSS per small key.
    #[arg(long, value_name = "yes|no", default_value = "yes", action = ArgAction::Set,
          value_parser = parse_yes_no)]
    pub disable_thp: bool,
    /// Serve one node of a cluster: the shard map file (requires --node).
    #[arg(long, requires = "node")]
    pub shardmap: Option<PathBuf>,
    /// This server's node name in the shard map; keys of other shards get WRONG_SHARD.
    #[arg(long, requires = "shardmap")]
    pub node: Option<String>,
    /// The map's address for this node is a proxy or NAT in front of it, so --port may
    /// differ from the map's port.
    #[arg(long, requires = "node")]
    pub behind_proxy: bool,
    /// How long a delete's tombstone lives (cluster nodes): a replica away from its peers for
    /// half of it resynchronises before serving again.
    #[arg(long, default_value = "24h", value_parser = parse_duration)]
    pub tombstone_grace: Duration,
    /// Skews this process's clock (fault-injection tests only).
    #[arg(long, hide = true, default_value_t = 0, allow_negative_numbers = true)]
    pub debug_clock_offset_ms: i64,
    #[command(flatten)]
    pub security: SecurityArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten)]
    pub tls: tls::TlsArgs,
    #[command(flatten)]
    pub replication_tls: tls::ReplicationTlsArgs,
}

/// `--stripes`: 0 (automatic) or a power of two up to the store's limit.
pub fn parse_stripes(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    let max = shale::store::MAX_SHARDS;
    if n != 0 && (!n.is_power_of_two() || n > max) {
        return Err(format!("{n} is not a power of two up to {max} (or 0 for 4 per core)"));
    }
    Ok(n)
}

pub fn parse_eviction(s: &str) -> Result<EvictionPolicy, String> {
    match s {
        "noeviction" => Ok(EvictionPolicy::NoEviction),
        "clock" => Ok(EvictionPolicy::Clock),
        other => Err(format!("unknown eviction policy '{other}' (use noeviction or clock)")),
    }
}

#[derive(Args)]
pub struct RouterArgs {
    /// The shard map file (JSON), followed for changes and on SIGHUP.
    #[arg(long)]
    pub shardmap: PathBuf,
    /// Address to listen on. Loopback by default.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Port to listen on (0 picks a free one; next to --tls-port, 0 means TLS only).
    #[arg(long, default_value_t = shale::router::DEFAULT_ROUTER_PORT)]
    pub port: u16,
    /// Worker threads serving connections, each keeping its connections for their whole
    /// life; 0 = one per core. Redis is single-threaded; on a machine whose cores are
    /// shared with the clients, 1 can cost less CPU per request.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// After a read, a worker keeps polling its sockets this long before sleeping, while
    /// it serves at most 2 connections: lower latency at few connections for the CPU time
    /// it spins. 0 = never.
    #[arg(long, default_value = "200us", value_parser = parse_duration)]
    pub busy_poll: Duration,
    /// Whether connections move between worker threads: packed onto fewer workers while
    /// that saves CPU, spread out again when a worker runs out of core and the machine
    /// has idle cores (INFO's worker_connections and connections_moved show it).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub balance: bool,
    /// How reads pick a replica: random or p2c.
    #[arg(long, default_value = "random")]
    pub read_policy: ReadPolicy,
    /// Backend connect timeout.
    #[arg(long, default_value = "200ms", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    /// Timeout of one read attempt on one replica.
    #[arg(long, default_value = "250ms", value_parser = parse_duration)]
    pub read_timeout: Duration,
    /// Timeout of a write fan-out.
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    pub write_timeout: Duration,
    /// Timeout of a whole request, failovers included.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Most concurrent client connections.
    #[arg(long, default_value_t = shale::net::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Replicas that must ack a write before the client is answered: healthy (every replica
    /// not ejected, at least one), all, quorum or one.
    #[arg(long, default_value = "healthy")]
    pub write_ack: WriteAck,
    /// Skews this process's clock (fault-injection tests only).
    #[arg(long, hide = true, default_value_t = 0, allow_negative_numbers = true)]
    pub debug_clock_offset_ms: i64,
    /// Most writes queued for one unreachable node (hints); past it the node's shards are
    /// resynchronised when it is back.
    #[arg(long, default_value_t = shale::router::hints::MAX_HINTS_PER_NODE)]
    pub max_hints_per_node: usize,
    /// yes: turn transparent huge pages off for this process, as the server does: hints
    /// and connection buffers come and go, and huge pages would keep 2 MiB resident for
    /// each one partly in use.
    #[arg(long, value_name = "yes|no", default_value = "yes", action = ArgAction::Set,
          value_parser = parse_yes_no)]
    pub disable_thp: bool,
    /// Writer id of this router's version clock, 0-4095 (distinct per router; random in
    /// 2048-4095 if unset; nodes use 1-2047).
    #[arg(long, value_parser = clap::value_parser!(u16).range(0..=4095))]
    pub router_id: Option<u16>,
    /// Log level or tracing filter (RUST_LOG overrides).
    #[arg(long, default_value = "info")]
    pub log_level: String,
    #[command(flatten)]
    pub security: SecurityArgs,
    /// Password the router sends as AUTH on every backend connection. Visible in `ps`:
    /// prefer --backend-password-file.
    #[arg(long, value_name = "PASS", conflicts_with = "backend_password_file")]
    pub backend_password: Option<String>,
    /// Read the backend password from the first line of this file.
    #[arg(long, value_name = "PATH")]
    pub backend_password_file: Option<PathBuf>,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten)]
    pub tls: tls::TlsArgs,
    #[command(flatten)]
    pub backend_tls: tls::BackendTlsArgs,
}

#[derive(Args)]
pub struct ClusterArgs {
    /// Server processes.
    #[arg(long, default_value_t = 3)]
    pub nodes: u32,
    /// Shards in the map.
    #[arg(long, default_value_t = 16)]
    pub shards: u32,
    /// Replicas per shard.
    #[arg(long, default_value_t = 2)]
    pub replicas: u32,
    /// The router's port; node i listens on base-port + i.
    #[arg(long, default_value_t = 7400)]
    pub base_port: u16,
    /// Directory for the shard map (default: a folder under the system temp dir).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Prefixes a flag's error with the flag, as one line.
fn flag<E: std::fmt::Display>(name: &'static str) -> impl Fn(E) -> anyhow::Error {
    move |e| anyhow!("{name}: {e}")
}

/// A shard map error as one line naming the file once.
pub fn map_error(path: &std::path::Path, e: &MapError) -> String {
    match e {
        MapError::Unreadable { .. } | MapError::FileTooLarge { .. } => e.to_string(),
        other => format!("{}: {other}", path.display()),
    }
}

pub fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    /// `shale router`'s flags alone.
    #[derive(Parser)]
    struct Router {
        #[command(flatten)]
        args: super::RouterArgs,
    }

    /// The flags' defaults are written out for `--help`; they must be the library's, which
    /// a router built in code gets.
    #[test]
    fn the_router_flags_default_to_what_the_library_defaults_to() {
        let flags = Router::parse_from(["router", "--shardmap", "map.json"]).args;
        let lib = shale::router::RouterConfig::loopback(0, "map.json");
        assert_eq!(flags.busy_poll, lib.net.busy_poll);
        assert_eq!(flags.balance, lib.net.balance);
        assert_eq!(flags.connect_timeout, lib.timeouts.connect);
        assert_eq!(flags.read_timeout, lib.timeouts.read_try);
        assert_eq!(flags.write_timeout, lib.timeouts.write);
        assert_eq!(flags.request_timeout, lib.timeouts.request);
        assert_eq!(flags.max_connections, lib.net.max_connections);
        assert_eq!(flags.max_hints_per_node, lib.hints.max_hints);
    }
}
