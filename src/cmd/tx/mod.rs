//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH, and the per-connection
//! [`Transaction`] state they share with [`super::execute`], which queues commands while a
//! connection is in MULTI.
//!
//! # How a transaction runs
//!
//! After MULTI every command is parsed and admitted as usual, then queued (`+QUEUED`)
//! instead of run. A command that fails before it is queued (unknown, wrong arity, a key of
//! a shard this node does not serve, a command not allowed in a transaction, a full queue)
//! gets its error at once and marks the transaction failed: EXEC then answers `-EXECABORT
//! Transaction discarded because of previous errors.` and runs nothing. Any other error
//! the parser finds (`syntax error`, `value is not an integer`, ...) is, as in Redis, where
//! commands parse their options only when they run, that command's reply inside EXEC's
//! array ([`Transaction::refuse`] queues it); so are errors a command meets while running
//! (out of memory, `no such key`). The other commands still run.
//!
//! EXEC takes every stripe of the store at once ([`crate::store::Keyspace::exclusive`]),
//! checks the watched keys, then runs the queue against that view: no other client's
//! command runs in between, on any key.
//!
//! # WATCH
//!
//! WATCH records a [`WatchMark`] per key: the key's version (every write gives a key a new
//! one), or for an absent key the creation count of its hash bucket, and the store's flush
//! epoch. EXEC compares them under its locks; if any key may have changed (written, deleted,
//! expired, evicted, flushed, or an absent key created), EXEC answers a null array (RESP2
//! `*-1`, RESP3 `_`) and runs nothing. A key that was already expired when watched and is
//! then reclaimed is not a change, as in Redis 7. EXEC, DISCARD, UNWATCH and RESET forget
//! the watched keys.
//!
//! Through a router the marks are made where the transaction will run, on the shard's
//! coordinator ([`TxWatch`]), and handed back at EXEC ([`TxExec`]'s WATCH section); the
//! connection keeps them as [`RemoteWatch`]es.
//!
//! # Commands EXEC cannot run
//!
//! Besides Redis's `no-multi` commands (SAVE), these are refused at queue time with Redis's
//! `Command not allowed inside a transaction`: INFO, STATS, CONFIG SET and CONFIG
//! RESETSTAT, which read or change the whole store from outside the keyspace view (EXEC
//! holds every stripe, so they could not run under it), and shale's internal cluster
//! commands. MONITOR inside EXEC gets Redis's error for it.

mod cmds;
mod txexec;
mod txwatch;

use std::future::Future;
use std::ops::ControlFlow;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::future::Shared;

pub use cmds::{Discard, Exec, Multi, Unwatch, Watch};
pub use txexec::{TxExec, TxExecArgs, Watched, distinct_keys, txexec_argv};
pub use txwatch::TxWatch;

use super::{Command, Flag, Route};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Reply, Status};
use crate::store::WatchMark;

/// Most bytes one connection's queued commands may hold: their arguments plus the parsed
/// command each (what a queued request keeps in memory). A command past it is refused and
/// the transaction fails.
pub const MAX_QUEUED_BYTES: usize = 64 << 20;

/// Most keys one connection may WATCH at once; more are refused.
pub const MAX_WATCHED_KEYS: usize = 1 << 16;

pub use crate::protocol::EXECABORT_MESSAGE as EXECABORT;

/// The full names of commands EXEC cannot run under its locks (see the module docs).
const NOT_IN_EXEC: &[&str] = &["info", "stats", "config|set", "config|resetstat"];

/// The answer TXWATCH gives a router (`router/tx.rs`), awaited at EXEC.
pub type WatchAnswer = Shared<Pin<Box<dyn Future<Output = Reply> + Send>>>;

/// A WATCH a router sent on to a shard's coordinator for its client: the keys, and the
/// coordinator's answer (its token and the keys' marks) once it arrives.
#[derive(Clone)]
pub struct RemoteWatch {
    /// The watched keys.
    pub keys: Vec<Bytes>,
    /// TXWATCH's reply, or the error that kept the keys from being watched.
    pub answer: WatchAnswer,
}

impl std::fmt::Debug for RemoteWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteWatch").field("keys", &self.keys).finish_non_exhaustive()
    }
}

/// A queued entry: a command to run, or the error its parser found, to answer in its place.
#[derive(Debug, Clone)]
pub enum Queued {
    /// Runs at EXEC.
    Run(Command),
    /// Answers this error at EXEC.
    Failed(ErrorReply),
}

/// One connection's transaction: the queue while in MULTI, and the watched keys.
#[derive(Debug, Clone, Default)]
pub struct Transaction {
    /// `Some` between MULTI and EXEC/DISCARD.
    queue: Option<Vec<Queued>>,
    queued_bytes: usize,
    /// The size of the request being handled as it arrived (its arguments), when the
    /// connection knows it ([`Transaction::note_request`]).
    request_bytes: Option<usize>,
    /// A command failed to queue: EXEC aborts.
    failed: bool,
    watched: Vec<(Bytes, WatchMark)>,
    /// Keys a router watched for this connection on their shard's coordinator.
    remote: Vec<RemoteWatch>,
    /// The queued commands' arguments as they arrived, kept by a router, which forwards
    /// the transaction at EXEC ([`Transaction::keep_argv`]).
    argvs: Vec<Argv>,
}

impl Transaction {
    /// Whether the connection is between MULTI and EXEC/DISCARD.
    pub fn in_multi(&self) -> bool {
        self.queue.is_some()
    }

    /// The entries queued so far.
    pub fn queued(&self) -> &[Queued] {
        self.queue.as_deref().unwrap_or_default()
    }

    /// The reply to a request whose parsing failed with `e`. Inside MULTI an unknown
    /// command, a wrong number of arguments or an error other than INVALID_ARGUMENT (a
    /// key or value over its limit) fails the transaction, as Redis fails it for what it
    /// checks before queueing; any other parse error is queued, to be that command's reply
    /// inside EXEC's array (`+QUEUED` now).
    pub fn refuse(&mut self, e: ErrorReply) -> Reply {
        let before_queueing = e.status != Status::InvalidArgument
            || e.message.starts_with("wrong number of arguments");
        if !self.in_multi() || before_queueing {
            self.fail();
            return Reply::Error(e);
        }
        self.request_bytes = None;
        let weight = e.message.len() + std::mem::size_of::<Queued>();
        self.push(Queued::Failed(e), weight)
    }

    /// Queues `entry` weighing `weight` bytes, or fails the transaction past
    /// [`MAX_QUEUED_BYTES`].
    fn push(&mut self, entry: Queued, weight: usize) -> Reply {
        let bytes = self.queued_bytes.saturating_add(weight);
        if bytes > MAX_QUEUED_BYTES {
            self.failed = true;
            let msg = format!("transaction queue is full ({MAX_QUEUED_BYTES} bytes)");
            return Reply::Error(ErrorReply::invalid(msg));
        }
        self.queued_bytes = bytes;
        self.queue.get_or_insert_with(Vec::new).push(entry);
        Reply::Simple("QUEUED")
    }

    /// Keeps the arguments of the command just queued (a router forwards them at EXEC).
    pub fn keep_argv(&mut self, argv: Argv) {
        self.argvs.push(argv);
    }

    /// Ends the transaction (as EXEC does): `None` outside MULTI, else whether it failed to
    /// queue something, its entries, and the arguments kept with [`Transaction::keep_argv`]
    /// (one per queued command, in order). The watched keys are forgotten too.
    pub fn finish(&mut self) -> Option<(bool, Vec<Queued>, Vec<Argv>)> {
        let tx = std::mem::take(self);
        let queue = tx.queue?;
        Some((tx.failed, queue, tx.argvs))
    }

    /// Marks the transaction failed (a command failed to queue); nothing outside MULTI.
    pub fn fail(&mut self) {
        if self.in_multi() {
            self.failed = true;
        }
    }

    /// Forgets the queue and the watched keys (EXEC, DISCARD, RESET).
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// How many commands are queued (`-1` outside MULTI), as CLIENT LIST's `multi=` shows.
    pub fn depth(&self) -> i64 {
        self.queue.as_ref().map_or(-1, |q| i64::try_from(q.len()).unwrap_or(i64::MAX))
    }

    /// Records the size of the request about to be handled, `argv` as it arrived (text and
    /// CMD requests), so a queued command is weighed by what it holds. Only inside MULTI.
    pub fn note_request(&mut self, argv: Option<&Argv>) {
        if self.in_multi() {
            self.request_bytes = argv.map(|a| a.iter().map(<[u8]>::len).sum());
        }
    }

    /// How many keys are watched.
    pub fn watching(&self) -> usize {
        self.watched.len() + self.remote.iter().map(|w| w.keys.len()).sum::<usize>()
    }

    /// Whether `more` keys may be watched now: not inside MULTI, and not past
    /// [`MAX_WATCHED_KEYS`] (on a server and through a router alike).
    pub fn may_watch(&self, more: usize) -> Result<(), ErrorReply> {
        if self.in_multi() {
            return Err(ErrorReply::invalid("WATCH inside MULTI is not allowed"));
        }
        if self.watching().saturating_add(more) > MAX_WATCHED_KEYS {
            let msg = format!("too many watched keys (at most {MAX_WATCHED_KEYS})");
            return Err(ErrorReply::invalid(msg));
        }
        Ok(())
    }

    /// Forgets the watched keys (UNWATCH).
    pub fn unwatch(&mut self) {
        self.watched.clear();
        self.remote.clear();
    }

    /// Records a watch a router sent on to a coordinator.
    pub fn watch_remote(&mut self, watch: RemoteWatch) {
        self.remote.push(watch);
    }

    /// The watches a router sent on, taken (as EXEC forgets them).
    pub fn take_remote(&mut self) -> Vec<RemoteWatch> {
        std::mem::take(&mut self.remote)
    }
}

/// Whether `command` runs at once inside MULTI instead of being queued (as in Redis).
fn runs_now(command: &Command) -> bool {
    matches!(
        command,
        Command::Multi(_)
            | Command::Exec(_)
            | Command::Discard(_)
            | Command::Watch(_)
            | Command::Quit(_)
            | Command::Reset(_)
    )
}

/// Inside MULTI: queues `command` (`+QUEUED`) or refuses it (failing the transaction),
/// breaking with that reply; continues with the command when it must run now.
pub fn intercept(command: Command, tx: &mut Transaction) -> ControlFlow<Reply, Command> {
    if !tx.in_multi() || runs_now(&command) {
        return ControlFlow::Continue(command);
    }
    let spec = command.full_spec();
    let refused = spec.has(Flag::NoMulti)
        || spec.route == Route::Internal
        || NOT_IN_EXEC.contains(&spec.name);
    if refused {
        tx.failed = true;
        let e = ErrorReply::invalid("Command not allowed inside a transaction");
        return ControlFlow::Break(Reply::Error(e));
    }
    let weight = tx
        .request_bytes
        .take()
        .map_or_else(|| request_weight(&command), |n| n + std::mem::size_of::<Command>());
    ControlFlow::Break(tx.push(Queued::Run(command), weight))
}

/// What a queued command that arrived without an argument vector (a typed binary opcode)
/// holds in memory: its keys and SET's value (the only typed opcode with one), plus the
/// parsed command itself.
fn request_weight(command: &Command) -> usize {
    let keys: usize = command.keys().map(Bytes::len).sum();
    let values = match command {
        Command::Set(a) => a.value.len(),
        _ => 0,
    };
    keys + values + std::mem::size_of::<Command>()
}

/// EXECABORT.
pub fn exec_abort() -> ErrorReply {
    ErrorReply::invalid(EXECABORT)
}
