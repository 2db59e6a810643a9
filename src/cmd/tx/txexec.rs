//! TXEXEC: a whole transaction in one command, how a router hands a MULTI ... EXEC whose
//! keys share a shard to that shard's coordinator (as an RMW request). Also usable by
//! hand: `TXEXEC numcommands [WATCH token numkeys key mark [key mark ...]] argc arg [arg
//! ...] [argc arg [arg ...] ...]` runs the commands atomically, as EXEC runs a queue (every
//! stripe held), and answers their replies in an array. A carried command may not be a
//! transaction command or a node-to-node operation (so nothing nests).
//!
//! The WATCH section carries what TXWATCH answered when the router's client watched the
//! keys: the coordinator's token and each key's mark. If any watched key changed since,
//! TXEXEC answers a null array and runs nothing, as EXEC does. The token is checked by a
//! cluster node before the command runs (`server/node/rmw.rs`): marks are only comparable
//! on the store, and under the coordinatorship, that made them.

use bytes::Bytes;

use crate::cmd::args::int;
use crate::cmd::{Cmd, Command, Ctx, Flag, Keys, Route, Spec, execute, parse};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};
use crate::store::WatchMark;

/// What a router's client watched, as the shard's coordinator marked it (TXWATCH).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    /// The coordinator's token: its name, process and term of coordinatorship.
    pub token: Bytes,
    /// Each watched key and its mark.
    pub marks: Vec<(Bytes, WatchMark)>,
}

/// What TXEXEC carries: the commands, and the distinct keys they touch (which a cluster
/// node admits and reports, as for any read-modify-write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxExecArgs {
    /// The commands, in order.
    pub commands: Vec<Command>,
    /// Every key of every command, and every watched key, each once.
    pub keys: Vec<Bytes>,
    /// The watched keys' marks, if the client watched any.
    pub watched: Option<Box<Watched>>,
}

impl TxExecArgs {
    /// `commands` with their keys (and then the watched ones), each once, in first-use
    /// order.
    pub fn new(commands: Vec<Command>, watched: Option<Box<Watched>>) -> Self {
        let watched_keys = watched.iter().flat_map(|w| w.marks.iter().map(|(k, _)| k));
        let keys = distinct_keys(commands.iter().flat_map(Command::keys).chain(watched_keys));
        Self { commands, keys, watched }
    }
}

/// `keys`, each once, in first-use order: what a transaction of those keys locks and
/// reports.
pub fn distinct_keys<'a>(keys: impl Iterator<Item = &'a Bytes>) -> Vec<Bytes> {
    let mut seen = std::collections::HashSet::new();
    keys.filter(|k| seen.insert(*k)).cloned().collect()
}

/// TXEXEC numcommands argc arg ... : runs the commands as one transaction.
#[derive(Debug)]
pub struct TxExec;

impl Cmd for TxExec {
    type Args = TxExecArgs;
    const SPEC: Spec = Spec::new("txexec", -2)
        .flags(&[Flag::Write, Flag::DenyOom, Flag::NoScript, Flag::MovableKeys])
        .acl(&["@write", "@slow", "@transaction"])
        .route(Route::SameShard)
        .docs(
            "shale",
            "0.1.0",
            "The carried commands'",
            "Run several commands as one transaction (a router's MULTI/EXEC on one shard)",
        );

    fn parse(argv: &Argv, limits: &Limits) -> Result<TxExecArgs, ErrorReply> {
        let n = usize::try_from(int(argv, 1)?).map_err(|_| syntax())?;
        let words = argv.to_vec();
        let (watched, mut at) = match words.get(2) {
            Some(w) if w.eq_ignore_ascii_case(b"watch") => parse_watched(argv, &words)?,
            _ => (None, 2),
        };
        let mut commands = Vec::new();
        while at < words.len() {
            let argc = usize::try_from(int(argv, at)?).map_err(|_| syntax())?;
            let end = at.checked_add(argc).and_then(|e| e.checked_add(1));
            let end = end.filter(|&e| argc > 0 && e <= words.len()).ok_or_else(syntax)?;
            let command = parse(&words[at + 1..end].to_vec().into(), limits)?;
            if matches!(command.route(), Route::Transaction | Route::Internal) {
                let msg = format!("TXEXEC cannot carry '{}'", command.name());
                return Err(ErrorReply::invalid(msg));
            }
            commands.push(command);
            at = end;
        }
        if commands.len() != n {
            return Err(syntax());
        }
        Ok(TxExecArgs::new(commands, watched))
    }

    fn keys(args: &TxExecArgs) -> Keys<'_> {
        Keys::slice(&args.keys)
    }

    /// Every command runs against a view holding every stripe, as in EXEC.
    fn apply(args: TxExecArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let ks = ctx.keyspace()?;
        let mut commands = args.commands;
        let marks = args.watched.map(|w| w.marks).unwrap_or_default();
        let mut replies = None;
        ks.exclusive(&mut |view| {
            if marks.iter().any(|(key, mark)| view.watch(key).changed_since(*mark)) {
                return;
            }
            let mut inner = Ctx::new(&mut *ctx.session, ctx.env, Some(view));
            replies = Some(commands.drain(..).map(|c| execute(c, &mut inner)).collect());
        });
        Ok(replies.map_or(Reply::NilArray, Reply::Array))
    }
}

/// The WATCH section starting at word 2: `WATCH token numkeys key mark ...`, and the index
/// of the first word after it.
fn parse_watched(
    argv: &Argv,
    words: &[Bytes],
) -> Result<(Option<Box<Watched>>, usize), ErrorReply> {
    let token = words.get(3).ok_or_else(syntax)?.clone();
    let count = usize::try_from(int(argv, 4)?).map_err(|_| syntax())?;
    let end = count.checked_mul(2).and_then(|pairs| pairs.checked_add(5));
    let end = end.filter(|&e| e <= words.len()).ok_or_else(syntax)?;
    let marks = words[5..end]
        .chunks_exact(2)
        .map(|pair| Some((pair[0].clone(), WatchMark::from_text(&pair[1])?)))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| ErrorReply::invalid("TXEXEC: a watched key's mark is malformed"))?;
    Ok((Some(Box::new(Watched { token, marks })), end))
}

fn syntax() -> ErrorReply {
    ErrorReply::invalid("syntax error")
}

/// TXEXEC's argument vector for `argvs` (the commands as their clients sent them) and
/// what the client watched.
pub fn txexec_argv(argvs: &[Argv], watched: Option<&Watched>) -> Argv {
    let mut words = vec![Bytes::from_static(b"TXEXEC"), Bytes::from(argvs.len().to_string())];
    if let Some(w) = watched {
        words.extend([Bytes::from_static(b"WATCH"), w.token.clone()]);
        words.push(Bytes::from(w.marks.len().to_string()));
        for (key, mark) in &w.marks {
            words.extend([key.clone(), Bytes::from(mark.to_text())]);
        }
    }
    for argv in argvs {
        words.push(Bytes::from(argv.len().to_string()));
        words.extend(argv.to_vec());
    }
    words.into()
}
