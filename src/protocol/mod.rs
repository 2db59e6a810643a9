//! The wire contract, without I/O: the reply model, the binary frame format, Redis text
//! (RESP2/RESP3 and inline) framing and rendering, and every limit.
//!
//! This module owns *what bytes mean* at the frame level; it never reads or writes a
//! socket, and it does not know which commands exist ([`crate::cmd`] declares those and
//! parses their arguments). [`crate::codec`] adapts it to tokio streams; the server, router
//! and client all share it. protocol.md is the prose version of the same contract.
//!
//! A binary frame is a big-endian `len:u32` followed by `len` bytes:
//!
//! ```text
//! request:
//! +---------+---------+--------+----------+--------+-----------+-----------+-------+-------+
//! | len:u32 | ver:u8  | op:u8  | flags:u16| id:u32 | ttl_ms:u64| key_len:16| key   | value |
//! +---------+---------+--------+----------+--------+-----------+-----------+-------+-------+
//!  4 bytes   \__________________ 18-byte header ____________________________/
//!
//! response:
//! +---------+---------+-----------+----------+--------+---------+
//! | len:u32 | ver:u8  | status:u8 | flags:u16| id:u32 | payload |
//! +---------+---------+-----------+----------+--------+---------+
//! ```

pub mod binary;
pub mod cluster;
pub mod dump;
pub mod limits;
mod reply;
pub mod rmw;
pub mod shards;
mod status;
pub mod text;

pub use limits::Limits;
pub use reply::{EXECABORT_MESSAGE, ErrorReply, NOPROTO_MESSAGE, Reply, WRONGPASS_MESSAGE};
pub use status::{Opcode, Status};
