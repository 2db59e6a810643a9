//! Fetching the metrics endpoint over HTTP and checking its text against Prometheus's
//! conventions (what `promtool check metrics` lints), with `prometheus-parse`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use prometheus_parse::{Sample, Scrape, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{WAIT, connect};

/// Sends `request` as is and returns (status code, head, body) of the response.
pub async fn http_raw(addr: SocketAddr, request: &[u8]) -> (u16, String, String) {
    let mut stream = connect(addr).await;
    stream.write_all(request).await.unwrap();
    let mut bytes = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut bytes))
        .await
        .expect("reply in time")
        .unwrap();
    let text = String::from_utf8(bytes).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status code");
    (status, head.to_owned(), body.to_owned())
}

/// `GET path`: (status, body).
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: shale\r\n\r\n");
    let (status, _, body) = http_raw(addr, request.as_bytes()).await;
    (status, body)
}

/// Scrapes `/metrics`, checks it against the conventions, and returns it parsed.
pub async fn scrape(addr: SocketAddr) -> Metrics {
    let (status, body) = get(addr, "/metrics").await;
    assert_eq!(status, 200, "{body}");
    lint(&body);
    let scrape = Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).expect("parses");
    Metrics { scrape }
}

/// A parsed scrape.
pub struct Metrics {
    pub scrape: Scrape,
}

impl Metrics {
    /// The samples of `name` whose labels include every pair of `labels`.
    pub fn samples<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&str, &str)],
    ) -> impl Iterator<Item = &'a Sample> {
        self.scrape.samples.iter().filter(move |s| {
            s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
        })
    }

    /// The value of the one counter or gauge sample of `name` with `labels`; 0 if absent.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples(name, labels)
            .map(|s| match s.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
                _ => panic!("{name} is not a counter or gauge"),
            })
            .sum()
    }

    /// The sample count of the histogram `name` with `labels`.
    pub fn histogram_count(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples(name, labels)
            .map(|s| match &s.value {
                Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
                _ => panic!("{name} is not a histogram"),
            })
            .sum()
    }
}

/// Unit abbreviations promtool refuses in names.
const ABBREVIATIONS: &[&str] = &[
    "ms", "us", "ns", "sec", "secs", "msec", "usec", "millis", "micros", "kb", "mb", "gb", "kib",
    "mib",
];

/// The rules of `promtool check metrics` (promlint) that apply to what shale exports,
/// plus shale's own: every family has HELP and TYPE, `shale_` prefix, snake_case, counters
/// and only counters end in `_total`, base units, histograms in seconds with ordered,
/// cumulative buckets ending at +Inf.
pub fn lint(text: &str) {
    let mut help = BTreeSet::new();
    let mut types = BTreeMap::new();
    for line in text.lines() {
        let mut words = line.splitn(4, ' ');
        match (words.next(), words.next(), words.next(), words.next()) {
            (Some("#"), Some("HELP"), Some(name), Some(text)) => {
                assert!(!text.trim().is_empty(), "{name}: empty HELP");
                assert!(help.insert(name.to_owned()), "{name}: two HELP lines");
            }
            (Some("#"), Some("TYPE"), Some(name), Some(kind)) => {
                assert!(
                    types.insert(name.to_owned(), kind.to_owned()).is_none(),
                    "{name}: two TYPE lines"
                );
            }
            (Some("#"), ..) => panic!("unexpected comment line: {line}"),
            _ => {}
        }
    }
    assert_eq!(help, types.keys().cloned().collect(), "every family has HELP and TYPE");
    for (name, kind) in &types {
        assert!(name.starts_with("shale_"), "{name}: no shale_ prefix");
        let snake = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        assert!(snake, "{name}: not snake_case");
        assert_eq!(
            kind == "counter",
            name.ends_with("_total"),
            "{name}: {kind} and its _total suffix"
        );
        assert!(["counter", "gauge", "histogram"].contains(&kind.as_str()), "{name}: type {kind}");
        for word in name.split('_') {
            assert!(!ABBREVIATIONS.contains(&word), "{name}: abbreviated unit '{word}'");
        }
        if kind == "histogram" {
            assert!(name.ends_with("_seconds"), "{name}: a histogram in seconds");
        }
    }
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("parses");
    for sample in &scrape.samples {
        let family = types.iter().find(|(f, kind)| {
            let part = |suffix: &str| sample.metric.strip_suffix(suffix) == Some(f.as_str());
            sample.metric == **f || (*kind == "histogram" && (part("_sum") || part("_count")))
        });
        assert!(family.is_some(), "sample {} belongs to no declared family", sample.metric);
        if let Value::Histogram(buckets) = &sample.value {
            let bounds: Vec<f64> = buckets.iter().map(|b| b.less_than).collect();
            assert!(
                bounds.windows(2).all(|w| w[0] < w[1]),
                "{}: bucket bounds in order",
                sample.metric
            );
            assert_eq!(bounds.last(), Some(&f64::INFINITY), "{}: ends at +Inf", sample.metric);
            let counts: Vec<f64> = buckets.iter().map(|b| b.count).collect();
            assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{}: cumulative", sample.metric);
        }
    }
    promtool(text);
}

/// Where `promtool` is installed (Debian package `prometheus`), its verdict must be silence.
/// It is not part of the toolchain, so without it only the checks above run.
fn promtool(text: &str) {
    use std::io::Write;
    let Ok(mut child) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        return;
    };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "promtool check metrics: {said}");
}
