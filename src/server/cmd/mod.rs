//! One function per command, each a pure function of its arguments and the store, so
//! commands are unit-testable without sockets.

pub mod admin;
pub mod expiry;
pub mod info;
pub mod keys;
