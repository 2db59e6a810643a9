//! Time-to-live commands: TTL, PTTL, EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with NX, XX,
//! GT, LT), EXPIRETIME, PEXPIRETIME, PERSIST, and the unit handling they share with SET's
//! EX/PX.

mod expire;
mod expiretime;
mod persist;
mod ttl;

use std::time::Duration;

pub use expire::{
    Expire, ExpireArgs, ExpireAt, ExpireCmd, PExpire, PExpireAt, When, expire_options,
};
pub use expiretime::{ExpireTime, ExpireTimeCmd, PExpireTime, expire_time_reply};
pub use persist::Persist;
pub use ttl::{Pttl, Ttl, TtlCmd, ttl_reply};

/// The unit a TTL is given or answered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlUnit {
    /// TTL, EXPIRE, EX: seconds.
    Seconds,
    /// PTTL, PEXPIRE, PX and the binary TTL opcode: milliseconds.
    Millis,
}

/// `n` of `unit` as a duration; `None` on overflow.
pub fn to_duration(n: u64, unit: TtlUnit) -> Option<Duration> {
    match unit {
        TtlUnit::Seconds => n.checked_mul(1000).map(Duration::from_millis),
        TtlUnit::Millis => Some(Duration::from_millis(n)),
    }
}
