//! INFO (text) and STATS (binary): one list of fields, rendered two ways. The field names
//! `keys`, `expired_keys`, `get_hits`, `get_misses`, `commands`, `connections`,
//! `used_memory` and `sweep_last_pass_ms` are a public contract; Redis-compatible aliases
//! are added so existing dashboards and redis-py's `info()` work.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::net::NetStats;
use crate::protocol::Reply;
use crate::store::Store;

/// Everything INFO reads.
#[derive(Debug, Clone)]
pub struct InfoSource<'a> {
    /// The store.
    pub store: &'a Store,
    /// Connection counters.
    pub net: &'a NetStats,
    /// When the server started.
    pub started: Instant,
    /// The port it listens on.
    pub port: u16,
    /// For a cluster node, its "Cluster" section's fields.
    pub cluster: Option<Vec<(String, String)>>,
}

type Section = (&'static str, Vec<(String, String)>);

fn sections(src: &InfoSource<'_>) -> Vec<Section> {
    let owned = |(name, fields): (&'static str, Vec<(&'static str, String)>)| {
        (name, fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    };
    let mut out: Vec<Section> = base_sections(src).into_iter().map(owned).collect();
    if let Some(cluster) = &src.cluster {
        out.push(("Cluster", cluster.clone()));
    }
    out
}

fn base_sections(src: &InfoSource<'_>) -> Vec<(&'static str, Vec<(&'static str, String)>)> {
    let s = src.store.stats();
    let n = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed).to_string();
    let uptime = src.started.elapsed().as_secs();
    let rss = resident_memory().map_or_else(String::new, |b| b.to_string());
    vec![
        (
            "Server",
            vec![
                ("redis_version", "7.2.0".to_owned()),
                ("shale_version", env!("CARGO_PKG_VERSION").to_owned()),
                ("redis_mode", "standalone".to_owned()),
                ("process_id", std::process::id().to_string()),
                ("tcp_port", src.port.to_string()),
                ("uptime_in_seconds", uptime.to_string()),
            ],
        ),
        (
            "Clients",
            vec![
                ("connections", n(&src.net.connections)),
                ("connected_clients", n(&src.net.connections)),
            ],
        ),
        (
            "Memory",
            vec![
                ("used_memory", s.used_memory.to_string()),
                ("used_memory_rss", rss),
                ("maxmemory", src.store.options().maxmemory.to_string()),
            ],
        ),
        (
            "Stats",
            vec![
                ("keys", s.keys.to_string()),
                ("tombstones", s.tombstones.to_string()),
                ("expired_keys", s.expired_keys.to_string()),
                ("evictions", s.evictions.to_string()),
                ("evicted_keys", s.evictions.to_string()),
                ("get_hits", s.get_hits.to_string()),
                ("get_misses", s.get_misses.to_string()),
                ("keyspace_hits", s.get_hits.to_string()),
                ("keyspace_misses", s.get_misses.to_string()),
                ("commands", n(&src.net.commands)),
                ("total_commands_processed", n(&src.net.commands)),
                ("total_connections_received", n(&src.net.accepted)),
                ("rejected_connections", n(&src.net.rejected)),
                ("sweep_last_pass_ms", s.sweep_last_pass_ms.to_string()),
                ("sweep_passes", s.sweep_passes.to_string()),
            ],
        ),
        ("Keyspace", vec![("db0", format!("keys={},expires={},avg_ttl=0", s.keys, s.expiring))]),
    ]
}

/// INFO [section]: Redis-style `# Section` blocks of `name:value` lines.
pub fn info(section: Option<&str>, src: &InfoSource<'_>) -> Reply {
    let wanted = section.map(str::to_ascii_lowercase);
    let all = matches!(wanted.as_deref(), None | Some("all" | "everything" | "default"));
    let mut out = String::new();
    for (name, fields) in sections(src) {
        if !all && wanted.as_deref() != Some(&name.to_ascii_lowercase()) {
            continue;
        }
        let _ = write!(out, "# {name}\r\n");
        for (k, v) in fields {
            let _ = write!(out, "{k}:{v}\r\n");
        }
        out.push_str("\r\n");
    }
    Reply::Bulk(out.into())
}

/// STATS: every field as `name:value` lines, no section headers.
pub fn stats(src: &InfoSource<'_>) -> Reply {
    let mut out = String::new();
    for (_, fields) in sections(src) {
        for (k, v) in fields {
            let _ = writeln!(out, "{k}:{v}");
        }
    }
    Reply::Bulk(out.into())
}

/// Resident set size of this process in bytes, where the OS tells it.
pub fn resident_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;

    #[test]
    fn stats_has_the_contract_fields() {
        let store = Store::new(StoreConfig::default());
        let net = NetStats::default();
        let src = InfoSource {
            store: &store,
            net: &net,
            started: Instant::now(),
            port: 1,
            cluster: None,
        };
        let Reply::Bulk(text) = stats(&src) else { panic!("bulk") };
        let text = String::from_utf8(text.to_vec()).expect("utf8");
        for field in [
            "keys",
            "expired_keys",
            "get_hits",
            "get_misses",
            "commands",
            "connections",
            "used_memory",
            "sweep_last_pass_ms",
        ] {
            assert!(text.lines().any(|l| l.starts_with(&format!("{field}:"))), "{field}");
        }
    }

    #[test]
    fn info_section_filter() {
        let store = Store::new(StoreConfig::default());
        let net = NetStats::default();
        let src = InfoSource {
            store: &store,
            net: &net,
            started: Instant::now(),
            port: 1,
            cluster: None,
        };
        let Reply::Bulk(text) = info(Some("keyspace"), &src) else { panic!("bulk") };
        assert!(text.starts_with(b"# Keyspace\r\ndb0:keys=0"));
    }
}
