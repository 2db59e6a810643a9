//! The INFO document: Redis's sections in Redis's order, the fields every process shares
//! (server facts, clients, CPU, persistence and replication stubs, cluster) merged with
//! what the [`Env`] reports (memory, stats and keyspace for a server; stats and nodes for
//! a router), and its two renderings (INFO's `# Section` blocks, STATS' bare lines).

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use super::ctx::{Env, Role, Section};

/// The Redis version shale reports, so clients enable what Redis 7.2 supports.
pub const REDIS_VERSION: &str = "7.2.0";

/// The sections INFO answers with no argument or `default`, in Redis's order; `all` and
/// `everything` add none, since shale has no command or latency stats sections.
pub const DEFAULT_SECTIONS: &[&str] = &[
    "Server",
    "Clients",
    "Memory",
    "Persistence",
    "Stats",
    "Replication",
    "CPU",
    "Modules",
    "Cluster",
    "Keyspace",
];

static ALLOCATOR: OnceLock<&'static str> = OnceLock::new();

/// Names the process's global allocator for INFO's `mem_allocator` (the binary calls this
/// when it installs one; the library never does, and reports `libc`).
pub fn set_mem_allocator(name: &'static str) {
    let _ = ALLOCATOR.set(name);
}

fn mem_allocator() -> &'static str {
    ALLOCATOR.get().copied().unwrap_or("libc")
}

/// A random 40-hex-digit id per process, as Redis's `run_id`.
fn run_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        (0..40).map(|_| char::from_digit(rand::random::<u32>() % 16, 16).unwrap_or('0')).collect()
    })
}

/// Every section, shared fields first and the environment's after them within a section;
/// sections only the environment knows (a router's `Nodes`) come last.
pub fn sections(env: &dyn Env) -> Vec<Section> {
    let mut own = env.info();
    let mut out: Vec<Section> = DEFAULT_SECTIONS
        .iter()
        .map(|&name| {
            let mut s = shared(env, name);
            if let Some(i) = own.iter().position(|o| o.name == name) {
                s.fields.extend(own.remove(i).fields);
            }
            s
        })
        .collect();
    out.extend(own);
    out
}

fn shared(env: &dyn Env, name: &'static str) -> Section {
    let mut s = Section::new(name);
    match name {
        "Server" => server(env, &mut s),
        "Clients" => clients(env, &mut s),
        "Memory" => memory(&mut s),
        "Persistence" => persistence(env, &mut s),
        "Stats" => {
            let c = env.conn_counts();
            s.field("total_connections_received", c.accepted);
            s.field("total_commands_processed", c.commands);
            s.field("rejected_connections", c.rejected);
            s.field("connections_moved", c.moved);
        }
        "Replication" => {
            s.field("role", "master").field("connected_slaves", 0);
            s.field("master_failover_state", "no-failover").field("master_replid", run_id());
            s.field("master_repl_offset", 0).field("repl_backlog_active", 0);
        }
        "CPU" => cpu(&mut s),
        "Cluster" => {
            s.field("cluster_enabled", 0);
        }
        _ => {}
    }
    s
}

fn server(env: &dyn Env, s: &mut Section) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let uptime = env.started().elapsed().as_secs();
    let exe = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default();
    s.field("redis_version", REDIS_VERSION).field("shale_version", env!("CARGO_PKG_VERSION"));
    s.field("redis_git_sha1", "00000000").field("redis_git_dirty", 0);
    s.field("redis_mode", "standalone").field("os", os());
    s.field("arch_bits", usize::BITS).field("multiplexing_api", multiplexing_api());
    s.field("process_id", std::process::id()).field("process_supervised", "no");
    s.field("run_id", run_id()).field("tcp_port", env.port());
    s.field("server_time_usec", now.as_micros()).field("uptime_in_seconds", uptime);
    s.field("uptime_in_days", uptime / 86_400).field("executable", exe);
    s.field("config_file", "");
    if env.role() == Role::Router {
        s.field("role", "router");
    }
}

fn clients(env: &dyn Env, s: &mut Section) {
    let services = env.services();
    let counts = env.conn_counts();
    let open = counts.open;
    let (max_in, max_out) = services.clients.max_buffers();
    s.field("connected_clients", open).field("connections", open);
    s.field("cluster_connections", 0).field("maxclients", services.maxclients());
    s.field("client_recent_max_input_buffer", max_in);
    s.field("client_recent_max_output_buffer", max_out);
    if !counts.by_worker.is_empty() {
        let by_worker: Vec<String> = counts.by_worker.iter().map(u64::to_string).collect();
        s.field("worker_connections", by_worker.join(","));
    }
    s.field("blocked_clients", 0).field("tracking_clients", 0).field("clients_in_timeout_table", 0);
}

fn memory(s: &mut Section) {
    let rss = resident_memory().unwrap_or(0);
    let total = total_system_memory().unwrap_or(0);
    s.field("used_memory_rss", rss).field("used_memory_rss_human", human(rss));
    s.field("total_system_memory", total).field("total_system_memory_human", human(total));
    s.field("mem_allocator", mem_allocator());
}

/// shale keeps nothing on disk: Redis's persistence fields, stating that.
fn persistence(env: &dyn Env, s: &mut Section) {
    let started = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
        - env.started().elapsed().as_secs();
    s.field("loading", 0).field("async_loading", 0).field("rdb_bgsave_in_progress", 0);
    s.field("rdb_last_save_time", started).field("rdb_last_bgsave_status", "ok");
    s.field("rdb_saves", 0).field("aof_enabled", 0).field("aof_rewrite_in_progress", 0);
    s.field("aof_last_write_status", "ok");
}

fn cpu(s: &mut Section) {
    let (user, sys) = cpu_seconds().unwrap_or((0.0, 0.0));
    s.field("used_cpu_sys", format!("{sys:.6}")).field("used_cpu_user", format!("{user:.6}"));
    s.field("used_cpu_sys_children", "0.000000").field("used_cpu_user_children", "0.000000");
}

/// INFO [section ...]: the chosen sections as `# Section` blocks of `name:value` lines.
/// No argument, `default`, `all` and `everything` choose every section; an unknown name
/// chooses nothing, as in Redis.
pub fn render_info(sections: &[Section], wanted: &[String]) -> String {
    let all = wanted.is_empty()
        || wanted.iter().any(|w| matches!(w.as_str(), "all" | "everything" | "default"));
    let mut out = String::new();
    for s in sections {
        if !all && !wanted.iter().any(|w| w.eq_ignore_ascii_case(s.name)) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        let _ = write!(out, "# {}\r\n", s.name);
        for (k, v) in &s.fields {
            let _ = write!(out, "{k}:{v}\r\n");
        }
    }
    out
}

/// STATS: every field as `name:value` lines, no section headers.
pub fn render_stats(sections: &[Section]) -> String {
    let mut out = String::new();
    for (k, v) in sections.iter().flat_map(|s| &s.fields) {
        let _ = writeln!(out, "{k}:{v}");
    }
    out
}

/// Redis's `bytesToHuman`: `0B`, `1.50K`, `2.00M`, ...
pub fn human(n: u64) -> String {
    let units = ["B", "K", "M", "G", "T", "P"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 { format!("{n}B") } else { format!("{v:.2}{}", units[i]) }
}

/// Resident set size of this process in bytes, where the OS tells it.
pub fn resident_memory() -> Option<u64> {
    proc_kib("/proc/self/status", "VmRSS:")
}

fn total_system_memory() -> Option<u64> {
    proc_kib("/proc/meminfo", "MemTotal:")
}

fn proc_kib(path: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// User and system CPU seconds of this process, from `/proc/self/stat` (whose clock ticks
/// are always 1/100 s, the kernel's fixed `USER_HZ`).
fn cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let mut f = rest.split_whitespace().skip(11);
    let user: f64 = f.next()?.parse().ok()?;
    let sys: f64 = f.next()?.parse().ok()?;
    Some((user / 100.0, sys / 100.0))
}

fn os() -> String {
    let read = |p| std::fs::read_to_string(p).map(|s: String| s.trim().to_owned()).ok();
    match (read("/proc/sys/kernel/ostype"), read("/proc/sys/kernel/osrelease")) {
        (Some(t), Some(r)) => format!("{t} {r} {}", std::env::consts::ARCH),
        _ => format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
    }
}

fn multiplexing_api() -> &'static str {
    match std::env::consts::OS {
        "linux" | "android" => "epoll",
        "macos" | "ios" | "freebsd" | "netbsd" | "openbsd" | "dragonfly" => "kqueue",
        "windows" => "iocp",
        _ => "poll",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(name: &'static str, fields: &[(&str, &str)]) -> Section {
        let fields = fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Section { name, fields }
    }

    #[test]
    fn render_picks_sections_like_redis() {
        let all = [s("Server", &[("a", "1")]), s("Keyspace", &[("db0", "keys=1")])];
        assert_eq!(render_info(&all, &[]), "# Server\r\na:1\r\n\r\n# Keyspace\r\ndb0:keys=1\r\n");
        assert_eq!(render_info(&all, &["keyspace".into()]), "# Keyspace\r\ndb0:keys=1\r\n");
        assert_eq!(render_info(&all, &["nosuch".into()]), "");
        assert_eq!(render_stats(&all), "a:1\ndb0:keys=1\n");
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(0), "0B");
        assert_eq!(human(1536), "1.50K");
        assert_eq!(human(100 * 1024 * 1024), "100.00M");
    }
}
