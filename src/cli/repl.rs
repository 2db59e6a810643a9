//! The interactive mode: a rustyline prompt on a terminal, or plain lines from a pipe.
//!
//! On a terminal: prompt `host:port> ` (or `not connected> `, reconnecting on the next
//! command), history in `~/.shale_history` (`SHALE_HISTFILE` overrides, `/dev/null`
//! disables), argument hints, tab completion, `help`, a repeat prefix (`10 get k`) and
//! `quit`/`exit`. From a pipe (`shale cli < cmds.txt`): the same commands, no prompt, no
//! history, replies only; the first connection error ends the run with status 1, and
//! error replies make the final status 1 without stopping the run.
//!
//! Owns line reading and the REPL-only commands; commands themselves run through
//! [`Shell`].

use std::io::{BufRead, IsTerminal, Read};
use std::path::PathBuf;

use bytes::Bytes;
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{Config, Editor};
use tokio::sync::mpsc;

use super::CliError;
use super::help::{self, ReplHelper};
use super::request::split_line;
use super::shell::Shell;
use crate::protocol::limits::MAX_INLINE_LEN;

/// History file name under the home directory.
const HISTORY_FILE: &str = ".shale_history";
/// Lines of history kept, as redis-cli's default.
const HISTORY_LEN: usize = 100;
/// Longest line read from a pipe: an inline request plus its `\r\n`.
const MAX_LINE: usize = MAX_INLINE_LEN + 2;
/// Lines read ahead from a pipe; the reader thread waits when this many are queued.
const PIPE_BACKLOG: usize = 64;

type LineEditor = Editor<ReplHelper, FileHistory>;

/// Where lines come from.
enum Lines {
    /// A terminal: rustyline, moved to a blocking thread for each line.
    Editor { editor: Option<Box<LineEditor>>, history: Option<PathBuf> },
    /// A pipe or file, read by a thread, one line per message.
    Pipe(mpsc::Receiver<std::io::Result<Vec<u8>>>),
}

impl Lines {
    /// The next line; `None` at end of input, Ctrl-C or Ctrl-D.
    async fn next(&mut self, prompt: String) -> Option<Result<Vec<u8>, CliError>> {
        match self {
            Lines::Pipe(rx) => rx.recv().await.map(|r| r.map_err(CliError::Stdin)),
            Lines::Editor { editor, .. } => {
                let mut ed = editor.take()?;
                // readline blocks until Enter; off the runtime's worker threads it can't
                // stall the client's connection tasks.
                let joined = tokio::task::spawn_blocking(move || {
                    let line = ed.readline(&prompt);
                    (ed, line)
                })
                .await;
                let (ed, line) = match joined {
                    Ok(done) => done,
                    Err(e) => return Some(Err(CliError::Editor(e.to_string()))),
                };
                *editor = Some(ed);
                match line {
                    Ok(line) => Some(Ok(line.into_bytes())),
                    Err(ReadlineError::Eof | ReadlineError::Interrupted) => None,
                    Err(e) => Some(Err(CliError::Editor(e.to_string()))),
                }
            }
        }
    }

    /// Adds a line to the history file (terminal only). Failures are ignored: history is
    /// a convenience and must not break the session.
    fn remember(&mut self, line: &[u8], args: &[Bytes]) {
        let Lines::Editor { editor: Some(ed), history } = self else { return };
        // Like redis-cli, keep passwords out of the history file.
        if args.first().is_some_and(|n| n.eq_ignore_ascii_case(b"auth")) {
            return;
        }
        let _ = ed.add_history_entry(String::from_utf8_lossy(line));
        if let Some(path) = history {
            let _ = ed.save_history(path);
        }
    }

    fn interactive(&self) -> bool {
        matches!(self, Lines::Editor { .. })
    }
}

/// Runs the REPL until `quit`, end of input or a fatal error. Returns the exit status.
pub async fn run(shell: &mut Shell) -> Result<i32, CliError> {
    let mut lines = if std::io::stdin().is_terminal() { editor()? } else { pipe() };
    let interactive = lines.interactive();
    if interactive {
        if let Err(e) = shell.session.connect().await {
            eprintln!("{e}");
        }
    }
    loop {
        let prompt = match (interactive, shell.session.is_connected()) {
            (false, _) => String::new(),
            (true, true) => format!("{}> ", shell.session.addr()),
            (true, false) => "not connected> ".to_owned(),
        };
        let line = match lines.next(prompt).await {
            None => break,
            Some(Ok(line)) => line,
            Some(Err(e)) => {
                shell.mark_failed();
                eprintln!("{e}");
                break;
            }
        };
        let args = match split_line(&line) {
            Ok(args) if args.is_empty() => continue,
            Ok(args) => args,
            Err(_) => {
                shell.mark_failed();
                eprintln!("Invalid argument(s)");
                continue;
            }
        };
        lines.remember(&line, &args);
        match step(shell, args, interactive).await {
            Ok(Step::Continue) => {}
            Ok(Step::Quit) => break,
            Err(e) => {
                eprintln!("{e}");
                if !interactive {
                    break;
                }
            }
        }
    }
    Ok(i32::from(shell.failed()))
}

/// What the loop does after a line.
enum Step {
    Continue,
    Quit,
}

/// Handles one split line: REPL commands here, the rest through the shell.
async fn step(shell: &mut Shell, args: Vec<Bytes>, interactive: bool) -> Result<Step, CliError> {
    let (repeat, args) = match repeat_prefix(args) {
        Ok(split) => split,
        Err(()) => {
            shell.mark_failed();
            eprintln!("Invalid repeat count: use a positive number, e.g. 10 get k");
            return Ok(Step::Continue);
        }
    };
    let name = String::from_utf8_lossy(args.first().map(|n| n.as_ref()).unwrap_or_default())
        .to_ascii_lowercase();
    match name.as_str() {
        "quit" | "exit" => return Ok(Step::Quit),
        "help" | "?" => print!("{}", help::text(args.get(1..).unwrap_or_default())),
        "clear" if interactive => print!("\x1b[H\x1b[2J"),
        _ => shell.run(args, repeat).await?,
    }
    Ok(Step::Continue)
}

/// `10 get k` -> (10, `get k`); a line without a leading number repeats once. Like
/// redis-cli, a lone number is a command, and zero or a negative count is refused.
fn repeat_prefix(mut args: Vec<Bytes>) -> Result<(i64, Vec<Bytes>), ()> {
    let first = args.first().map(|a| std::str::from_utf8(a).unwrap_or_default());
    let count = match first.map(str::parse::<i64>) {
        Some(Ok(n)) if args.len() > 1 => n,
        _ => return Ok((1, args)),
    };
    if count <= 0 {
        return Err(());
    }
    args.remove(0);
    Ok((count, args))
}

/// A rustyline editor with hints, completion and the history file loaded.
fn editor() -> Result<Lines, CliError> {
    let config = Config::builder().max_history_size(HISTORY_LEN).map_err(editor_error)?.build();
    let mut ed: LineEditor = Editor::with_config(config).map_err(editor_error)?;
    ed.set_helper(Some(ReplHelper));
    let history = history_path();
    if let Some(path) = &history {
        // A missing file is the normal first run.
        let _ = ed.load_history(path);
    }
    Ok(Lines::Editor { editor: Some(Box::new(ed)), history })
}

fn editor_error(e: ReadlineError) -> CliError {
    CliError::Editor(e.to_string())
}

/// `SHALE_HISTFILE`, else `$HOME/.shale_history`; `None` for `/dev/null` or no home.
fn history_path() -> Option<PathBuf> {
    match std::env::var_os("SHALE_HISTFILE").filter(|p| !p.is_empty()) {
        Some(path) if path == "/dev/null" => None,
        Some(path) => Some(PathBuf::from(path)),
        None => std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(HISTORY_FILE)),
    }
}

/// Lines from stdin, read on a plain thread: a blocking read can't be cancelled, and a
/// thread (unlike `spawn_blocking`) does not hold up runtime shutdown at exit.
fn pipe() -> Lines {
    let (tx, rx) = mpsc::channel(PIPE_BACKLOG);
    std::thread::spawn(move || read_lines(&tx));
    Lines::Pipe(rx)
}

/// Sends stdin line by line until end of input, a read error, or the receiver is gone.
fn read_lines(tx: &mpsc::Sender<std::io::Result<Vec<u8>>>) {
    let mut stdin = std::io::stdin().lock();
    loop {
        let mut line = Vec::new();
        // Bounded: the server's inline limit applies to REPL lines too.
        let read = (&mut stdin).take(MAX_LINE as u64).read_until(b'\n', &mut line);
        let item = match read {
            Ok(0) => return,
            Ok(_) if line.len() == MAX_LINE && !line.ends_with(b"\n") => {
                Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "line too long"))
            }
            other => other.map(|_| line),
        };
        let stop = item.is_err();
        if tx.blocking_send(item).is_err() || stop {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(v: &[&'static str]) -> Vec<Bytes> {
        v.iter().map(|s| Bytes::from_static(s.as_bytes())).collect()
    }

    #[test]
    fn repeat_prefix_cases() {
        // (line, result)
        assert_eq!(repeat_prefix(words(&["3", "ping"])), Ok((3, words(&["ping"]))));
        assert_eq!(repeat_prefix(words(&["get", "3"])), Ok((1, words(&["get", "3"]))));
        assert_eq!(repeat_prefix(words(&["3"])), Ok((1, words(&["3"]))));
        assert_eq!(repeat_prefix(words(&["0", "ping"])), Err(()));
        assert_eq!(repeat_prefix(words(&["-2", "ping"])), Err(()));
    }
}
