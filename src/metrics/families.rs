//! Writing metric families through prometheus-client's encoder: a thin layer so collectors
//! read as a list of `name, help, value` lines. Names are given whole (with their unit);
//! the encoder adds `_total` to counters and writes HELP and TYPE for each family.

use std::fmt;

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::net::tally::{Class, LatencySnapshot};
use crate::net::{CommandTally, NetStats};
use crate::shardmap::MapWatcher;

/// Labels of one sample: `(name, value)` pairs.
pub type Labels = Vec<(&'static str, String)>;

/// One scrape's output.
pub struct Out<'a> {
    enc: DescriptorEncoder<'a>,
}

impl<'a> Out<'a> {
    /// Writes through `enc`.
    pub fn new(enc: DescriptorEncoder<'a>) -> Self {
        Self { enc }
    }

    /// A counter without labels; `name` without `_total`.
    pub fn counter(&mut self, name: &str, help: &str, value: u64) -> fmt::Result {
        let m = self.enc.encode_descriptor(name, help, None, MetricType::Counter)?;
        ConstCounter::new(value).encode(m)
    }

    /// A gauge without labels.
    pub fn gauge(&mut self, name: &str, help: &str, value: f64) -> fmt::Result {
        let m = self.enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
        ConstGauge::new(value).encode(m)
    }

    /// A counter family: one sample per row. Nothing is written for no rows.
    pub fn counters(&mut self, name: &str, help: &str, rows: &[(Labels, u64)]) -> fmt::Result {
        if rows.is_empty() {
            return Ok(());
        }
        let mut m = self.enc.encode_descriptor(name, help, None, MetricType::Counter)?;
        for (labels, value) in rows {
            ConstCounter::new(*value).encode(m.encode_family(labels)?)?;
        }
        Ok(())
    }

    /// A gauge family: one sample per row. Nothing is written for no rows.
    pub fn gauges(&mut self, name: &str, help: &str, rows: &[(Labels, f64)]) -> fmt::Result {
        if rows.is_empty() {
            return Ok(());
        }
        let mut m = self.enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
        for (labels, value) in rows {
            ConstGauge::new(*value).encode(m.encode_family(labels)?)?;
        }
        Ok(())
    }

    /// A histogram family: one histogram per row.
    pub fn histograms(
        &mut self,
        name: &str,
        help: &str,
        rows: &[(Labels, LatencySnapshot)],
    ) -> fmt::Result {
        let mut m = self.enc.encode_descriptor(name, help, None, MetricType::Histogram)?;
        for (labels, h) in rows {
            let mut sample = m.encode_family(labels)?;
            sample.encode_histogram::<NoLabelSet>(h.sum_seconds, h.count, &h.buckets, None)?;
        }
        Ok(())
    }

    /// What the connection loop counts, for server and router alike: connections, bytes,
    /// requests by command and outcome, and latency by class.
    pub fn net(&mut self, net: &NetStats) -> fmt::Result {
        let get = NetStats::get;
        self.gauge(
            "shale_connections",
            "Client connections open now.",
            get(&net.connections) as f64,
        )?;
        self.counter(
            "shale_connections_accepted",
            "Client connections accepted since start.",
            get(&net.accepted),
        )?;
        self.counter(
            "shale_connections_rejected",
            "Client connections refused at the connection limit.",
            get(&net.rejected),
        )?;
        self.counter(
            "shale_connections_moved",
            "Client connections moved to another worker thread since start.",
            get(&net.placement.moved),
        )?;
        let by_worker: Vec<(Labels, f64)> = (net.placement.open_by_worker().into_iter())
            .enumerate()
            .map(|(w, n)| (vec![("worker", w.to_string())], n as f64))
            .collect();
        if !by_worker.is_empty() {
            self.gauges(
                "shale_worker_connections",
                "Client connections open now, by worker thread.",
                &by_worker,
            )?;
        }
        self.counter("shale_net_received_bytes", "Bytes read from clients.", net.bytes_in.get())?;
        self.counter("shale_net_sent_bytes", "Bytes written to clients.", net.bytes_out.get())?;
        self.commands(&net.by_command)
    }

    fn commands(&mut self, tally: &CommandTally) -> fmt::Result {
        let rows: Vec<(Labels, u64)> = tally
            .counts()
            .into_iter()
            .map(|c| {
                let labels = vec![
                    ("command", command_label(c.command)),
                    ("outcome", c.outcome.name().to_owned()),
                ];
                (labels, c.count)
            })
            .collect();
        self.counters(
            "shale_commands",
            "Requests answered, by command and outcome (invalid: could not be parsed).",
            &rows,
        )?;
        let rows: Vec<(Labels, LatencySnapshot)> = Class::ALL
            .iter()
            .map(|&class| (vec![("class", class.name().to_owned())], tally.latency(class)))
            .collect();
        self.histograms(
            "shale_command_duration_seconds",
            "Time from handing a request to the handler to its reply being complete, by class.",
            &rows,
        )
    }

    /// Facts every process reports: its version and start time, and whether it is ready.
    pub fn process(&mut self, started_unix: f64, ready: bool) -> fmt::Result {
        let version = vec![("version", env!("CARGO_PKG_VERSION").to_owned())];
        self.gauges("shale_build_info", "Always 1; the version is a label.", &[(version, 1.0)])?;
        self.gauge(
            "shale_start_time_seconds",
            "Start time, in seconds since the Unix epoch.",
            started_unix,
        )?;
        self.gauge(
            "shale_ready",
            "1 when /readyz answers 200, else 0.",
            f64::from(u8::from(ready)),
        )?;
        if let Some(rss) = crate::cmd::info::resident_memory() {
            self.gauge(
                "shale_resident_memory_bytes",
                "Resident set size of the process.",
                rss as f64,
            )?;
        }
        Ok(())
    }

    /// The shard map being followed: which version, how many refused, its size.
    pub fn map(&mut self, watcher: &MapWatcher) -> fmt::Result {
        let map = watcher.current();
        self.gauge(
            "shale_map_generation",
            "Shard maps swapped in since start (0: none loaded yet).",
            watcher.generation() as f64,
        )?;
        self.counter(
            "shale_map_reload_failures",
            "Shard map reloads refused (invalid or unreadable file); the last good map stays.",
            watcher.reload_failures(),
        )?;
        let shards = if watcher.has_map() { map.num_shards() } else { 0 };
        self.gauge("shale_map_shards", "numShards of the current shard map.", f64::from(shards))?;
        self.gauge("shale_map_nodes", "Nodes in the current shard map.", map.nodes().count() as f64)
    }
}

/// The `command` label: a command's name in upper case (`GET`, `CONFIG|GET`), as the
/// binary protocol and redis-cli write them; the tally's `invalid` and `other` as they are.
fn command_label(name: &str) -> String {
    match name {
        crate::net::tally::INVALID_NAME | crate::net::tally::OVERFLOW_NAME => name.to_owned(),
        _ => name.to_ascii_uppercase(),
    }
}
