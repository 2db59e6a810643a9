//! RENAME key newkey and RENAMENX key newkey.

use bytes::Bytes;

use crate::cmd::args::key;
use crate::cmd::string::store_error;
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};
use crate::store::Change;

/// Arguments of RENAME and RENAMENX (and COPY's two keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenameArgs {
    /// The key whose value moves.
    pub src: Bytes,
    /// Where it goes.
    pub dst: Bytes,
}

/// `no such key`, RENAME's answer without a live source.
pub fn no_such_key() -> ErrorReply {
    ErrorReply::invalid("no such key")
}

const SRC: KeySpec = KeySpec::range(1, 0, 1, &[KeyFlag::Rw, KeyFlag::Access, KeyFlag::Delete]);
const NX_KEYS: &[KeySpec] = &[SRC, KeySpec::range(2, 0, 1, &[KeyFlag::Ow, KeyFlag::Insert])];
const KEYS: &[KeySpec] = &[SRC, KeySpec::range(2, 0, 1, &[KeyFlag::Ow, KeyFlag::Update])];

/// RENAME (`NX = false`) and RENAMENX: the value and TTL move to the new name, replacing
/// what it held (RENAMENX: only if it held nothing). Both keys must share a shard in a
/// cluster.
#[derive(Debug)]
pub struct RenameCmd<const NX: bool>;

/// RENAME key newkey.
pub type Rename = RenameCmd<false>;
/// RENAMENX key newkey.
pub type RenameNx = RenameCmd<true>;

impl<const NX: bool> Cmd for RenameCmd<NX> {
    type Args = RenameArgs;
    const SPEC: Spec = if NX {
        Spec::new("renamenx", 3)
            .flags(&[Flag::Write, Flag::Fast])
            .acl(&["@keyspace", "@write", "@fast"])
            .keys(NX_KEYS)
            .route(Route::SameShard)
            .docs("generic", "1.0.0", "O(1)", "Rename a key, only if the new key does not exist")
    } else {
        Spec::new("rename", 3)
            .flags(&[Flag::Write])
            .acl(&["@keyspace", "@write", "@slow"])
            .keys(KEYS)
            .route(Route::SameShard)
            .docs("generic", "1.0.0", "O(1)", "Rename a key")
    };

    fn parse(argv: &Argv, limits: &Limits) -> Result<RenameArgs, ErrorReply> {
        Ok(RenameArgs { src: key(argv, 1, limits)?, dst: key(argv, 2, limits)? })
    }

    fn keys(args: &RenameArgs) -> Keys<'_> {
        Keys::two(&args.src, &args.dst)
    }

    /// RENAME: `+OK`; RENAMENX: 1 if renamed, 0 if the new name was taken (or is the old
    /// one). `no such key` without a live source.
    fn apply(args: RenameArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let change =
            ctx.keyspace()?.rename(&args.src, &args.dst, NX).map_err(|e| store_error(&e))?;
        match change {
            Change::Missing => Err(no_such_key()),
            Change::Refused => Ok(Reply::Int(0)),
            _ if NX => Ok(Reply::Int(1)),
            _ => Ok(Reply::Ok),
        }
    }
}
