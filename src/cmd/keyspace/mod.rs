//! Keyspace commands: DEL, UNLINK, EXISTS, TOUCH, TYPE, RENAME, RENAMENX, COPY, KEYS, SCAN,
//! RANDOMKEY, DBSIZE, FLUSHALL, FLUSHDB, and the key introspection containers OBJECT and
//! MEMORY. (SWAPDB and MOVE are not here: with one database they could never do anything
//! but fail or nothing.)

mod copy;
mod dbsize;
mod del;
mod exists;
mod flush;
mod keys;
mod memory;
mod object;
mod randomkey;
mod rename;
mod scan;
mod type_of;

pub use copy::{Copy, CopyArgs};
pub use dbsize::DbSize;
pub use del::{Del, DelCmd, Unlink};
pub use exists::{Exists, ExistsCmd, Touch};
pub use flush::{FlushAll, FlushCmd, FlushDb, FlushMode};
pub use keys::{KeysCmd, pattern_filter};
pub use memory::{Memory, MemoryArgs};
pub use object::{NO_IDLETIME, NO_LFU, Object, ObjectArgs};
pub use randomkey::RandomKey;
pub use rename::{Rename, RenameArgs, RenameCmd, RenameNx, no_such_key};
pub use scan::{SCAN_DEFAULT_COUNT, Scan, ScanArgs, parse_cursor};
pub use type_of::Type;
