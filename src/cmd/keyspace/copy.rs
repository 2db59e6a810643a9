//! COPY source destination [DB destination-db] [REPLACE].

use crate::cmd::args::{arg, db_index, db_zero, is, key, syntax_error};
use crate::cmd::string::store_error;
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

use super::RenameArgs;

/// Arguments of COPY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyArgs {
    /// Source and destination.
    pub keys: RenameArgs,
    /// REPLACE: overwrite a live destination.
    pub replace: bool,
}

/// COPY: the value and TTL of `source` copied to `destination` (1), or 0 when the source
/// is not live or the destination is and REPLACE was not given. `DB` may only name 0, the
/// one database.
#[derive(Debug)]
pub struct Copy;

impl Cmd for Copy {
    type Args = CopyArgs;
    const SPEC: Spec = Spec::new("copy", -3)
        .flags(&[Flag::Write, Flag::DenyOom])
        .acl(&["@keyspace", "@write", "@slow"])
        .keys(&[
            KeySpec::range(1, 0, 1, &[KeyFlag::Ro, KeyFlag::Access]),
            KeySpec::range(2, 0, 1, &[KeyFlag::Ow, KeyFlag::Update]),
        ])
        .route(Route::SameShard)
        .docs(
            "generic",
            "6.2.0",
            "O(N) worst case for collections, where N is the number of nested items. O(1) for \
             string values.",
            "Copy a key",
        );

    /// Redis's order: the options (an unknown word or a DB without a number is a syntax
    /// error, a bad number not an integer), then the database, then source == destination.
    fn parse(argv: &Argv, limits: &Limits) -> Result<CopyArgs, ErrorReply> {
        let (mut replace, mut db, mut i) = (false, 0, 3);
        while i < argv.len() {
            if is(argv, i, "replace") {
                replace = true;
            } else if is(argv, i, "db") && i + 1 < argv.len() {
                db = db_index(argv, i + 1)?;
                i += 1;
            } else {
                return Err(syntax_error());
            }
            i += 1;
        }
        db_zero(db)?;
        if arg(argv, 1) == arg(argv, 2) {
            return Err(ErrorReply::invalid("source and destination objects are the same"));
        }
        let keys = RenameArgs { src: key(argv, 1, limits)?, dst: key(argv, 2, limits)? };
        Ok(CopyArgs { keys, replace })
    }

    fn keys(args: &CopyArgs) -> Keys<'_> {
        Keys::two(&args.keys.src, &args.keys.dst)
    }

    fn apply(args: CopyArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let RenameArgs { src, dst } = &args.keys;
        let change = ctx.keyspace()?.copy(src, dst, args.replace).map_err(|e| store_error(&e))?;
        Ok(Reply::Int(i64::from(change.done())))
    }
}
