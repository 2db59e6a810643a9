//! BITOP AND | OR | XOR | NOT destkey key [key ...]: a bitwise operation over strings,
//! stored at the destination. Each source is read atomically, then the result is written
//! (with no TTL) in one step; inside EXEC, where the keyspace view holds every stripe, the
//! whole command is atomic as in Redis. Through a router the keys must share a shard.

use bytes::Bytes;

use crate::cmd::args::{key, keys_from, syntax_error};
use crate::cmd::string::store_error;
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};
use crate::store::SetCond;

/// The operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitOp {
    /// AND: a byte missing from a shorter source counts as zero.
    And,
    /// OR.
    Or,
    /// XOR.
    Xor,
    /// NOT of a single source.
    Not,
}

/// Arguments of BITOP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitOpArgs {
    /// The operation.
    pub op: BitOp,
    /// Where the result goes.
    pub dest: Bytes,
    /// The sources (absent keys are empty strings).
    pub sources: Vec<Bytes>,
}

/// `op` over `sources`, as long as the longest; shorter ones are zero-padded.
pub fn combine(op: BitOp, sources: &[Bytes]) -> Vec<u8> {
    let len = sources.iter().map(Bytes::len).max().unwrap_or(0);
    let byte = |s: &Bytes, i: usize| s.get(i).copied().unwrap_or(0);
    let mut out = match sources.first() {
        Some(first) => (0..len).map(|i| byte(first, i)).collect::<Vec<u8>>(),
        None => Vec::new(),
    };
    if op == BitOp::Not {
        out.iter_mut().for_each(|b| *b = !*b);
        return out;
    }
    for s in &sources[1..] {
        for (i, b) in out.iter_mut().enumerate() {
            let x = byte(s, i);
            match op {
                BitOp::And => *b &= x,
                BitOp::Or => *b |= x,
                BitOp::Xor => *b ^= x,
                BitOp::Not => {}
            }
        }
    }
    out
}

/// BITOP: the length of the string stored at the destination; an all-empty result deletes
/// the destination instead.
#[derive(Debug)]
pub struct BitOpCmd;

impl Cmd for BitOpCmd {
    type Args = BitOpArgs;
    const SPEC: Spec = Spec::new("bitop", -4)
        .flags(&[Flag::Write, Flag::DenyOom])
        .acl(&["@write", "@bitmap", "@slow"])
        .keys(&[
            KeySpec::range(2, 0, 1, &[KeyFlag::Ow, KeyFlag::Update]),
            KeySpec::range(3, -1, 1, &[KeyFlag::Ro, KeyFlag::Access]),
        ])
        .route(Route::SameShard)
        .docs("bitmap", "2.6.0", "O(N)", "Perform bitwise operations between strings");

    fn parse(argv: &Argv, limits: &Limits) -> Result<BitOpArgs, ErrorReply> {
        let word = argv.get(1).unwrap_or_default();
        let is = |w: &str| word.eq_ignore_ascii_case(w.as_bytes());
        let op = match () {
            _ if is("and") => BitOp::And,
            _ if is("or") => BitOp::Or,
            _ if is("xor") => BitOp::Xor,
            _ if is("not") => BitOp::Not,
            _ => return Err(syntax_error()),
        };
        if op == BitOp::Not && argv.len() != 4 {
            return Err(ErrorReply::invalid("BITOP NOT must be called with a single source key."));
        }
        Ok(BitOpArgs { op, dest: key(argv, 2, limits)?, sources: keys_from(argv, 3, limits)? })
    }

    fn keys(args: &BitOpArgs) -> Keys<'_> {
        Keys::one_then(&args.dest, &args.sources)
    }

    fn apply(args: BitOpArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let ks = ctx.keyspace()?;
        let values: Vec<Bytes> =
            args.sources.iter().map(|k| ks.get(k).unwrap_or_default()).collect();
        let out = combine(args.op, &values);
        if out.is_empty() {
            ks.del(&args.dest);
            return Ok(Reply::Int(0));
        }
        ks.set(&args.dest, &out, None, SetCond::Always).map_err(|e| store_error(&e))?;
        Ok(Reply::count(out.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &[u8]) -> Bytes {
        Bytes::copy_from_slice(s)
    }

    #[test]
    fn combines_like_redis() {
        // Recorded from redis-server 7.0: SET a abc, SET b x.
        let (a, x) = (b(b"abc"), b(b"x"));
        assert_eq!(combine(BitOp::Or, &[a.clone(), x.clone()]), b"ybc");
        assert_eq!(combine(BitOp::Not, std::slice::from_ref(&a)), [0x9e, 0x9d, 0x9c]);
        assert_eq!(combine(BitOp::And, &[a.clone(), Bytes::new()]), [0, 0, 0]);
        assert_eq!(combine(BitOp::Xor, &[a.clone(), x, a]), b"x\0\0");
        assert!(combine(BitOp::And, &[Bytes::new(), Bytes::new()]).is_empty());
    }
}
