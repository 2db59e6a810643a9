//! OBJECT ENCODING | FREQ | IDLETIME | REFCOUNT key, and OBJECT HELP.
//!
//! What shale can say truthfully: ENCODING names how the value is held (`embstr` when it
//! is stored inline with its key, up to [`crate::store::INLINE_VALUE_MAX`] bytes, `raw`
//! when it has a buffer of its own, and `int` for a value that reads as a 64-bit integer,
//! as Redis holds one; Redis's own answer also depends on the value's history, `raw` after
//! APPEND or SETRANGE, which shale does not keep), REFCOUNT is always 1,
//! FREQ gets Redis's answer under a non-LFU policy (shale has no LFU), and IDLETIME an
//! error: shale's CLOCK eviction keeps one recently-used bit per key, not a time.

use bytes::Bytes;

use crate::cmd::args::{key, lower};
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

const ACL: &[&str] = &["@keyspace", "@read", "@slow"];
const KEY: &[KeySpec] = &[KeySpec::range(2, 0, 1, &[KeyFlag::Ro])];

/// A keyed OBJECT subcommand's declaration.
const fn keyed(name: &'static str, since: &'static str, summary: &'static str) -> Spec {
    Spec::new(name, 3)
        .flags(&[Flag::ReadOnly])
        .acl(ACL)
        .tips(&["nondeterministic_output"])
        .keys(KEY)
        .route(Route::Read)
        .docs("generic", since, "O(1)", summary)
}

const SUBS: &[Spec] = &[
    keyed("object|encoding", "2.2.3", "Inspect the internal encoding of a Redis object"),
    keyed("object|freq", "4.0.0", "Get the logarithmic access frequency counter of a Redis object"),
    keyed("object|idletime", "2.2.3", "Get the time since a Redis object was last accessed"),
    keyed("object|refcount", "2.2.3", "Get the number of references to the value of the key"),
    Spec::new("object|help", 2)
        .flags(&[Flag::Loading, Flag::Stale])
        .acl(&["@keyspace", "@slow"])
        .docs("generic", "6.2.0", "O(1)", "Show helpful text about the different subcommands"),
];

const HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

/// Redis's FREQ answer when the policy is not LFU (shale has no LFU policy).
pub const NO_LFU: &str = "An LFU maxmemory policy is not selected, access frequency not tracked. \
     Please note that when switching between policies at runtime LRU and LFU data will take \
     some time to adjust.";

/// IDLETIME's answer: shale keeps no access time.
pub const NO_IDLETIME: &str =
    "shale does not track idle time: its eviction keeps one recently-used bit per key";

/// Parsed OBJECT arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectArgs {
    /// OBJECT ENCODING key.
    Encoding(Bytes),
    /// OBJECT FREQ key.
    Freq(Bytes),
    /// OBJECT IDLETIME key.
    IdleTime(Bytes),
    /// OBJECT REFCOUNT key.
    RefCount(Bytes),
    /// OBJECT HELP.
    Help,
}

/// The OBJECT container.
#[derive(Debug)]
pub struct Object;

impl Cmd for Object {
    type Args = ObjectArgs;
    const SPEC: Spec = Spec::new("object", -2).acl(&["@slow"]).subcommands(SUBS).docs(
        "generic",
        "2.2.3",
        "Depends on subcommand.",
        "A container for object introspection commands",
    );

    fn parse(argv: &Argv, limits: &Limits) -> Result<ObjectArgs, ErrorReply> {
        Ok(match lower(argv, 1).as_str() {
            "encoding" => ObjectArgs::Encoding(key(argv, 2, limits)?),
            "freq" => ObjectArgs::Freq(key(argv, 2, limits)?),
            "idletime" => ObjectArgs::IdleTime(key(argv, 2, limits)?),
            "refcount" => ObjectArgs::RefCount(key(argv, 2, limits)?),
            _ => ObjectArgs::Help,
        })
    }

    fn keys(args: &ObjectArgs) -> Keys<'_> {
        match args {
            ObjectArgs::Encoding(k)
            | ObjectArgs::Freq(k)
            | ObjectArgs::IdleTime(k)
            | ObjectArgs::RefCount(k) => Keys::one(k),
            ObjectArgs::Help => Keys::none(),
        }
    }

    fn sub(args: &ObjectArgs) -> Option<&'static Spec> {
        SUBS.get(match args {
            ObjectArgs::Encoding(_) => 0,
            ObjectArgs::Freq(_) => 1,
            ObjectArgs::IdleTime(_) => 2,
            ObjectArgs::RefCount(_) => 3,
            ObjectArgs::Help => 4,
        })
    }

    fn route(args: &ObjectArgs) -> Route {
        Self::sub(args).map_or(Route::Connection, |s| s.route)
    }

    /// Nil for a key that is not live (before any error, as in Redis).
    fn apply(args: ObjectArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let key = match &args {
            ObjectArgs::Help => return Ok(crate::cmd::conn::help::reply(HELP)),
            ObjectArgs::Encoding(k)
            | ObjectArgs::Freq(k)
            | ObjectArgs::IdleTime(k)
            | ObjectArgs::RefCount(k) => k,
        };
        let Some(info) = ctx.keyspace()?.inspect(key) else { return Ok(Reply::Nil) };
        match args {
            ObjectArgs::Encoding(_) => Ok(Reply::text(match (info.int, info.inline) {
                (true, _) => "int",
                (false, true) => "embstr",
                (false, false) => "raw",
            })),
            ObjectArgs::RefCount(_) => Ok(Reply::Int(1)),
            ObjectArgs::Freq(_) => Err(ErrorReply::invalid(NO_LFU)),
            ObjectArgs::IdleTime(_) | ObjectArgs::Help => Err(ErrorReply::invalid(NO_IDLETIME)),
        }
    }
}
