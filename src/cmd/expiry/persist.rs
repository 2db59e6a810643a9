//! PERSIST key.

use bytes::Bytes;

use crate::cmd::args::key;
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// PERSIST: 1 if a TTL was removed, else 0.
#[derive(Debug)]
pub struct Persist;

impl Cmd for Persist {
    type Args = Bytes;
    const SPEC: Spec = Spec::new("persist", 2)
        .flags(&[Flag::Write, Flag::Fast])
        .acl(&["@keyspace", "@write", "@fast"])
        .keys(&[KeySpec::range(1, 0, 1, &[KeyFlag::Rw, KeyFlag::Update])])
        .route(Route::ReadModifyWrite)
        .docs("generic", "2.2.0", "O(1)", "Remove the expiration from a key");

    fn parse(argv: &Argv, limits: &Limits) -> Result<Bytes, ErrorReply> {
        key(argv, 1, limits)
    }

    fn keys(key: &Bytes) -> Keys<'_> {
        Keys::one(key)
    }

    fn apply(key: Bytes, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        Ok(Reply::Int(i64::from(ctx.keyspace()?.persist(&key))))
    }
}
