//! The flags of `shale bench` and the small value types behind them: [`OpKind`], [`Ratio`],
//! [`SizeRange`], [`KeyPattern`] and [`Proto`], each with its parser.
//!
//! Owns parsing and validation only; what a run does with them lives in [`super::run`].
//! `-h` is the host (as in `redis-benchmark`), so the automatic `-h` help flag is turned off
//! and help stays reachable as `--help`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::target::Target;
use crate::units::{parse_duration, parse_size};

/// One operation type a benchmark issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    /// GET key.
    Get,
    /// SET key value (with the `--ttl`, if any).
    Set,
    /// DEL key.
    Del,
}

impl OpKind {
    /// Every kind, in the order reports list them.
    pub const ALL: [OpKind; 3] = [OpKind::Set, OpKind::Get, OpKind::Del];

    /// Position in per-kind arrays.
    pub fn index(self) -> usize {
        match self {
            OpKind::Set => 0,
            OpKind::Get => 1,
            OpKind::Del => 2,
        }
    }

    /// Upper-case name, as reports print it.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Get => "GET",
            OpKind::Set => "SET",
            OpKind::Del => "DEL",
        }
    }
}

/// Why a flag value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} '{input}': {why}")]
pub struct ArgError {
    what: &'static str,
    input: String,
    why: String,
}

impl ArgError {
    fn new(what: &'static str, input: &str, why: impl Into<String>) -> Self {
        Self { what, input: input.to_owned(), why: why.into() }
    }
}

/// A mixed workload's weights, `set:get` or `set:get:del` (for example `1:10`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ratio {
    /// Weight of SET.
    pub set: u32,
    /// Weight of GET.
    pub get: u32,
    /// Weight of DEL (0 unless a third number is given).
    pub del: u32,
}

impl Ratio {
    /// All weights together (never zero, and fits a `u32`, once parsed).
    pub fn total(&self) -> u32 {
        self.set.saturating_add(self.get).saturating_add(self.del)
    }

    /// The weight of `op`.
    pub fn weight(&self, op: OpKind) -> u32 {
        match op {
            OpKind::Set => self.set,
            OpKind::Get => self.get,
            OpKind::Del => self.del,
        }
    }
}

impl FromStr for Ratio {
    type Err = ArgError;

    fn from_str(s: &str) -> Result<Self, ArgError> {
        let err = |why: &str| ArgError::new("ratio", s, why);
        let parts: Vec<&str> = s.split(':').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(err("expected set:get or set:get:del, e.g. 1:10"));
        }
        let mut nums = [0u32; 3];
        for (slot, part) in nums.iter_mut().zip(&parts) {
            *slot = part.trim().parse().map_err(|_| err("each weight is a whole number"))?;
        }
        let [set, get, del] = nums;
        match u64::from(set) + u64::from(get) + u64::from(del) {
            0 => return Err(err("at least one weight must be positive")),
            sum if sum > u64::from(u32::MAX) => return Err(err("the weights add up to too much")),
            _ => {}
        }
        Ok(Ratio { set, get, del })
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.set, self.get, self.del)
    }
}

/// Value sizes: one size (`32`, `1KiB`) or an inclusive range (`16-1024`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SizeRange {
    /// Smallest value, bytes.
    pub min: usize,
    /// Largest value, bytes.
    pub max: usize,
}

impl FromStr for SizeRange {
    type Err = ArgError;

    fn from_str(s: &str) -> Result<Self, ArgError> {
        let size =
            |part: &str| parse_size(part).map_err(|e| ArgError::new("size", s, e.to_string()));
        let (min, max) = match s.split_once('-') {
            Some((lo, hi)) => (size(lo)?, size(hi)?),
            None => {
                let n = size(s)?;
                (n, n)
            }
        };
        if min > max {
            return Err(ArgError::new("size", s, "the range's start is above its end"));
        }
        Ok(SizeRange { min, max })
    }
}

impl fmt::Display for SizeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}-{}", self.min, self.max)
        }
    }
}

/// How keys are drawn from the keyspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyPattern {
    /// Every key equally likely.
    Uniform,
    /// A few hot keys: Zipf with exponent 0.99, as in YCSB.
    Zipf,
    /// Each connection walks the keyspace in order from its own starting point.
    Seq,
}

/// Which dialect to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// shale's binary protocol, through the shale client.
    Binary,
    /// Redis RESP2, so redis-server and proxies can be measured too.
    Resp,
}

/// Shows a flag value as typed on the command line (`binary`, `zipf`, ...).
fn flag_value(v: &impl ValueEnum, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match v.to_possible_value() {
        Some(p) => f.write_str(p.get_name()),
        None => Ok(()),
    }
}

impl fmt::Display for KeyPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        flag_value(self, f)
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        flag_value(self, f)
    }
}

/// `shale bench`: a closed-loop load generator (like redis-benchmark or memtier).
#[derive(Debug, Clone, Args)]
#[command(disable_help_flag = true)]
pub struct BenchArgs {
    /// The server (`-h`, `-p`) and `--help`.
    #[command(flatten)]
    pub target: Target,
    /// Connections, each running closed-loop.
    #[arg(short = 'c', long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub connections: u32,
    /// Total requests per test (split across connections).
    #[arg(short = 'n', long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: u64,
    /// Run each test for this long instead of a request count (e.g. 10s).
    #[arg(long, value_parser = parse_duration, conflicts_with = "requests")]
    pub duration: Option<Duration>,
    /// Requests each connection sends per batch before awaiting the replies.
    #[arg(short = 'P', long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub pipeline: u32,
    /// Worker threads, each with its own runtime and share of the connections; 0 = cores.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Tests to run one after another, each with -n requests (default set,get).
    #[arg(short = 't', long, value_enum, value_delimiter = ',', conflicts_with = "ratio")]
    pub tests: Vec<OpKind>,
    /// One mixed test with these weights instead: set:get or set:get:del (e.g. 1:10).
    #[arg(long)]
    pub ratio: Option<Ratio>,
    /// Value size in bytes, or a range drawn uniformly (e.g. 16-1024).
    #[arg(short = 'd', long, default_value = "32")]
    pub data_size: SizeRange,
    /// Number of distinct keys.
    #[arg(short = 'r', long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub keyspace: u64,
    /// How keys are drawn.
    #[arg(long, value_enum, default_value_t = KeyPattern::Uniform)]
    pub key_pattern: KeyPattern,
    /// Text put before every key name (`key:` and nine digits), e.g. `kv:` for 16-byte keys.
    #[arg(long, default_value = "")]
    pub key_prefix: String,
    /// Expiry for SETs (e.g. 30s); none by default.
    #[arg(long, value_parser = parse_duration)]
    pub ttl: Option<Duration>,
    /// Protocol: binary (shale) or resp (Redis-compatible).
    #[arg(long, value_enum, default_value_t = Proto::Binary)]
    pub proto: Proto,
    /// Seed for keys, sizes and value bytes; the same seed repeats the same workload.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the report as CSV.
    #[arg(long)]
    pub csv: bool,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// No live progress line.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

impl BenchArgs {
    /// `host:port`.
    pub fn addr(&self) -> String {
        self.target.addr()
    }

    /// The worker thread count, `0` resolved to the number of cores, and never more
    /// threads than connections.
    pub fn worker_threads(&self) -> usize {
        let wanted = match self.threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        wanted.clamp(1, self.connections as usize)
    }

    /// The tests to run in order: each listed kind once (default SET then GET), or one
    /// mixed test for `--ratio`.
    pub fn tests(&self) -> Vec<Mix> {
        if let Some(ratio) = self.ratio {
            return vec![Mix::Ratio(ratio)];
        }
        let mut kinds: Vec<OpKind> = Vec::new();
        let wanted =
            if self.tests.is_empty() { &[OpKind::Set, OpKind::Get][..] } else { &self.tests };
        for &k in wanted {
            if !kinds.contains(&k) {
                kinds.push(k);
            }
        }
        kinds.into_iter().map(Mix::Only).collect()
    }
}

/// What one test issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    /// Only this operation.
    Only(OpKind),
    /// A weighted mix.
    Ratio(Ratio),
}

impl Mix {
    /// The test's name in reports.
    pub fn name(&self) -> String {
        match self {
            Mix::Only(op) => op.name().to_owned(),
            Mix::Ratio(r) => format!("mixed {r}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: BenchArgs,
    }

    fn parse(argv: &[&str]) -> Result<BenchArgs, clap::Error> {
        let argv = std::iter::once("bench").chain(argv.iter().copied());
        Cli::try_parse_from(argv).map(|c| c.args)
    }

    #[test]
    fn ratio_cases() {
        let r = |set, get, del| Ok(Ratio { set, get, del });
        assert_eq!("1:10".parse(), r(1, 10, 0)); // set:get
        assert_eq!("1:10:2".parse(), r(1, 10, 2)); // set:get:del
        assert_eq!("0:1".parse(), r(0, 1, 0)); // reads only
        assert!("1".parse::<Ratio>().is_err()); // one number
        assert!("1:2:3:4".parse::<Ratio>().is_err()); // too many
        assert!("0:0".parse::<Ratio>().is_err()); // nothing to do
        assert!("a:1".parse::<Ratio>().is_err()); // not a number
        assert!("-1:1".parse::<Ratio>().is_err()); // negative
        assert!("4294967295:1".parse::<Ratio>().is_err()); // sum overflows
    }

    #[test]
    fn size_range_cases() {
        let s = |min, max| Ok(SizeRange { min, max });
        assert_eq!("32".parse(), s(32, 32)); // fixed
        assert_eq!("16-1024".parse(), s(16, 1024)); // range
        assert_eq!("1KiB-4KiB".parse(), s(1024, 4096)); // units on both ends
        assert_eq!("0".parse(), s(0, 0)); // empty values are allowed
        assert!("1024-16".parse::<SizeRange>().is_err()); // reversed
        assert!("16-".parse::<SizeRange>().is_err()); // open end
        assert!("big".parse::<SizeRange>().is_err()); // not a size
    }

    #[test]
    fn defaults_match_redis_benchmark() {
        let a = parse(&[]).unwrap();
        assert_eq!(a.addr(), "127.0.0.1:7379");
        assert_eq!((a.connections, a.requests, a.pipeline, a.keyspace), (50, 100_000, 1, 100_000));
        assert_eq!(a.data_size, SizeRange { min: 32, max: 32 });
        assert_eq!(a.tests(), vec![Mix::Only(OpKind::Set), Mix::Only(OpKind::Get)]);
        assert_eq!(a.worker_threads(), 1);
    }

    #[test]
    fn short_h_is_the_host_and_help_stays_long() {
        let a = parse(&["-h", "10.0.0.1", "-p", "1", "-P", "16", "-t", "get,del,get"]).unwrap();
        assert_eq!(a.addr(), "10.0.0.1:1");
        assert_eq!(a.pipeline, 16);
        assert_eq!(a.tests(), vec![Mix::Only(OpKind::Get), Mix::Only(OpKind::Del)]);
        let a = parse(&["-u", "shales://cache:9", "-p", "10", "--cacert", "ca.pem"]).unwrap();
        assert_eq!(a.addr(), "cache:10");
        assert!(parse(&["-u", "redis://cache:9"]).is_err());
        let help = parse(&["--help"]).err().unwrap();
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
    }

    #[test]
    fn conflicting_and_invalid_flags_are_rejected() {
        assert!(parse(&["-t", "get", "--ratio", "1:1"]).is_err()); // tests or ratio
        assert!(parse(&["-n", "10", "--duration", "1s"]).is_err()); // count or time
        assert!(parse(&["-c", "0"]).is_err()); // no connections
        assert!(parse(&["-P", "0"]).is_err()); // no pipeline
        assert!(parse(&["-t", "incr"]).is_err()); // unknown op
        let a = parse(&["--ratio", "1:10", "-d", "16-64", "--duration", "2s"]).unwrap();
        assert_eq!(a.tests(), vec![Mix::Ratio(Ratio { set: 1, get: 10, del: 0 })]);
        assert_eq!(a.duration, Some(Duration::from_secs(2)));
    }
}
