//! What a client asks about durability: LASTSAVE, SAVE and BGSAVE (shale keeps nothing on
//! disk) and WAIT (shale has no replicas of the kind WAIT counts). Each answers what is
//! true of a process without persistence or Redis replication.

mod save;
mod wait;

pub use save::{BgSave, LastSave, NO_PERSISTENCE, Save, started_unix_secs};
pub use wait::{Wait, WaitArgs};
