//! SCAN cursor [MATCH pattern] [COUNT count] [TYPE type].
//!
//! The cursor is the store's (see `store/walk.rs`): the stripe and the position inside it,
//! so the server keeps no state per scan, any cursor it handed out stays valid while it
//! runs, and every key present from the first call to the last is returned at least once
//! whatever the store does meanwhile (a key may come twice).

use bytes::Bytes;

use super::keys::pattern_filter;
use crate::cmd::args::{arg, int, is, syntax_error};
use crate::cmd::{Cmd, Ctx, Flag, Keys, Merge, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// Entries one SCAN call looks at when no COUNT is given, as in Redis.
pub const SCAN_DEFAULT_COUNT: usize = 10;

/// Arguments of SCAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanArgs {
    /// Where to continue (0: from the start).
    pub cursor: u64,
    /// MATCH: a glob pattern keys must match.
    pub pattern: Option<Bytes>,
    /// COUNT: about how many entries to look at.
    pub count: usize,
    /// TYPE: only keys of this type (`string` is the only one shale has).
    pub type_name: Option<Bytes>,
}

/// A cursor as Redis reads one (`strtoul`): decimal digits, an optional sign (a minus
/// wraps around), no surrounding spaces, no overflow; the empty string is 0.
pub fn parse_cursor(b: &[u8]) -> Option<u64> {
    let digits = match b.first() {
        None => return Some(0),
        Some(b'+' | b'-') => &b[1..],
        Some(_) => b,
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n =
        digits.iter().try_fold(0u64, |n, d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))?;
    Some(if b[0] == b'-' { n.wrapping_neg() } else { n })
}

/// SCAN: one step of a walk over the keyspace, `[next cursor, [keys...]]`.
#[derive(Debug)]
pub struct Scan;

impl Cmd for Scan {
    type Args = ScanArgs;
    const SPEC: Spec = Spec::new("scan", -2)
        .flags(&[Flag::ReadOnly])
        .acl(&["@keyspace", "@read", "@slow"])
        .tips(&["nondeterministic_output", "request_policy:special"])
        .route(Route::AllShards { merge: Merge::Cursor })
        .docs(
            "generic",
            "2.8.0",
            "O(1) for every call. O(N) for a complete iteration, including enough command \
             calls for the cursor to return back to 0. N is the number of elements inside the \
             collection.",
            "Incrementally iterate the keys space",
        );

    /// Redis's order: the cursor, then the options left to right (a later one wins).
    fn parse(argv: &Argv, _: &Limits) -> Result<ScanArgs, ErrorReply> {
        let cursor =
            parse_cursor(&arg(argv, 1)).ok_or_else(|| ErrorReply::invalid("invalid cursor"))?;
        let mut args =
            ScanArgs { cursor, pattern: None, count: SCAN_DEFAULT_COUNT, type_name: None };
        let mut i = 2;
        while i < argv.len() {
            if i + 1 >= argv.len() {
                return Err(syntax_error());
            }
            if is(argv, i, "count") {
                let n = int(argv, i + 1)?;
                args.count =
                    usize::try_from(n).ok().filter(|&n| n >= 1).ok_or_else(syntax_error)?;
            } else if is(argv, i, "match") {
                args.pattern = Some(arg(argv, i + 1));
            } else if is(argv, i, "type") {
                args.type_name = Some(arg(argv, i + 1));
            } else {
                return Err(syntax_error());
            }
            i += 2;
        }
        Ok(args)
    }

    fn keys(_: &ScanArgs) -> Keys<'_> {
        Keys::none()
    }

    /// Every key is a string: TYPE `string` filters nothing, any other type everything.
    fn apply(args: ScanArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let ks = ctx.keyspace()?;
        let pattern = args.pattern.unwrap_or_else(|| Bytes::from_static(b"*"));
        let matching = pattern_filter(&pattern);
        let typed = args.type_name.is_none_or(|t| t.eq_ignore_ascii_case(b"string"));
        let filter = |k: &[u8]| typed && matching(k);
        let (keys, next) = ks.scan(args.cursor, args.count, &filter);
        Ok(Reply::Array(vec![
            Reply::text(&next.to_string()),
            Reply::Array(keys.into_iter().map(Reply::Bulk).collect()),
        ]))
    }
}
