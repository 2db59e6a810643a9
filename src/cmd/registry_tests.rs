//! Tests of the declaration table as a whole: every declaration is sane, names are unique,
//! every command and subcommand has a sample invocation, and for every sample the keys
//! COMMAND GETKEYS finds through the key specs are exactly the keys the parsed command
//! names (what the WRONG_SHARD check, the prefetch and the router use).

use bytes::Bytes;

use super::conn::getkeys;
use super::keyspec::KeyFlag;
use super::spec::Route;
use super::{COMMANDS, Command, Flag, Spec, parse};
use crate::protocol::Limits;

/// One valid invocation of every command and subcommand.
const SAMPLES: &[&[&str]] = &[
    &["get", "k"],
    &["set", "k", "v", "EX", "10", "NX"],
    &["mget", "a", "b", "a"],
    &["mset", "a", "1", "b", "2"],
    &["del", "a", "b"],
    &["del", "a"],
    &["set", "k", "v"],
    &["exists", "a"],
    &["ttl", "k"],
    &["pttl", "k"],
    &["expire", "k", "10"],
    &["pexpire", "k", "10"],
    &["persist", "k"],
    &["ping"],
    &["ping", "hi"],
    &["echo", "x"],
    &["dbsize"],
    &["flushall", "async"],
    &["flushdb"],
    &["info"],
    &["info", "server", "keyspace"],
    &["stats"],
    &["auth", "pw"],
    &["auth", "default", "pw"],
    &["quit"],
    &["reset"],
    &["select", "0"],
    &["hello", "3", "auth", "default", "pw", "setname", "app"],
    &["command"],
    &["command", "count"],
    &["command", "info", "get", "config|get"],
    &["command", "list", "filterby", "pattern", "c*"],
    &["command", "docs", "get"],
    &["command", "getkeys", "mset", "a", "1"],
    &["command", "getkeysandflags", "get", "k"],
    &["command", "help"],
    &["config", "get", "max*", "timeout"],
    &["config", "set", "timeout", "5", "maxclients", "10"],
    &["config", "resetstat"],
    &["config", "help"],
    &["client", "id"],
    &["client", "info"],
    &["client", "list", "type", "normal"],
    &["client", "setname", "app"],
    &["client", "getname"],
    &["client", "kill", "id", "7", "skipme", "no"],
    &["client", "reply", "on"],
    &["client", "setinfo", "lib-name", "redis-py"],
    &["client", "help"],
    &["time"],
    &["monitor"],
    &["slowlog", "get", "5"],
    &["slowlog", "len"],
    &["slowlog", "reset"],
    &["slowlog", "help"],
    &["vset", "k", "v", "0", "5"],
    &["vdel", "k", "5"],
    &["shard_dump", "1", "0", "0"],
    &["node_status"],
    &["digest", "1", "fresh"],
    &["bucket_dump", "1", "0", "3", "1023"],
    &["shard_sync", "1"],
    &["vflush", "5"],
    &["shard_count", "16", "1", "2"],
    &["shard_scan", "16", "1", "0", "10", "match", "a*", "random"],
    &["rmw", "expire", "k", "10"],
    &["fence", "1", "n1"],
    // Strings and bitmaps.
    &["incr", "k"],
    &["incrby", "k", "5"],
    &["decr", "k"],
    &["decrby", "k", "5"],
    &["incrbyfloat", "k", "1.5"],
    &["append", "k", "v"],
    &["strlen", "k"],
    &["getrange", "k", "0", "-1"],
    &["substr", "k", "0", "-1"],
    &["setrange", "k", "3", "v"],
    &["getset", "k", "v"],
    &["getdel", "k"],
    &["getex", "k", "PERSIST"],
    &["setnx", "k", "v"],
    &["setex", "k", "10", "v"],
    &["psetex", "k", "100", "v"],
    &["msetnx", "a", "1", "b", "2"],
    &["lcs", "a", "b", "IDX", "MINMATCHLEN", "2", "WITHMATCHLEN"],
    &["setbit", "k", "7", "1"],
    &["getbit", "k", "7"],
    &["bitcount", "k", "0", "-1", "BIT"],
    &["bitpos", "k", "1", "0", "-1", "BYTE"],
    &["bitop", "and", "dest", "a", "b"],
    // Keyspace, expiry and durability (issue 14, part 2).
    &["unlink", "a", "b"],
    &["touch", "a", "b", "a"],
    &["type", "k"],
    &["rename", "a", "b"],
    &["renamenx", "a", "b"],
    &["copy", "a", "b", "db", "0", "replace"],
    &["keys", "user:*"],
    &["scan", "0", "match", "a*", "count", "10", "type", "string"],
    &["randomkey"],
    &["expireat", "k", "1700000000", "gt"],
    &["pexpireat", "k", "1700000000000", "xx", "lt"],
    &["expiretime", "k"],
    &["pexpiretime", "k"],
    &["object", "encoding", "k"],
    &["object", "freq", "k"],
    &["object", "idletime", "k"],
    &["object", "refcount", "k"],
    &["object", "help"],
    &["memory", "usage", "k", "samples", "5"],
    &["memory", "help"],
    &["wait", "0", "100"],
    &["lastsave"],
    &["save"],
    &["bgsave", "schedule"],
    &["multi"],
    &["exec"],
    &["discard"],
    &["watch", "a", "b"],
    &["unwatch"],
    &["txexec", "2", "3", "set", "a", "1", "2", "incr", "a"],
    &["txexec", "1", "WATCH", "n1:00:1", "1", "b", "7.0.0", "2", "incr", "a"],
    &["txwatch", "a", "b"],
    &["bitfield", "k", "GET", "u8", "0", "OVERFLOW", "SAT", "INCRBY", "i5", "#1", "7"],
    &["bitfield_ro", "k", "GET", "i16", "3"],
];

fn argv(words: &[&str]) -> Vec<Bytes> {
    words.iter().map(|w| Bytes::copy_from_slice(w.as_bytes())).collect()
}

fn all_specs() -> impl Iterator<Item = &'static Spec> {
    COMMANDS.iter().flat_map(|e| std::iter::once(e.spec).chain(e.spec.subcommands.iter()))
}

#[test]
fn every_declaration_is_sane() {
    let groups = ["string", "bitmap", "generic", "connection", "server", "shale", "transactions"];
    for spec in all_specs() {
        let name = spec.name;
        assert!(!name.is_empty() && name == name.to_ascii_lowercase(), "{name}: lower case");
        assert!(!name.contains(' '), "{name}: no spaces");
        assert_ne!(spec.arity, 0, "{name}: arity");
        assert!(spec.arity.unsigned_abs() >= 1, "{name}: arity counts the name");
        assert!(!(spec.has(Flag::Write) && spec.has(Flag::ReadOnly)), "{name}: write xor readonly");
        assert!(spec.acl.iter().all(|c| c.starts_with('@')), "{name}: ACL categories");
        assert!(groups.contains(&spec.group), "{name}: docs group {}", spec.group);
        assert!(!spec.summary.is_empty(), "{name}: summary");
        for k in spec.keys {
            assert!(!k.flags.is_empty(), "{name}: key spec flags");
        }
        let keyed = !spec.keys.is_empty();
        match spec.route {
            Route::Connection | Route::AllShards { .. } => assert!(!keyed, "{name}: keyless route"),
            Route::Read | Route::Write | Route::ReadModifyWrite | Route::Split { .. } => {
                assert!(keyed, "{name}: a keyed route needs key specs")
            }
            Route::SameShard => {
                let movable = spec.flags.contains(&Flag::MovableKeys);
                assert!(keyed || movable, "{name}: same-shard commands have keys")
            }
            Route::Internal | Route::Transaction => {}
        }
        // Keyed data commands say whether they read or write.
        if keyed && !matches!(spec.route, Route::Internal | Route::Transaction) {
            assert!(spec.has(Flag::Write) || spec.has(Flag::ReadOnly), "{name}: read or write");
        }
    }
    for e in COMMANDS {
        for sub in e.spec.subcommands {
            assert!(
                sub.name.starts_with(&format!("{}|", e.spec.name)),
                "{} in {}",
                sub.name,
                e.spec.name
            );
        }
    }
}

#[test]
fn names_are_unique() {
    let mut names: Vec<&str> = all_specs().map(|s| s.name).collect();
    let n = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), n, "a name is declared twice");
}

#[test]
fn every_command_has_a_sample() {
    for spec in all_specs() {
        let covered = SAMPLES.iter().any(|s| {
            let words = if spec.name.contains('|') { 2 } else { 1 };
            s.get(..words).map(|w| w.join("|")).as_deref() == Some(spec.name)
        });
        assert!(covered, "add a sample invocation of {} to SAMPLES", spec.name);
    }
}

#[test]
fn getkeys_agrees_with_keys_for_every_sample() {
    let limits = Limits::default();
    for words in SAMPLES {
        let argv = argv(words);
        let cmd: Command =
            parse(&argv.clone().into(), &limits).unwrap_or_else(|e| panic!("{words:?}: {e}"));
        let named: Vec<Bytes> = cmd.keys().cloned().collect();
        match getkeys(&argv) {
            Ok(found) => {
                let found: Vec<Bytes> = found.into_iter().map(|(k, _)| k).collect();
                assert_eq!(found, named, "{words:?}: GETKEYS vs keys()");
            }
            Err(e) => {
                assert!(named.is_empty(), "{words:?}: keys() {named:?} but GETKEYS says {e}");
                assert_eq!(e.message, "The command has no key arguments", "{words:?}");
            }
        }
        assert_eq!(
            cmd.full_spec().name,
            words[..cmd.full_spec().name.matches('|').count() + 1].join("|")
        );
    }
}

#[test]
fn arity_errors_name_the_command() {
    let limits = Limits::default();
    let err = |words: &[&str]| {
        parse(&argv(words).into(), &limits).expect_err("refused").message.into_owned()
    };
    assert_eq!(err(&["get"]), "wrong number of arguments for 'get' command");
    assert_eq!(err(&["GET", "a", "b"]), "wrong number of arguments for 'get' command");
    assert_eq!(err(&["config"]), "wrong number of arguments for 'config' command");
    assert_eq!(err(&["config", "get"]), "wrong number of arguments for 'config|get' command");
    assert_eq!(err(&["config", "nope"]), "unknown subcommand 'nope'. Try CONFIG HELP.");
    assert_eq!(
        err(&["client", "setname"]),
        "wrong number of arguments for 'client|setname' command"
    );
}

#[test]
fn routes_depend_on_arguments_where_declared() {
    let limits = Limits::default();
    let route = |words: &[&str]| parse(&argv(words).into(), &limits).expect("parses").route();
    assert_eq!(route(&["set", "k", "v"]), Route::Write);
    assert_eq!(route(&["set", "k", "v", "NX"]), Route::ReadModifyWrite);
    assert_eq!(route(&["del", "k"]), Route::Write);
    assert!(matches!(route(&["del", "a", "b"]), Route::Split { .. }));
    assert_eq!(route(&["exists", "a"]), Route::Read);
    assert_eq!(route(&["expire", "k", "1"]), Route::ReadModifyWrite);
    assert_eq!(route(&["persist", "k"]), Route::ReadModifyWrite);
    assert_eq!(route(&["incr", "k"]), Route::ReadModifyWrite);
    assert_eq!(route(&["append", "k", "v"]), Route::ReadModifyWrite);
    assert_eq!(route(&["set", "k", "v", "GET"]), Route::ReadModifyWrite);
    assert_eq!(route(&["set", "k", "v", "KEEPTTL"]), Route::ReadModifyWrite);
    assert_eq!(route(&["getex", "k"]), Route::Read);
    assert_eq!(route(&["getex", "k", "PERSIST"]), Route::ReadModifyWrite);
    assert_eq!(route(&["expireat", "k", "1", "NX"]), Route::ReadModifyWrite);
    assert_eq!(route(&["rename", "a", "b"]), Route::SameShard);
    assert_eq!(route(&["msetnx", "a", "1", "b", "2"]), Route::SameShard);
    assert_eq!(route(&["set", "k", "v", "XX", "PX", "5"]), Route::ReadModifyWrite);
    assert_eq!(route(&["ping"]), Route::Connection);
    assert!(matches!(route(&["dbsize"]), Route::AllShards { .. }));
    assert_eq!(route(&["vset", "k", "v", "0", "1"]), Route::Internal);
}

/// A command that reads a key and writes from what it read (or writes several keys as one)
/// must not run on each replica by itself, or replicas diverge: the router runs it on the
/// shard's coordinator.
#[test]
fn commands_that_read_and_write_a_key_run_on_a_coordinator() {
    for spec in all_specs().filter(|s| s.route != Route::Internal) {
        let rw = spec.keys.iter().any(|k| k.flags.contains(&KeyFlag::Rw));
        let several = spec.keys.len() > 1 && spec.has(Flag::Write);
        if rw || several {
            assert!(
                matches!(spec.route, Route::ReadModifyWrite | Route::SameShard),
                "{}: reads and writes its keys, so it is read-modify-write or same-shard, \
                 not {:?}",
                spec.name,
                spec.route
            );
        }
        if matches!(spec.route, Route::ReadModifyWrite) {
            assert!(spec.has(Flag::Write), "{}: a read-modify-write writes", spec.name);
        }
    }
}

#[test]
fn every_blind_write_lists_what_it_writes() {
    // A router replicates a blind write from its declared writes: a command routed as one
    // that declares none would be answered without writing anything.
    let limits = Limits::default();
    for words in SAMPLES {
        let cmd = parse(&argv(words).into(), &limits).unwrap_or_else(|e| panic!("{words:?}: {e}"));
        let writes: Vec<_> = cmd.blind_writes().collect();
        let keys: Vec<Bytes> = cmd.keys().cloned().collect();
        let writing_split =
            matches!(cmd.route(), Route::Split { .. }) && cmd.full_spec().has(Flag::Write);
        if cmd.route() == Route::Write || writing_split {
            assert!(!writes.is_empty(), "{words:?} is a blind write: declare its blind_writes");
            let written: Vec<Bytes> = writes.iter().map(|w| w.key.clone()).collect();
            assert_eq!(written, keys, "{words:?}: one write per key, in key order");
        } else {
            assert!(writes.is_empty(), "{words:?}: only blind writes list writes");
        }
    }
    let set = parse(&argv(&["set", "k", "v", "PX", "1500"]).into(), &limits).expect("parses");
    let w = set.blind_writes().next().expect("one write");
    assert_eq!(w.expiry, super::Expiry::In(std::time::Duration::from_millis(1500)));
}

#[test]
fn commands_stay_small() {
    // Every decoded request carries one; a large variant would tax the hot path.
    assert!(std::mem::size_of::<Command>() <= 96, "{}", std::mem::size_of::<Command>());
}
