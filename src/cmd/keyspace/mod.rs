//! Keyspace commands: DEL, EXISTS, DBSIZE, FLUSHALL, FLUSHDB.

mod dbsize;
mod del;
mod exists;
mod flush;

pub use dbsize::DbSize;
pub use del::Del;
pub use exists::Exists;
pub use flush::{FlushAll, FlushCmd, FlushDb, FlushMode};
