//! TXWATCH: how a router watches keys for its client. A watch is a mark on one store (see
//! [`crate::store::WatchMark`]), and the store that runs a router's transaction is its
//! shard's coordinator, so the router asks the coordinator for the marks (as an RMW
//! request, which only the coordinator answers) when its client sends WATCH, keeps them on
//! the client's connection, and hands them back in TXEXEC's WATCH section at EXEC.
//!
//! `TXWATCH key [key ...]` answers one mark per key, as text. A cluster node answering it
//! as an RMW request puts its coordinator token first (`server/node/rmw.rs`), which TXEXEC
//! must carry back: a mark means nothing on another node, after a restart, or across a
//! handover of the shard (a new coordinatorship), so any of them aborts the transaction.

use bytes::Bytes;

use crate::cmd::args::keys_from;
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// TXWATCH key [key ...]: each key's watch mark.
#[derive(Debug)]
pub struct TxWatch;

impl Cmd for TxWatch {
    type Args = Vec<Bytes>;
    // Flagged a write although it changes nothing: a router sends same-shard writes to the
    // shard's coordinator, the only store whose marks TXEXEC can check.
    const SPEC: Spec = Spec::new("txwatch", -2)
        .flags(&[Flag::Write, Flag::NoScript, Flag::Fast])
        .acl(&["@fast", "@transaction"])
        .keys(&[KeySpec::range(1, -1, 1, &[KeyFlag::Ro])])
        .route(Route::SameShard)
        .docs(
            "shale",
            "0.1.0",
            "O(1) for every key.",
            "Mark keys for a router's WATCH, as its shard's coordinator sees them",
        );

    fn parse(argv: &Argv, limits: &Limits) -> Result<Vec<Bytes>, ErrorReply> {
        keys_from(argv, 1, limits)
    }

    fn keys(keys: &Vec<Bytes>) -> Keys<'_> {
        Keys::slice(keys)
    }

    fn apply(keys: Vec<Bytes>, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let ks = ctx.keyspace()?;
        let marks = keys.iter().map(|k| Reply::Bulk(Bytes::from(ks.watch(k).to_text())));
        Ok(Reply::Array(marks.collect()))
    }
}
