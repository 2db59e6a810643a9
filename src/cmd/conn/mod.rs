//! Connection and server commands, answered by whichever process holds the client
//! connection (server or router) through its [`crate::cmd::Env`]: PING, ECHO, QUIT, RESET,
//! AUTH, HELLO, SELECT, CLIENT, CONFIG, COMMAND, INFO, STATS, TIME, MONITOR, SLOWLOG.

mod auth;
mod basic;
mod client;
mod command;
mod command_info;
mod config;
pub mod help;
mod info;
mod session_cmds;
mod slowlog;

pub use auth::{Auth, Credentials, DEFAULT_USER, Hello, HelloArgs, Secret, check_name, wrongpass};
pub use basic::{Echo, Ping, Quit, Select, Time};
pub use client::{Client, ClientArgs};
pub use command::{CommandArgs, Commands, ListFilter};
pub use command_info::getkeys;
pub use config::{Config, ConfigArgs};
pub use info::{Info, Stats};
pub use session_cmds::{Monitor, Reset};
pub use slowlog::{SLOWLOG_GET_DEFAULT, Slowlog, SlowlogArgs};

use super::Flag;

/// The flags of the commands a client may send before it authenticates (AUTH, HELLO, QUIT,
/// RESET): Redis's set, `no_auth` among them, which is what the auth gate checks.
const BEFORE_AUTH: &[Flag] =
    &[Flag::NoScript, Flag::Loading, Flag::Stale, Flag::Fast, Flag::NoAuth, Flag::AllowBusy];

#[cfg(test)]
mod tests;
