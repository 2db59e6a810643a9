//! TXEXEC: a whole transaction in one command, how a router hands a MULTI ... EXEC whose
//! keys share a shard to that shard's coordinator (as an RMW request). Also usable by
//! hand: `TXEXEC numcommands argc arg [arg ...] [argc arg [arg ...] ...]` runs the
//! commands atomically, as EXEC runs a queue (every stripe held), and answers their replies
//! in an array. A carried command may not be a transaction command or a node-to-node
//! operation (so nothing nests).

use bytes::Bytes;

use crate::cmd::args::int;
use crate::cmd::{Cmd, Command, Ctx, Flag, Keys, Route, Spec, execute, parse};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// What TXEXEC carries: the commands, and the distinct keys they touch (which a cluster
/// node admits and reports, as for any read-modify-write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxExecArgs {
    /// The commands, in order.
    pub commands: Vec<Command>,
    /// Every key of every command, each once.
    pub keys: Vec<Bytes>,
}

impl TxExecArgs {
    /// `commands` with their keys, each once, in first-use order.
    pub fn new(commands: Vec<Command>) -> Self {
        let mut seen = std::collections::HashSet::new();
        let keys =
            commands.iter().flat_map(Command::keys).filter(|k| seen.insert(*k)).cloned().collect();
        Self { commands, keys }
    }
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
        let mut at = 2;
        let mut commands = Vec::new();
        let words = argv.to_vec();
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
        Ok(TxExecArgs::new(commands))
    }

    fn keys(args: &TxExecArgs) -> Keys<'_> {
        Keys::slice(&args.keys)
    }

    /// Every command runs against a view holding every stripe, as in EXEC.
    fn apply(args: TxExecArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let ks = ctx.keyspace()?;
        let mut commands = args.commands;
        let mut replies = Vec::with_capacity(commands.len());
        ks.exclusive(&mut |view| {
            let mut inner = Ctx::new(&mut *ctx.session, ctx.env, Some(view));
            replies.extend(commands.drain(..).map(|c| execute(c, &mut inner)));
        });
        Ok(Reply::Array(replies))
    }
}

fn syntax() -> ErrorReply {
    ErrorReply::invalid("syntax error")
}

/// TXEXEC's argument vector for `argvs` (the commands as their clients sent them).
pub fn txexec_argv(argvs: &[Argv]) -> Argv {
    let mut words = vec![Bytes::from_static(b"TXEXEC"), Bytes::from(argvs.len().to_string())];
    for argv in argvs {
        words.push(Bytes::from(argv.len().to_string()));
        words.extend(argv.to_vec());
    }
    words.into()
}
