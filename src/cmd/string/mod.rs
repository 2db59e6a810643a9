//! String commands: GET, SET, MGET, MSET.

mod get;
mod mget;
mod mset;
mod set;

pub use get::Get;
pub use mget::MGet;
pub use mset::MSet;
pub use set::{Set, SetArgs, SetMode};

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
