//! `--latency` and `--latency-history`: PING continuously and report round-trip times.
//!
//! Owns sampling and the report lines; the PINGs go through the binary client. Like
//! redis-cli, a sample is taken every [`SAMPLE_EVERY`]; `--latency` keeps one running
//! window, `--latency-history` starts a new one (and a new line) every interval.
//! Times are milliseconds with two decimals for min and max too (redis-cli prints whole
//! milliseconds there, which reads `0` for every loopback sample).

use std::io::Write;
use std::time::Duration;

use tokio::time::Instant;

use super::CliError;
use super::output::Format;
use super::session::Session;

/// Pause between PINGs, as redis-cli's `LATENCY_SAMPLE_RATE`.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(10);
/// Report interval of `--latency` when stdout is not a terminal.
pub const REPORT_EVERY: Duration = Duration::from_secs(1);
/// Window of one `--latency-history` line, as in redis-cli.
pub const HISTORY_EVERY: Duration = Duration::from_secs(15);

/// How to run a latency session.
#[derive(Debug, Clone, Copy)]
pub struct LatencyMode {
    /// `--latency-history`: a new window and line every `interval`.
    pub history: bool,
    /// Stop after this many samples (`-r N`); `None` runs until interrupted.
    pub samples: Option<u64>,
    /// `-i`: the report (or window) interval instead of the default.
    pub interval: Option<Duration>,
    /// Redraw one line in place after every sample (stdout is a terminal).
    pub in_place: bool,
    /// Text or JSON report lines.
    pub format: Format,
}

/// Min, max and mean of one window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Window {
    min: Duration,
    max: Duration,
    total: Duration,
    count: u64,
}

impl Window {
    /// Adds one round trip.
    pub fn add(&mut self, rtt: Duration) {
        self.min = if self.count == 0 { rtt } else { self.min.min(rtt) };
        self.max = self.max.max(rtt);
        self.total += rtt;
        self.count += 1;
    }

    /// `min: 0.05, max: 0.21, avg: 0.09 (5 samples)`, or one JSON object.
    pub fn report(&self, format: Format) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let avg = if self.count == 0 { 0.0 } else { ms(self.total) / self.count as f64 };
        let (min, max, n) = (ms(self.min), ms(self.max), self.count);
        match format {
            Format::Json => {
                serde_json::json!({"min": min, "max": max, "avg": avg, "samples": n}).to_string()
            }
            Format::Tty | Format::Raw => {
                format!("min: {min:.2}, max: {max:.2}, avg: {avg:.2} ({n} samples)")
            }
        }
    }
}

/// Runs until `samples` are taken, forever without a bound, or until a PING fails.
pub async fn run(session: &mut Session, mode: LatencyMode) -> Result<(), CliError> {
    let default = if mode.history { HISTORY_EVERY } else { REPORT_EVERY };
    let interval = mode.interval.unwrap_or(default);
    let mut window = Window::default();
    let mut window_start = Instant::now();
    let mut taken = 0u64;
    let mut out = std::io::stdout();
    loop {
        window.add(session.ping().await?);
        taken += 1;
        let done = mode.samples.is_some_and(|n| taken >= n);
        let window_over = window_start.elapsed() >= interval;
        if mode.in_place && mode.format != Format::Json {
            write!(out, "\x1b[0G\x1b[2K{}", window.report(mode.format))
                .map_err(CliError::Output)?;
            if (mode.history && window_over) || done {
                writeln!(out).map_err(CliError::Output)?;
            }
        } else if window_over || done {
            writeln!(out, "{}", window.report(mode.format)).map_err(CliError::Output)?;
        }
        out.flush().map_err(CliError::Output)?;
        if done {
            return Ok(());
        }
        if window_over {
            window_start = Instant::now();
            if mode.history {
                window = Window::default();
            }
        }
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_report() {
        let mut w = Window::default();
        assert_eq!(w.report(Format::Tty), "min: 0.00, max: 0.00, avg: 0.00 (0 samples)");
        for us in [300, 100, 200] {
            w.add(Duration::from_micros(us));
        }
        assert_eq!(w.report(Format::Raw), "min: 0.10, max: 0.30, avg: 0.20 (3 samples)");
        let json: serde_json::Value = serde_json::from_str(&w.report(Format::Json)).unwrap();
        assert_eq!(json["samples"], 3);
    }
}
