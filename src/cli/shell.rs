//! [`Shell`]: runs one command line (with its repeat count) and prints the replies.
//!
//! Shared by one-shot mode and the REPL. Owns the exit-status bookkeeping: an error reply
//! marks the run failed but does not stop it; a [`CliError`] is returned to the caller,
//! which decides whether to stop (one-shot, piped input) or carry on (a terminal REPL).

use std::io::Write;
use std::time::Duration;

use bytes::Bytes;

use super::CliError;
use super::output::{Format, render};
use super::request::Request;
use super::session::Session;
use crate::protocol::Reply;

/// A session plus output settings.
#[derive(Debug)]
pub struct Shell {
    /// The connections.
    pub session: Session,
    /// How replies are printed.
    pub format: Format,
    /// Pause between repetitions (`-i`).
    pub interval: Option<Duration>,
    failed: bool,
}

impl Shell {
    /// A shell printing in `format`.
    pub fn new(session: Session, format: Format, interval: Option<Duration>) -> Self {
        Self { session, format, interval, failed: false }
    }

    /// Whether any command so far got an error reply or no reply.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Records a failure that was reported elsewhere (a connection error, bad input).
    pub fn mark_failed(&mut self) {
        self.failed = true;
    }

    /// Runs `args` `repeat` times (a negative count repeats until interrupted, as in
    /// redis-cli), printing every reply and pausing `-i` between runs.
    pub async fn run(&mut self, args: Vec<Bytes>, repeat: i64) -> Result<(), CliError> {
        let request = Request::parse(args);
        let verbatim = request.as_ref().is_ok_and(Request::verbatim);
        let mut left = repeat;
        while left != 0 {
            if left > 0 {
                left -= 1;
            }
            let reply = match &request {
                Ok(request) => match self.session.execute(request).await {
                    Ok(reply) => reply,
                    Err(e) => {
                        self.failed = true;
                        return Err(e);
                    }
                },
                Err(local) => Reply::Error(local.clone()),
            };
            self.print(&reply, verbatim)?;
            if let (Some(pause), true) = (self.interval, left != 0) {
                tokio::time::sleep(pause).await;
            }
        }
        Ok(())
    }

    /// Writes one reply to stdout (or stderr for raw-mode errors) and flushes, so output
    /// interleaves correctly with a slow `-r`/`-i` loop.
    pub fn print(&mut self, reply: &Reply, verbatim: bool) -> Result<(), CliError> {
        let rendered = render(reply, self.format, verbatim);
        self.failed |= rendered.is_error;
        let written = if rendered.to_stderr {
            let mut err = std::io::stderr().lock();
            err.write_all(&rendered.bytes).and_then(|()| err.flush())
        } else {
            let mut out = std::io::stdout().lock();
            out.write_all(&rendered.bytes).and_then(|()| out.flush())
        };
        written.map_err(CliError::Output)
    }
}
