//! `shale cli`: a redis-cli-style command-line client.
//!
//! ```text
//! shale cli [-h host] [-p port] [-u shale[s]://host:port] [-a password] [-t timeout] [-r N]
//!           [-i secs] [-x] [--tls --cacert FILE [--cert FILE --key FILE] [--sni NAME]]
//!           [--raw|--no-raw|--json] [--latency|--latency-history] [CMD ARGS...]
//! ```
//!
//! With a command it runs it (`-r` times) and exits; without one it starts the REPL
//! (`repl.rs`). Everything goes through one [`crate::client::Client`]: PING, GET, SET (with
//! EX/PX/`--ttl`), DEL of one key, TTL/PTTL and STATS by their typed opcodes, every other
//! command with the CMD opcode (`request.rs` decides).
//!
//! Exit status: 0 when every command got a non-error reply (a miss is not an error); 1
//! after an error reply, a connection failure or a timeout.
//!
//! Layout: `addr` (which server), `request` (argv -> dialect), `session` (connections),
//! `output` (formats), `shell` (run + print), `repl`, `help`, `latency`. This module owns
//! the flags and the top-level flow only.

pub(crate) mod addr;
mod error;
mod help;
mod latency;
mod output;
mod repl;
mod request;
mod session;
mod shell;

use std::ffi::OsString;
use std::io::{IsTerminal, Read, Write};
use std::time::Duration;

use bytes::Bytes;
use clap::ArgAction;

use addr::Addr;
pub use error::CliError;
use output::Format;

use latency::LatencyMode;
use session::Session;
use shell::Shell;

/// The flags of `shale cli`, named after redis-cli's. Flags go before the command, as in
/// redis-cli: everything after the command name is an argument of the command.
#[derive(Debug, Clone, clap::Args)]
#[command(disable_help_flag = true)]
pub struct CliArgs {
    /// Print help (-h is the host, as in redis-cli).
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,
    /// Server host [default: 127.0.0.1].
    #[arg(short = 'h', long)]
    host: Option<String>,
    /// Server port [default: 7379].
    #[arg(short = 'p', long)]
    port: Option<u16>,
    /// Server address, host:port, shale://host:port or shales://host:port for TLS (-h and
    /// -p override its parts).
    #[arg(short = 'u', long = "uri", env = "SHALE_ADDR", value_name = "URI")]
    uri: Option<String>,
    /// Password sent as AUTH on connecting (both connections). Visible in `ps`: prefer the
    /// SHALE_PASSWORD environment variable.
    #[arg(short = 'a', long = "pass", env = "SHALE_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Connect and reply timeout, e.g. 1s, 250ms.
    #[arg(short = 't', long, default_value = "1s", value_parser = crate::units::parse_duration)]
    timeout: Duration,
    /// Run the command N times (-1: until interrupted). With --latency: stop after N samples.
    #[arg(short = 'r', long, value_name = "N", allow_negative_numbers = true)]
    repeat: Option<i64>,
    /// Seconds between repeats, e.g. 0.1. With --latency(-history): the report interval.
    #[arg(short = 'i', long, value_name = "SECS", value_parser = parse_seconds)]
    interval: Option<Duration>,
    /// Read the last argument (the value) from stdin, byte for byte.
    #[arg(short = 'x')]
    stdin_value: bool,
    /// Print replies raw (the default when stdout is not a terminal).
    #[arg(long, conflicts_with_all = ["no_raw", "json"])]
    raw: bool,
    /// Format replies for a terminal even when stdout is not one.
    #[arg(long, conflicts_with = "json")]
    no_raw: bool,
    /// Print each reply as one JSON value (non-UTF-8 strings are converted lossily).
    #[arg(long)]
    json: bool,
    /// PING continuously and show min/max/avg round trip (ms).
    #[arg(long, conflicts_with = "latency_history")]
    latency: bool,
    /// Like --latency, starting a new line every 15 s (or -i).
    #[arg(long)]
    latency_history: bool,
    /// TLS, as redis-cli: --tls --cacert FILE [--cert FILE --key FILE] [--sni NAME].
    #[command(flatten)]
    tls: crate::tls::ClientTlsArgs,
    /// The command and its arguments; none starts the interactive mode.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "CMD")]
    command: Vec<OsString>,
}

impl CliArgs {
    /// The output format the flags and stdout ask for.
    pub fn format(&self) -> Format {
        if self.json {
            Format::Json
        } else if self.raw {
            Format::Raw
        } else if self.no_raw || std::io::stdout().is_terminal() {
            Format::Tty
        } else {
            Format::Raw
        }
    }
}

/// `-i`: non-negative seconds, fractions allowed.
fn parse_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s.trim().parse().map_err(|_| format!("'{s}' is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| format!("'{s}' is not a usable interval"))
}

/// Runs `shale cli` and ends the process with its exit status on failure (a status is
/// the CLI's answer, not an error for `main` to print again).
pub async fn run(args: CliArgs) -> anyhow::Result<()> {
    let code = match execute(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    };
    if code != 0 {
        let _ = std::io::stdout().flush();
        std::process::exit(code);
    }
    Ok(())
}

/// The top-level flow; returns the exit status.
async fn execute(args: CliArgs) -> Result<i32, CliError> {
    let addr = Addr::resolve(args.uri.as_deref(), args.host.as_deref(), args.port)?;
    let format = args.format();
    let password = args.password.map(Bytes::from);
    let tls = args.tls.connector(addr.tls).map_err(|e| CliError::Tls(e.to_string()))?;
    let session =
        Session::new(addr.to_string(), args.timeout).with_password(password).with_tls(tls);
    let mut shell = Shell::new(session, format, args.interval);
    if args.latency || args.latency_history {
        let mode = LatencyMode {
            history: args.latency_history,
            samples: args.repeat.and_then(|n| u64::try_from(n).ok()),
            interval: args.interval,
            in_place: std::io::stdout().is_terminal(),
            format,
        };
        latency::run(&mut shell.session, mode).await?;
        return Ok(0);
    }
    let mut words: Vec<Bytes> = args.command.into_iter().map(os_bytes).collect();
    if args.stdin_value {
        if words.is_empty() {
            eprintln!("-x needs a command, e.g. shale cli -x set key < file");
            return Ok(1);
        }
        words.push(read_stdin().await?);
    }
    if words.is_empty() {
        return repl::run(&mut shell).await;
    }
    // As in redis-cli, `help` is answered locally in one-shot mode too.
    if words.first().is_some_and(|w| w.eq_ignore_ascii_case(b"help") || w.as_ref() == b"?") {
        print!("{}", help::text(words.get(1..).unwrap_or_default()));
        return Ok(0);
    }
    shell.run(words, args.repeat.unwrap_or(1)).await?;
    Ok(i32::from(shell.failed()))
}

/// Arguments are bytes: on Unix any byte string the shell passes is sent unchanged.
fn os_bytes(arg: OsString) -> Bytes {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        Bytes::from(arg.into_vec())
    }
    #[cfg(not(unix))]
    {
        Bytes::from(arg.to_string_lossy().into_owned())
    }
}

/// All of stdin, untouched (no trailing-newline trimming: the value is binary-safe).
async fn read_stdin() -> Result<Bytes, CliError> {
    let read = tokio::task::spawn_blocking(|| {
        let mut data = Vec::new();
        std::io::stdin().lock().read_to_end(&mut data).map(|_| data)
    });
    match read.await {
        Ok(Ok(data)) => Ok(Bytes::from(data)),
        Ok(Err(e)) => Err(CliError::Stdin(e)),
        Err(e) => Err(CliError::Stdin(std::io::Error::other(e.to_string()))),
    }
}
