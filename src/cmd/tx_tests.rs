//! MULTI/EXEC/DISCARD/WATCH through [`execute`] with one session, as a connection runs
//! them: queueing, EXECABORT, runtime errors inside EXEC, WATCH aborts, and EXEC's
//! atomicity against other threads.

use std::sync::Arc;

use bytes::Bytes;

use super::test_env::TestEnv;
use super::{Ctx, Session, execute, parse};
use crate::protocol::{ErrorReply, Limits, Reply};
use crate::store::{Store, StoreConfig};

/// One connection: a session over a store.
struct Conn<'s> {
    store: &'s Store,
    env: TestEnv,
    session: Session,
}

impl<'s> Conn<'s> {
    fn new(store: &'s Store) -> Self {
        let peer = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        Self { store, env: TestEnv::new(), session: Session::new(1, peer, true) }
    }

    /// Runs one command; a parse error fails an open transaction, as the connection does.
    fn run(&mut self, words: &[&str]) -> Reply {
        let argv: Vec<Bytes> = words.iter().map(|w| Bytes::copy_from_slice(w.as_bytes())).collect();
        match parse(&argv.into(), &Limits::default()) {
            Ok(cmd) => execute(cmd, &mut Ctx::new(&mut self.session, &self.env, Some(self.store))),
            Err(e) => self.session.tx.refuse(e),
        }
    }
}

fn queued() -> Reply {
    Reply::Simple("QUEUED")
}

fn err(msg: &str) -> Reply {
    Reply::Error(ErrorReply::invalid(msg.to_owned()))
}

#[test]
fn exec_runs_the_queue_in_order() {
    let store = Store::new(StoreConfig::default());
    let mut c = Conn::new(&store);
    assert_eq!(c.run(&["MULTI"]), Reply::Ok);
    assert_eq!(c.run(&["SET", "a", "1"]), queued());
    assert_eq!(c.run(&["GET", "a"]), queued());
    assert_eq!(store.get(b"a"), None, "nothing runs before EXEC");
    assert_eq!(c.run(&["RENAME", "nokey", "b"]), queued());
    let want = vec![Reply::Ok, Reply::text("1"), err("no such key")];
    assert_eq!(c.run(&["EXEC"]), Reply::Array(want), "runtime errors are per command");
    assert_eq!(c.run(&["EXEC"]), err("EXEC without MULTI"));
}

#[test]
fn a_command_that_fails_to_queue_aborts_exec() {
    let store = Store::new(StoreConfig::default());
    let mut c = Conn::new(&store);
    c.run(&["MULTI"]);
    c.run(&["SET", "a", "1"]);
    assert!(matches!(c.run(&["GET"]), Reply::Error(_)), "wrong arity");
    let abort = c.run(&["EXEC"]);
    let Reply::Error(e) = abort else { panic!("{abort:?}") };
    assert_eq!(e.to_string(), "EXECABORT Transaction discarded because of previous errors.");
    assert_eq!(store.get(b"a"), None, "nothing ran");
    c.run(&["MULTI"]);
    assert!(matches!(c.run(&["NOSUCHCOMMAND"]), Reply::Error(_)), "unknown");
    assert!(matches!(c.run(&["EXEC"]), Reply::Error(e) if e.message.starts_with("Transaction")));
    c.run(&["MULTI"]);
    assert_eq!(c.run(&["SAVE"]), err("Command not allowed inside a transaction"));
    assert!(matches!(c.run(&["EXEC"]), Reply::Error(e) if e.message.starts_with("Transaction")));
}

#[test]
fn other_parse_errors_are_replies_inside_exec_as_in_redis() {
    let store = Store::new(StoreConfig::default());
    let mut c = Conn::new(&store);
    c.run(&["MULTI"]);
    assert_eq!(c.run(&["SET", "a", "1", "FOO"]), queued());
    assert_eq!(c.run(&["EXPIRE", "a", "x"]), queued());
    assert_eq!(c.run(&["SET", "b", "2"]), queued());
    let want = vec![err("syntax error"), err("value is not an integer or out of range"), Reply::Ok];
    assert_eq!(c.run(&["EXEC"]), Reply::Array(want));
    assert_eq!(store.get(b"b").as_deref(), Some(&b"2"[..]));
}

#[test]
fn nesting_and_misplaced_commands_get_redis_errors() {
    let store = Store::new(StoreConfig::default());
    let mut c = Conn::new(&store);
    assert_eq!(c.run(&["DISCARD"]), err("DISCARD without MULTI"));
    c.run(&["MULTI"]);
    assert_eq!(c.run(&["MULTI"]), err("MULTI calls can not be nested"));
    assert_eq!(c.run(&["WATCH", "a"]), err("WATCH inside MULTI is not allowed"));
    assert_eq!(c.run(&["PING"]), queued());
    assert_eq!(c.run(&["EXEC"]), Reply::Array(vec![Reply::Simple("PONG")]), "not aborted");
    c.run(&["MULTI"]);
    c.run(&["SET", "a", "1"]);
    assert_eq!(c.run(&["DISCARD"]), Reply::Ok);
    assert_eq!(store.get(b"a"), None);
    c.run(&["MULTI"]);
    c.run(&["MONITOR"]);
    let monitor = err("MONITOR isn't allowed for DENY BLOCKING client");
    assert_eq!(c.run(&["EXEC"]), Reply::Array(vec![monitor]));
}

#[test]
fn watch_aborts_on_a_write_an_expiry_a_creation_or_a_flush() {
    let store = Store::new(StoreConfig::default());
    let mut c = Conn::new(&store);
    let mut other = Conn::new(&store);
    let changes: &[(&[&str], &[&str])] = &[
        (&["SET", "w", "1"], &["SET", "w", "2"]),      // a write
        (&["SET", "w", "1"], &["PEXPIRE", "w", "0"]),  // an expiry
        (&["SET", "w", "1"], &["EXPIRE", "w", "100"]), // a new deadline
        (&["DEL", "w"], &["SET", "w", "1"]),           // an absent key created
        (&["SET", "w", "1"], &["FLUSHALL"]),           // a flush
        (&["SET", "w", "1"], &["RENAME", "w", "v"]),   // renamed away
    ];
    for (setup, change) in changes {
        other.run(setup);
        assert_eq!(c.run(&["WATCH", "w"]), Reply::Ok);
        other.run(change);
        c.run(&["MULTI"]);
        assert_eq!(c.run(&["SET", "done", "1"]), queued());
        assert_eq!(c.run(&["EXEC"]), Reply::NilArray, "{change:?} aborts");
        assert_eq!(store.get(b"done"), None);
    }
    other.run(&["SET", "w", "1"]);
    c.run(&["WATCH", "w"]);
    other.run(&["GET", "w"]);
    c.run(&["MULTI"]);
    c.run(&["SET", "w", "2"]);
    assert_eq!(c.run(&["EXEC"]), Reply::Array(vec![Reply::Ok]), "a read is no change");
    c.run(&["WATCH", "w"]);
    other.run(&["SET", "w", "3"]);
    c.run(&["UNWATCH"]);
    c.run(&["MULTI"]);
    assert_eq!(c.run(&["EXEC"]), Reply::Array(vec![]), "UNWATCH forgets");
}

/// Two threads: one runs MULTI / SET a / SET b / EXEC with the same value, the other reads
/// a and b one GET at a time inside its own MULTI. Every EXEC sees them equal.
#[test]
fn exec_is_atomic_across_stripes() {
    let store = Arc::new(Store::new(StoreConfig::default()));
    // Keys on different stripes, so only lock_all makes the pair atomic.
    let (a, b) = ("pair:a", "pair:b{x}");
    store.set(a.as_bytes(), b"0", None, crate::store::SetCond::Always);
    store.set(b.as_bytes(), b"0", None, crate::store::SetCond::Always);
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            let mut c = Conn::new(&store);
            for i in 0..2000 {
                let v = i.to_string();
                c.run(&["MULTI"]);
                c.run(&["SET", a, &v]);
                c.run(&["SET", b, &v]);
                c.run(&["EXEC"]);
            }
        })
    };
    let mut r = Conn::new(&store);
    for _ in 0..2000 {
        r.run(&["MULTI"]);
        r.run(&["GET", a]);
        r.run(&["GET", b]);
        let Reply::Array(got) = r.run(&["EXEC"]) else { panic!("array") };
        assert_eq!(got[0], got[1], "EXEC saw half a transaction");
    }
    writer.join().expect("writer");
}
#[test]
fn string_read_modify_writes_run_inside_exec() {
    let store = Store::new(StoreConfig::default());
    let mut c = Conn::new(&store);
    c.run(&["SET", "n", "41"]);
    assert_eq!(c.run(&["MULTI"]), Reply::Ok);
    for words in [
        &["INCR", "n"][..],
        &["APPEND", "s", "ab"],
        &["SETRANGE", "s", "3", "z"],
        &["MSETNX", "x", "1", "y", "2"],
        &["SET", "x", "3", "GET"],
        &["GETDEL", "y"],
        &["SETBIT", "b", "7", "1"],
        &["GETEX", "n", "PERSIST"],
    ] {
        assert_eq!(c.run(words), queued(), "{words:?}");
    }
    let want = vec![
        Reply::Int(42),
        Reply::Int(2),
        Reply::Int(4),
        Reply::Int(1),
        Reply::text("1"),
        Reply::text("2"),
        Reply::Int(0),
        Reply::text("42"),
    ];
    assert_eq!(c.run(&["EXEC"]), Reply::Array(want));
    assert_eq!(store.get(b"s").as_deref(), Some(&b"ab\0z"[..]));
    assert_eq!(store.get(b"x").as_deref(), Some(&b"3"[..]));
    assert_eq!(store.get(b"y"), None);
}
