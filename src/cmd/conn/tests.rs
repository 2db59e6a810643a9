//! The connection commands against a test [`Env`](crate::cmd::Env): replies and errors as
//! Redis 7 gives them (checked against redis-server 7.0), without sockets.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;

use crate::cmd::session::ClientInfo;
use crate::cmd::test_env::TestEnv;
use crate::cmd::{Ctx, Env, ReplyMode, Session, execute, parse};
use crate::protocol::{Limits, Reply, Status};
use crate::store::{Store, StoreConfig};

struct Conn {
    env: TestEnv,
    session: Session,
    store: Store,
}

impl Conn {
    fn new() -> Self {
        let peer: SocketAddr = "127.0.0.1:4000".parse().expect("addr");
        Self {
            env: TestEnv::new(),
            session: Session::new(9, peer, true),
            store: Store::new(StoreConfig::default()),
        }
    }

    fn run(&mut self, words: &[&str]) -> Reply {
        let argv: Vec<Bytes> = words.iter().map(|w| Bytes::copy_from_slice(w.as_bytes())).collect();
        match parse(&argv.into(), &Limits::default()) {
            Ok(cmd) => execute(cmd, &mut Ctx::new(&mut self.session, &self.env, Some(&self.store))),
            Err(e) => Reply::Error(e),
        }
    }

    fn err(&mut self, words: &[&str]) -> String {
        match self.run(words) {
            Reply::Error(e) => e.to_string(),
            other => panic!("{words:?} answered {other:?}"),
        }
    }
}

fn bulk(s: &str) -> Reply {
    Reply::text(s)
}

fn simple_lines(r: &Reply) -> Vec<&'static str> {
    match r {
        Reply::Array(v) => {
            v.iter().map(|l| if let Reply::Simple(s) = l { *s } else { "?" }).collect()
        }
        _ => Vec::new(),
    }
}

#[test]
fn small_connection_commands() {
    let mut c = Conn::new();
    assert_eq!(c.run(&["PING"]), Reply::Simple("PONG"));
    assert_eq!(c.run(&["PING", "hi"]), bulk("hi"));
    assert_eq!(c.run(&["ECHO", "x"]), bulk("x"));
    assert_eq!(c.run(&["SELECT", "0"]), Reply::Ok);
    assert_eq!(c.err(&["SELECT", "1"]), "ERR DB index is out of range");
    assert_eq!(c.err(&["SELECT", "-1"]), "ERR DB index is out of range");
    let Reply::Array(time) = c.run(&["TIME"]) else { panic!("array") };
    assert_eq!(time.len(), 2);
    assert!(matches!(&time[1], Reply::Bulk(us) if us.len() <= 6));
}

#[test]
fn auth_without_a_password_is_redis_default_user() {
    let mut c = Conn::new();
    assert_eq!(
        c.err(&["AUTH", "x"]),
        "ERR AUTH <password> called without any password configured for the default user. \
         Are you sure your configuration is correct?"
    );
    assert_eq!(c.run(&["AUTH", "default", "anything"]), Reply::Ok);
    let wrongpass = "WRONGPASS invalid username-password pair or user is disabled.";
    assert_eq!(c.err(&["AUTH", "bob", "x"]), wrongpass);
    assert_eq!(c.err(&["HELLO", "3", "AUTH", "bob", "x"]), wrongpass);
    assert!(matches!(c.run(&["HELLO", "3", "AUTH", "default", "x"]), Reply::Map(_)));
}

#[test]
fn hello_switches_protocol_and_names_the_client() {
    let mut c = Conn::new();
    let Reply::Map(fields) = c.run(&["HELLO", "3", "SETNAME", "app"]) else { panic!("map") };
    let names: Vec<_> = fields.iter().map(|(k, _)| k.clone()).collect();
    let want = ["server", "version", "proto", "id", "mode", "role", "modules"].map(bulk);
    assert_eq!(names, want);
    assert_eq!(fields[2].1, Reply::Int(3));
    assert_eq!(fields[3].1, Reply::Int(9));
    assert!(c.session.resp3);
    assert_eq!(c.run(&["CLIENT", "GETNAME"]), bulk("app"));
    assert!(matches!(c.run(&["HELLO"]), Reply::Map(_)));
    assert!(c.session.resp3, "HELLO without a version keeps the current one");
    assert_eq!(c.err(&["HELLO", "4"]), "NOPROTO unsupported protocol version");
    c.run(&["HELLO", "2"]);
    assert!(!c.session.resp3);
}

#[test]
fn reset_returns_to_a_fresh_connection() {
    let mut c = Conn::new();
    c.run(&["HELLO", "3", "SETNAME", "app"]);
    c.session.reply = ReplyMode::Off;
    c.session.monitor = true;
    assert_eq!(c.run(&["RESET"]), Reply::Simple("RESET"));
    assert!(!c.session.resp3 && !c.session.monitor && c.session.reply == ReplyMode::On);
    assert_eq!(c.session.name(), None);
    assert!(c.session.authenticated, "no password: still authenticated");
}

#[test]
fn monitor_mode_refuses_keyspace_commands() {
    let mut c = Conn::new();
    assert_eq!(c.run(&["MONITOR"]), Reply::Ok);
    assert!(c.session.monitor);
    assert_eq!(c.err(&["GET", "k"]), "ERR Replica can't interact with the keyspace");
    assert_eq!(c.run(&["PING"]), Reply::Simple("PONG"));
    c.run(&["RESET"]);
    assert_eq!(c.run(&["GET", "k"]), Reply::Nil);
    c.session.binary = true;
    assert_eq!(c.err(&["MONITOR"]), "ERR MONITOR needs a Redis text connection");
}

#[test]
fn client_subcommands() {
    let mut c = Conn::new();
    assert_eq!(c.run(&["CLIENT", "ID"]), Reply::Int(9));
    assert_eq!(c.run(&["CLIENT", "GETNAME"]), Reply::Nil);
    assert_eq!(c.run(&["CLIENT", "SETNAME", "app"]), Reply::Ok);
    assert_eq!(c.run(&["CLIENT", "GETNAME"]), bulk("app"));
    assert_eq!(c.run(&["CLIENT", "SETNAME", ""]), Reply::Ok);
    assert_eq!(c.run(&["CLIENT", "GETNAME"]), Reply::Nil, "an empty name clears it");
    let names = "ERR Client names cannot contain spaces, newlines or special characters.";
    assert_eq!(c.err(&["CLIENT", "SETNAME", "a b"]), names);
    assert_eq!(c.run(&["CLIENT", "SETINFO", "LIB-NAME", "redis-py"]), Reply::Ok);
    assert_eq!(c.err(&["CLIENT", "SETINFO", "foo", "x"]), "ERR Unrecognized option 'foo'");
    assert_eq!(
        c.err(&["CLIENT", "SETINFO", "lib-ver", "1 2"]),
        "ERR lib-ver cannot contain spaces, newlines or special characters."
    );
    let Reply::Verbatim(info) = c.run(&["CLIENT", "INFO"]) else { panic!("verbatim") };
    let info = String::from_utf8(info.to_vec()).expect("utf8");
    assert!(info.starts_with("id=9 addr=127.0.0.1:4000 "), "{info}");
    assert!(info.contains(" cmd=client|info ") && info.contains(" lib-name=redis-py "), "{info}");
    assert!(info.ends_with('\n'));
    assert_eq!(c.run(&["CLIENT", "REPLY", "OFF"]), Reply::Ok);
    assert_eq!(c.session.reply, ReplyMode::Off);
    assert_eq!(c.err(&["CLIENT", "REPLY", "maybe"]), "ERR syntax error");
    assert_eq!(c.err(&["CLIENT", "KILL", "1.2.3.4:5"]), "ERR No such client");
    assert_eq!(c.run(&["CLIENT", "KILL", "ID", "12345"]), Reply::Int(0));
    assert_eq!(c.err(&["CLIENT", "KILL", "ID", "0"]), "ERR client-id should be greater than 0");
    assert_eq!(c.err(&["CLIENT", "KILL", "TYPE", "x"]), "ERR Unknown client type 'x'");
    assert_eq!(c.err(&["CLIENT", "KILL", "foo", "bar"]), "ERR syntax error");
    assert_eq!(c.err(&["CLIENT", "LIST", "ID", "x"]), "ERR Invalid client ID");
    assert_eq!(c.err(&["CLIENT", "NOPE"]), "ERR unknown subcommand 'NOPE'. Try CLIENT HELP.");
    let help = c.run(&["CLIENT", "HELP"]);
    assert_eq!(
        simple_lines(&help)[0],
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    );
}

#[test]
fn client_list_shows_registered_connections() {
    let mut c = Conn::new();
    let other = Arc::new(ClientInfo::new(3, "127.0.0.1:5000".parse().expect("addr")));
    let services = c.env.services.clone();
    let _mine = services.clients.register(c.session.client.clone());
    let _theirs = services.clients.register(other);
    let Reply::Verbatim(list) = c.run(&["CLIENT", "LIST"]) else { panic!("verbatim") };
    let list = String::from_utf8(list.to_vec()).expect("utf8");
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(lines[0].starts_with("id=3 ") && lines[1].starts_with("id=9 "), "{list}");
    assert!(lines[1].contains(" cmd=client|list "), "{list}");
    let Reply::Verbatim(one) = c.run(&["CLIENT", "LIST", "ID", "3"]) else { panic!("verbatim") };
    assert_eq!(one.iter().filter(|&&b| b == b'\n').count(), 1);
    let Reply::Verbatim(none) = c.run(&["CLIENT", "LIST", "TYPE", "pubsub"]) else { panic!() };
    assert!(none.is_empty());
}

#[test]
fn config_get_set_and_errors() {
    let mut c = Conn::new();
    let pairs = c.run(&["CONFIG", "GET", "slowlog-*"]);
    let Reply::Map(pairs) = pairs else { panic!("a map (an array in RESP2)") };
    assert_eq!(pairs[0], (bulk("slowlog-log-slower-than"), bulk("10000")));
    assert_eq!(pairs[1], (bulk("slowlog-max-len"), bulk("128")));
    assert_eq!(c.run(&["CONFIG", "GET", "requirepass"]), Reply::Map(vec![]), "never shown");
    assert_eq!(c.run(&["CONFIG", "SET", "timeout", "5", "maxclients", "9"]), Reply::Ok);
    assert_eq!(c.env.services().maxclients(), 9);
    assert_eq!(c.env.services().idle_timeout(), Some(std::time::Duration::from_secs(5)));
    assert_eq!(
        c.err(&["CONFIG", "SET", "nosuch", "1"]),
        "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"
    );
    assert_eq!(
        c.err(&["CONFIG", "SET", "port", "1"]),
        "ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config"
    );
    assert_eq!(
        c.err(&["CONFIG", "SET", "maxclients", "0"]),
        "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive"
    );
    assert_eq!(c.run(&["CONFIG", "RESETSTAT"]), Reply::Ok);
    assert_eq!(simple_lines(&c.run(&["CONFIG", "HELP"])).len(), 9);
}

#[test]
fn command_introspection() {
    let mut c = Conn::new();
    let Reply::Int(count) = c.run(&["COMMAND", "COUNT"]) else { panic!("int") };
    assert_eq!(count as usize, crate::cmd::COMMANDS.len());
    let Reply::Array(infos) = c.run(&["COMMAND", "INFO", "get", "nosuch", "config|get"]) else {
        panic!("array")
    };
    assert_eq!(infos[1], Reply::Nil);
    let Reply::Array(get) = &infos[0] else { panic!("entry") };
    assert_eq!(get.len(), 10);
    assert_eq!(
        &get[..6],
        &[
            bulk("get"),
            Reply::Int(2),
            Reply::Set(vec![Reply::Simple("readonly"), Reply::Simple("fast")]),
            Reply::Int(1),
            Reply::Int(1),
            Reply::Int(1)
        ]
    );
    let Reply::Array(cfg) = &infos[2] else { panic!("entry") };
    assert_eq!(cfg[0], bulk("config|get"));
    let Reply::Map(docs) = c.run(&["COMMAND", "DOCS", "get", "nosuch"]) else { panic!("map") };
    assert_eq!(docs.len(), 1);
    let Reply::Array(list) = c.run(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "config*"]) else {
        panic!("array")
    };
    assert!(list.contains(&bulk("config")) && list.contains(&bulk("config|get")));
    let Reply::Array(conn) = c.run(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "connection"]) else {
        panic!("array")
    };
    assert!(conn.contains(&bulk("ping")) && !conn.contains(&bulk("get")));
    assert_eq!(c.run(&["COMMAND", "LIST", "FILTERBY", "MODULE", "x"]), Reply::Array(vec![]));
    assert_eq!(c.err(&["COMMAND", "LIST", "x"]), "ERR syntax error");
    assert_eq!(
        c.run(&["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"]),
        Reply::Array(vec![bulk("a"), bulk("b")])
    );
    assert_eq!(c.err(&["COMMAND", "GETKEYS", "nosuch", "a"]), "ERR Invalid command specified");
    assert_eq!(
        c.err(&["COMMAND", "GETKEYS", "MSET", "a"]),
        "ERR Invalid number of arguments specified for command"
    );
    assert_eq!(
        c.err(&["COMMAND", "GETKEYS", "CONFIG", "GET", "x"]),
        "ERR The command has no key arguments"
    );
    let flags = c.run(&["COMMAND", "GETKEYSANDFLAGS", "GET", "k"]);
    let want = Reply::Set(vec![Reply::Simple("RO"), Reply::Simple("access")]);
    assert_eq!(flags, Reply::Array(vec![Reply::Array(vec![bulk("k"), want])]));
    assert_eq!(c.err(&["COMMAND", "NOPE"]), "ERR unknown subcommand 'NOPE'. Try COMMAND HELP.");
}

#[test]
fn info_sections() {
    let mut c = Conn::new();
    let text = |r: Reply| match r {
        Reply::Verbatim(t) => String::from_utf8(t.to_vec()).expect("utf8"),
        other => panic!("{other:?}"),
    };
    let all = text(c.run(&["INFO"]));
    for section in [
        "Server",
        "Clients",
        "Memory",
        "Persistence",
        "Stats",
        "Replication",
        "CPU",
        "Modules",
        "Cluster",
        "Keyspace",
    ] {
        assert!(all.contains(&format!("# {section}\r\n")), "{section} in {all}");
    }
    for field in [
        "arch_bits:",
        "mem_allocator:",
        "cluster_enabled:0",
        "role:master",
        "aof_enabled:0",
        "used_cpu_user:",
        "db0:keys=1,expires=0,avg_ttl=0",
        "total_commands_processed:7",
    ] {
        assert!(all.contains(field), "{field} in {all}");
    }
    assert_eq!(text(c.run(&["INFO", "cluster"])), "# Cluster\r\ncluster_enabled:0\r\n");
    assert_eq!(text(c.run(&["INFO", "nosuch"])), "");
    let Reply::Bulk(stats) = c.run(&["STATS"]) else { panic!("bulk") };
    assert!(stats.starts_with(b"redis_version:"), "no section headers");
}

#[test]
fn slowlog_subcommands() {
    let mut c = Conn::new();
    let services = c.env.services.clone();
    let log = &services.slowlog;
    log.set_slower_than_us(0);
    let argv = [Bytes::from_static(b"get"), Bytes::from_static(b"k")];
    let peer = c.session.peer;
    log.record(std::time::Duration::from_micros(5), &argv, peer, Some(Bytes::from_static(b"app")));
    assert_eq!(c.run(&["SLOWLOG", "LEN"]), Reply::Int(1));
    let Reply::Array(entries) = c.run(&["SLOWLOG", "GET"]) else { panic!("array") };
    let Reply::Array(e) = &entries[0] else { panic!("entry") };
    assert_eq!(e.len(), 6);
    assert_eq!(e[0], Reply::Int(0));
    assert_eq!(e[2], Reply::Int(5));
    assert_eq!(e[3], Reply::Array(vec![bulk("get"), bulk("k")]));
    assert_eq!((e[4].clone(), e[5].clone()), (bulk("127.0.0.1:4000"), bulk("app")));
    assert_eq!(c.err(&["SLOWLOG", "GET", "-2"]), "ERR count should be greater than or equal to -1");
    assert_eq!(
        c.err(&["SLOWLOG", "GET", "1", "2"]),
        "ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP."
    );
    assert_eq!(c.run(&["SLOWLOG", "RESET"]), Reply::Ok);
    assert_eq!(c.run(&["SLOWLOG", "LEN"]), Reply::Int(0));
    assert_eq!(simple_lines(&c.run(&["SLOWLOG", "HELP"])).len(), 12);
}

#[test]
fn data_commands_need_a_keyspace() {
    let env = TestEnv::new();
    let mut s = Session::new(1, "127.0.0.1:1".parse().expect("addr"), true);
    let get = parse(&["GET", "k"].into(), &Limits::default());
    let reply = execute(get.expect("parses"), &mut Ctx::new(&mut s, &env, None));
    assert!(matches!(reply, Reply::Error(e) if e.status == Status::Internal));
}
