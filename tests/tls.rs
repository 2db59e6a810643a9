//! TLS end to end, with throwaway certificates generated at test time (`tls/pki.rs`): RESP
//! over TLS from a raw rustls client (what redis-cli --tls does), the binary client,
//! mutual TLS, plain and TLS ports side by side, TLS only through the real binary, the
//! router to TLS backends, certificate reload on SIGHUP, and bad certificates.
#![allow(missing_docs, clippy::unwrap_used)]

#[path = "common/mod.rs"]
mod common;

#[path = "tls/pki.rs"]
mod pki;
#[path = "tls/process.rs"]
mod process;
#[path = "tls/rejects.rs"]
mod rejects;
#[path = "tls/router.rs"]
mod router;
#[path = "tls/server.rs"]
mod server;
#[path = "tls/support.rs"]
mod support;
