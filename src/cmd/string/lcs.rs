//! LCS key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]: the longest
//! common subsequence of two strings, by Redis's dynamic programme and its backtracking
//! rules (so IDX reports the same ranges, in the same order). The table is bounded by
//! [`LCS_MAX_CELLS`]; the values are read (each atomically) before any of it is built,
//! so no lock is held while it runs.

use bytes::Bytes;

use crate::cmd::args::{int, key, syntax_error};
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// Largest LCS table, in cells (`(len1 + 1) * (len2 + 1)`, 4 bytes each): 64 MiB and about
/// 16 M steps. Redis refuses a table it cannot allocate with the same message.
pub const LCS_MAX_CELLS: usize = 1 << 24;

/// What LCS answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LcsMode {
    /// LEN: only the length.
    pub len: bool,
    /// IDX: the matching ranges.
    pub idx: bool,
    /// MINMATCHLEN: ranges shorter than this are left out.
    pub min_match_len: i64,
    /// WITHMATCHLEN: each range with its length.
    pub with_match_len: bool,
}

/// Arguments of LCS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LcsArgs {
    /// The two keys.
    pub keys: (Bytes, Bytes),
    /// The options.
    pub mode: LcsMode,
}

/// LCS: the subsequence (a bulk string), its length (LEN), or a map of `matches` and `len`
/// (IDX). Absent keys count as empty strings.
#[derive(Debug)]
pub struct Lcs;

impl Cmd for Lcs {
    type Args = LcsArgs;
    const SPEC: Spec = Spec::new("lcs", -3)
        .flags(&[Flag::ReadOnly])
        .acl(&["@read", "@string", "@slow"])
        .keys(&[KeySpec::range(1, 1, 1, &[KeyFlag::Ro, KeyFlag::Access])])
        .route(Route::SameShard)
        .docs(
            "string",
            "7.0.0",
            "O(N*M) where N and M are the lengths of s1 and s2, respectively",
            "Find longest common substring",
        );

    fn parse(argv: &Argv, limits: &Limits) -> Result<LcsArgs, ErrorReply> {
        let keys = (key(argv, 1, limits)?, key(argv, 2, limits)?);
        let mut mode = LcsMode::default();
        let mut i = 3;
        while let Some(opt) = argv.get(i) {
            let is = |w: &str| opt.eq_ignore_ascii_case(w.as_bytes());
            if is("idx") {
                mode.idx = true;
            } else if is("len") {
                mode.len = true;
            } else if is("withmatchlen") {
                mode.with_match_len = true;
            } else if is("minmatchlen") && i + 1 < argv.len() {
                mode.min_match_len = int(argv, i + 1)?.max(0);
                i += 1;
            } else {
                return Err(syntax_error());
            }
            i += 1;
        }
        if mode.idx && mode.len {
            return Err(ErrorReply::invalid(
                "If you want both the length and indexes, please just use IDX.",
            ));
        }
        Ok(LcsArgs { keys, mode })
    }

    fn keys(args: &LcsArgs) -> Keys<'_> {
        Keys::two(&args.keys.0, &args.keys.1)
    }

    fn apply(args: LcsArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let ks = ctx.keyspace()?;
        let a = ks.get(&args.keys.0).unwrap_or_default();
        let b = ks.get(&args.keys.1).unwrap_or_default();
        lcs(&a, &b, args.mode)
    }
}

/// The LCS reply for `a` and `b`.
pub fn lcs(a: &[u8], b: &[u8], mode: LcsMode) -> Result<Reply, ErrorReply> {
    let cells = (a.len() + 1).checked_mul(b.len() + 1).filter(|&n| n <= LCS_MAX_CELLS);
    let Some(cells) = cells else {
        return Err(ErrorReply::invalid(
            "Insufficient memory, failed allocating transient memory for LCS",
        ));
    };
    // dp[i * (b + 1) + j]: the LCS length of a[..i] and b[..j].
    let w = b.len() + 1;
    let mut dp = vec![0u32; cells];
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            dp[i * w + j] = if a[i - 1] == b[j - 1] {
                dp[(i - 1) * w + j - 1] + 1
            } else {
                dp[(i - 1) * w + j].max(dp[i * w + j - 1])
            };
        }
    }
    let total = dp[a.len() * w + b.len()];
    if mode.len {
        return Ok(Reply::Int(i64::from(total)));
    }
    let (text, matches) = backtrack(a, b, &dp, total as usize, mode);
    if !mode.idx {
        return Ok(Reply::Bulk(Bytes::from(text)));
    }
    Ok(Reply::Map(vec![
        (Reply::text("matches"), Reply::Array(matches)),
        (Reply::text("len"), Reply::Int(i64::from(total))),
    ]))
}

/// Walks the table back from the end as Redis does: the subsequence, and (for IDX) the
/// matching ranges, last first, each `[[a_start, a_end], [b_start, b_end]]` and its
/// length when asked.
fn backtrack(a: &[u8], b: &[u8], dp: &[u32], total: usize, mode: LcsMode) -> (Vec<u8>, Vec<Reply>) {
    let w = b.len() + 1;
    let mut text = vec![0u8; total];
    let mut matches = Vec::new();
    let (mut i, mut j, mut idx) = (a.len(), b.len(), total);
    // The current range: a[a_start..=a_end] matches b[b_start..=b_end]; None between ranges.
    let mut range: Option<(usize, usize, usize, usize)> = None;
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            text[idx - 1] = a[i - 1];
            range = Some(match range {
                None => (i - 1, i - 1, j - 1, j - 1),
                Some((sa, ea, sb, eb)) if sa == i && sb == j => (sa - 1, ea, sb - 1, eb),
                Some(r) => {
                    emit = true;
                    r
                }
            });
            if range.is_some_and(|(sa, _, sb, _)| sa == 0 || sb == 0) {
                emit = true;
            }
            (idx, i, j) = (idx - 1, i - 1, j - 1);
        } else {
            if dp[(i - 1) * w + j] > dp[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            emit = range.is_some();
        }
        if let (true, Some((sa, ea, sb, eb))) = (emit, range) {
            let len = ea - sa + 1;
            if mode.idx && (mode.min_match_len == 0 || len as i64 >= mode.min_match_len) {
                let pair =
                    |s: usize, e: usize| Reply::Array(vec![Reply::count(s), Reply::count(e)]);
                let mut m = vec![pair(sa, ea), pair(sb, eb)];
                if mode.with_match_len {
                    m.push(Reply::count(len));
                }
                matches.push(Reply::Array(m));
            }
            range = None;
        }
    }
    (text, matches)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(min: i64, with: bool) -> LcsMode {
        LcsMode { idx: true, min_match_len: min, with_match_len: with, ..LcsMode::default() }
    }

    fn range(a: (i64, i64), b: (i64, i64), len: Option<i64>) -> Reply {
        let pair = |(s, e)| Reply::Array(vec![Reply::Int(s), Reply::Int(e)]);
        let mut m = vec![pair(a), pair(b)];
        m.extend(len.map(Reply::Int));
        Reply::Array(m)
    }

    #[test]
    fn matches_the_redis_documentation() {
        let (a, b) = (b"ohmytext".as_slice(), b"mynewtext".as_slice());
        assert_eq!(lcs(a, b, LcsMode::default()), Ok(Reply::text("mytext")));
        let len = LcsMode { len: true, ..LcsMode::default() };
        assert_eq!(lcs(a, b, len), Ok(Reply::Int(6)));
        let want = |ranges: Vec<Reply>| {
            Ok(Reply::Map(vec![
                (Reply::text("matches"), Reply::Array(ranges)),
                (Reply::text("len"), Reply::Int(6)),
            ]))
        };
        let all = vec![range((4, 7), (5, 8), None), range((2, 3), (0, 1), None)];
        assert_eq!(lcs(a, b, idx(0, false)), want(all));
        assert_eq!(lcs(a, b, idx(4, true)), want(vec![range((4, 7), (5, 8), Some(4))]));
        assert_eq!(lcs(b"", b"abc", LcsMode::default()), Ok(Reply::text("")));
    }

    #[test]
    fn refuses_tables_over_the_limit() {
        let big = vec![b'x'; 5000];
        let e = lcs(&big, &big, LcsMode::default()).expect_err("too big");
        assert!(e.message.starts_with("Insufficient memory"), "{e}");
    }
}
