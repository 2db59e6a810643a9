//! String commands: GET, SET (every option), MGET, MSET, and the rest of Redis's string
//! group: the counters (INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT), APPEND, STRLEN,
//! GETRANGE and SUBSTR, SETRANGE, GETSET, GETDEL, GETEX, SETNX, SETEX, PSETEX, MSETNX, LCS.

mod append;
mod counter;
mod get;
mod getset;
mod incrbyfloat;
mod lcs;
mod ldouble;
mod mget;
mod mset;
mod options;
mod range;
mod set;
mod setnx;

#[cfg(test)]
mod redis_set_tests;
#[cfg(test)]
pub(crate) mod tests;

pub use append::{Append, AppendArgs, Strlen, too_long};
pub use counter::{Counter, CounterCmd, Decr, DecrBy, Incr, IncrArgs, IncrBy, format_i64};
pub use get::Get;
pub use getset::{GetDel, GetEx, GetExArgs, GetSet};
pub use incrbyfloat::{IncrByFloat, IncrByFloatArgs};
pub use lcs::{LCS_MAX_CELLS, Lcs, LcsArgs, LcsMode};
pub use ldouble::{LONG_DOUBLE_TEXT_MAX, LongDouble};
pub use mget::MGet;
pub use mset::MSet;
pub use options::{ExpireOpt, unix_ms};
pub use range::{GetRange, GetRangeCmd, RangeArgs, SetRange, SetRangeArgs, Substr, byte_range};
pub use set::{Set, SetArgs, SetMode, SetMore};
pub use setnx::{MSetNx, PSetEx, SetEx, SetExArgs, SetExCmd, SetNx};

use crate::protocol::{ErrorReply, Status};
use crate::store::StoreError;

/// The reply for a write the store refused: OUT_OF_MEMORY (`-OOM ...`) when full.
pub fn store_error(e: &StoreError) -> ErrorReply {
    let status = match e {
        StoreError::OutOfMemory { .. } => Status::OutOfMemory,
        _ => Status::InvalidArgument,
    };
    ErrorReply::new(status, e.to_string())
}
