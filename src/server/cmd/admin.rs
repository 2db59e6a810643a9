//! Connection and server commands: PING, ECHO, DBSIZE, FLUSHALL, SELECT, HELLO, COMMAND,
//! CONFIG GET, CLIENT. The handshakes are answered just well enough that redis-cli,
//! redis-benchmark and redis-py start up against shale.

use bytes::Bytes;

use crate::net::Session;
use crate::protocol::{HelloArgs, Reply, Status};
use crate::store::Store;

/// PING [msg]: PONG, or the message.
pub fn ping(msg: Option<Bytes>) -> Reply {
    msg.map_or(Reply::Simple("PONG"), Reply::Bulk)
}

/// DBSIZE: entries held.
pub fn dbsize(store: &Store) -> Reply {
    Reply::Int(i64::try_from(store.len()).unwrap_or(i64::MAX))
}

/// FLUSHALL: drop every key.
pub fn flushall(store: &Store) -> Reply {
    store.flush();
    Reply::Ok
}

/// SELECT: only database 0 exists.
pub fn select(db: i64) -> Reply {
    if db == 0 {
        Reply::Ok
    } else {
        Reply::error(Status::InvalidArgument, "DB index is out of range")
    }
}

/// HELLO [2|3] [SETNAME name]: switches the connection's text replies to that RESP version
/// and answers with server facts as a map. Its AUTH option is the auth gate's business
/// ([`crate::auth::Gate`]), which has run before this.
pub fn hello(args: HelloArgs, session: &mut Session) -> Reply {
    match args.version {
        None => {}
        Some(2) => session.resp3 = false,
        Some(3) => session.resp3 = true,
        Some(_) => {
            return Reply::error(Status::InvalidArgument, "NOPROTO unsupported protocol version");
        }
    }
    if let Some(name) = args.setname {
        session.name = Some(name);
    }
    let id = i64::try_from(session.id).unwrap_or(i64::MAX);
    let proto = if session.resp3 { 3 } else { 2 };
    let pairs: [(&str, Reply); 7] = [
        ("server", bulk("shale")),
        ("version", bulk(env!("CARGO_PKG_VERSION"))),
        ("proto", Reply::Int(proto)),
        ("id", Reply::Int(id)),
        ("mode", bulk("standalone")),
        ("role", bulk("master")),
        ("modules", Reply::Array(Vec::new())),
    ];
    Reply::Map(pairs.into_iter().map(|(k, v)| (bulk(k), v)).collect())
}

/// COMMAND [COUNT|DOCS|INFO ...]: an empty table. redis-cli only uses it for hints.
pub fn command(args: &[Bytes]) -> Reply {
    match args.first().map(|a| a.to_ascii_uppercase()) {
        Some(sub) if sub == b"COUNT" => Reply::Int(0),
        _ => Reply::Array(Vec::new()),
    }
}

/// CONFIG GET pattern...: name/value pairs for the settings clients ask about.
pub fn config_get(patterns: &[Bytes], settings: &[(&'static str, String)]) -> Reply {
    let mut out = Vec::new();
    for (name, value) in settings {
        if patterns.iter().any(|p| glob_match(p, name.as_bytes())) {
            out.push(bulk(name));
            out.push(Reply::Bulk(Bytes::from(value.clone())));
        }
    }
    Reply::Array(out)
}

/// CLIENT SETNAME/GETNAME/SETINFO/ID/INFO.
pub fn client(args: &[Bytes], session: &mut Session) -> Reply {
    let Some(sub) = args.first().map(|a| a.to_ascii_uppercase()) else {
        return Reply::error(
            Status::InvalidArgument,
            "wrong number of arguments for 'client' command",
        );
    };
    match (&sub[..], args.len()) {
        (b"SETNAME", 2) => {
            session.name = Some(args[1].clone());
            Reply::Ok
        }
        (b"GETNAME", 1) => session.name.clone().map_or(Reply::Nil, Reply::Bulk),
        (b"SETINFO", 3) => Reply::Ok,
        (b"ID", 1) => Reply::Int(i64::try_from(session.id).unwrap_or(i64::MAX)),
        (b"INFO", 1) => {
            let name = session.name.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
            Reply::Bulk(format!("id={} addr={} name={}\n", session.id, session.peer, name).into())
        }
        _ => {
            let sub = String::from_utf8_lossy(&sub).into_owned();
            Reply::error(
                Status::InvalidArgument,
                format!("unknown subcommand '{sub}'. Try CLIENT HELP."),
            )
        }
    }
}

fn bulk(s: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

/// Redis-style glob with `*` and `?`, case-insensitive, iterative (no backtracking blowup).
fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some(p);
                mark = n;
                p += 1;
            }
            Some(&c) if c == b'?' || c.eq_ignore_ascii_case(&name[n]) => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some(s) => {
                    p = s + 1;
                    mark += 1;
                    n = mark;
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_like_redis() {
        // (pattern, name, matches)
        let cases = [
            ("save", "save", true),
            ("SAVE", "save", true),
            ("*", "appendonly", true),
            ("max*", "maxmemory", true),
            ("max*", "save", false),
            ("a?pendonly", "appendonly", true),
            ("*only", "appendonly", true),
            ("*x*", "save", false),
        ];
        for (p, n, want) in cases {
            assert_eq!(glob_match(p.as_bytes(), n.as_bytes()), want, "{p} vs {n}");
        }
    }

    #[test]
    fn config_get_returns_pairs() {
        let settings = [("save", String::new()), ("appendonly", "no".to_owned())];
        let got = config_get(&[Bytes::from_static(b"appendonly")], &settings);
        assert_eq!(got, Reply::Array(vec![bulk("appendonly"), bulk("no")]));
    }

    #[test]
    fn hello_switches_resp_version() {
        let peer = "127.0.0.1:1".parse().expect("addr");
        let mut s = Session {
            id: 1,
            peer,
            authenticated: true,
            name: None,
            resp3: false,
            order: Default::default(),
        };
        let v = |version| HelloArgs { version, ..Default::default() };
        assert!(matches!(hello(v(Some(4)), &mut s), Reply::Error(_)));
        assert!(matches!(hello(v(Some(3)), &mut s), Reply::Map(v) if v[2].1 == Reply::Int(3)));
        assert!(s.resp3);
        assert!(matches!(hello(v(None), &mut s), Reply::Map(v) if v.len() == 7));
        assert!(s.resp3, "HELLO without a version keeps the current one");
        hello(v(Some(2)), &mut s);
        assert!(!s.resp3);
        let named = HelloArgs { version: Some(2), setname: Some("app".into()), auth: None };
        hello(named, &mut s);
        assert_eq!(s.name.as_deref(), Some(&b"app"[..]), "SETNAME is applied");
    }
}
