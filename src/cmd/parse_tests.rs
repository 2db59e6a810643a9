//! Spec tests for [`parse`]: one table row per command form and per error message, for the
//! commands whose arguments carry data (the connection commands are tested in `conn`).

use std::time::Duration;

use bytes::Bytes;

use super::conn::{Credentials, HelloArgs};
use super::expiry::ExpireArgs;
use super::keyspace::FlushMode;
use super::string::{SetArgs, SetMode, SetMore};
use super::{Command, parse};
use crate::protocol::{Limits, Status};

type Want = Result<Command, (Status, &'static str)>;

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn bs(items: &[&str]) -> Vec<Bytes> {
    items.iter().map(|s| b(s)).collect()
}

fn set(key: &str, value: &str, ttl: Option<Duration>, mode: SetMode) -> Want {
    let more = (mode != SetMode::Always).then(|| Box::new(SetMore { mode, ..SetMore::default() }));
    Ok(Command::Set(SetArgs { key: b(key), value: b(value), ttl, more }))
}

fn set_more(key: &str, value: &str, more: SetMore) -> Want {
    Ok(Command::Set(SetArgs {
        key: b(key),
        value: b(value),
        ttl: None,
        more: Some(Box::new(more)),
    }))
}

fn err(status: Status, message: &'static str) -> Want {
    Err((status, message))
}

fn invalid(message: &'static str) -> Want {
    err(Status::InvalidArgument, message)
}

fn check(cases: &[(&[&str], Want)], limits: &Limits) {
    for (args, want) in cases {
        let got = parse(&bs(args).into(), limits).map_err(|e| (e.status, e.message.into_owned()));
        let want = want.clone().map_err(|(s, m)| (s, m.to_string()));
        assert_eq!(got, want, "args {args:?}");
    }
}

fn secs(s: u64) -> Option<Duration> {
    Some(Duration::from_secs(s))
}

#[test]
fn parses_keyspace_commands() {
    check(
        &[
            (&["GET", "k"], Ok(Command::Get(b("k")))), // upper case
            (&["gEt", "k"], Ok(Command::Get(b("k")))), // names ignore case
            (&["GET"], invalid("wrong number of arguments for 'get' command")), // too few
            (&["GET", "a", "b"], invalid("wrong number of arguments for 'get' command")), // too many
            (&["GET", ""], invalid("empty key")), // empty key
            (&["DEL", "a", "b"], Ok(Command::Del(bs(&["a", "b"])))), // several keys
            (&["DEL"], invalid("wrong number of arguments for 'del' command")), // no key
            (&["DEL", "a", ""], invalid("empty key")), // any empty key
            (&["EXISTS", "a"], Ok(Command::Exists(bs(&["a"])))), // exists
            (&["MGET", "a", "b"], Ok(Command::MGet(bs(&["a", "b"])))), // mget
            (&["MGET"], invalid("wrong number of arguments for 'mget' command")), // mget no key
            (
                &["MSET", "a", "1", "b", "2"],
                Ok(Command::MSet(vec![(b("a"), b("1")), (b("b"), b("2"))])),
            ), // pairs
            (&["MSET", "a"], invalid("wrong number of arguments for 'mset' command")), // key only
            (&["MSET", "a", "1", "b"], invalid("wrong number of arguments for 'mset' command")), // odd
            (&["TTL", "k"], Ok(Command::Ttl(b("k")))), // seconds
            (&["PTTL", "k"], Ok(Command::Pttl(b("k")))), // millis
            (&["TTL"], invalid("wrong number of arguments for 'ttl' command")), // ttl no key
            (&["PERSIST", "k"], Ok(Command::Persist(b("k")))), // persist
            (&["DBSIZE"], Ok(Command::DbSize(()))),    // dbsize
            (&["DBSIZE", "x"], invalid("wrong number of arguments for 'dbsize' command")), // extra
            (&["FLUSHALL"], Ok(Command::FlushAll(FlushMode::Default))), // flushall
            (&["flushall", "async"], Ok(Command::FlushAll(FlushMode::Async))), // async
            (&["FLUSHDB", "SYNC"], Ok(Command::FlushDb(FlushMode::Sync))), // flushdb sync
            (&["FLUSHALL", "now"], invalid("syntax error")), // bad mode
            (&["FLUSHDB", "ASYNC", "x"], invalid("syntax error")), // extra argument
        ],
        &Limits::default(),
    );
}

#[test]
fn parses_set_options() {
    use SetMode::{Always, IfAbsent, IfPresent};
    let ms = |n| Some(Duration::from_millis(n));
    let bad_expire = "invalid expire time in 'set' command";
    check(
        &[
            (&["SET", "k", "v"], set("k", "v", None, Always)), // plain
            (&["SET", "k", "v", "EX", "10"], set("k", "v", secs(10), Always)), // seconds
            (&["SET", "k", "v", "PX", "1500"], set("k", "v", ms(1500), Always)), // millis
            (&["SET", "k", "v", "NX"], set("k", "v", None, IfAbsent)), // NX
            (&["SET", "k", "v", "XX"], set("k", "v", None, IfPresent)), // XX
            (&["set", "k", "v", "ex", "5", "nx"], set("k", "v", secs(5), IfAbsent)), // lower case
            (&["SET", "k", "v", "NX", "NX"], set("k", "v", None, IfAbsent)), // repeat is fine
            (&["SET", "k", "v", "EX", "1", "EX", "2"], set("k", "v", secs(2), Always)), // last EX wins
            (&["SET", "k", "v", "NX", "XX"], invalid("syntax error")), // NX with XX
            (&["SET", "k", "v", "XX", "NX"], invalid("syntax error")), // XX with NX
            (&["SET", "k", "v", "EX", "1", "PX", "1"], invalid("syntax error")), // EX with PX
            (&["SET", "k", "v", "EX"], invalid("syntax error")),       // EX without value
            (
                &["SET", "k", "v", "KEEPTTL"],
                set_more("k", "v", SetMore { keep_ttl: true, ..SetMore::default() }),
            ), // KEEPTTL
            (
                &["SET", "k", "v", "GET"],
                set_more("k", "v", SetMore { get: true, ..SetMore::default() }),
            ), // GET
            (
                &["SET", "k", "v", "NX", "GET"],
                set_more("k", "v", SetMore { mode: IfAbsent, get: true, ..SetMore::default() }),
            ), // NX with GET (7.0)
            (
                &["SET", "k", "v", "EXAT", "2000000000"],
                set_more(
                    "k",
                    "v",
                    SetMore { at_ms: Some(2_000_000_000_000), ..SetMore::default() },
                ),
            ), // EXAT
            (
                &["SET", "k", "v", "PXAT", "1"],
                set_more("k", "v", SetMore { at_ms: Some(1), ..SetMore::default() }),
            ), // PXAT in the past parses
            (&["SET", "k", "v", "KEEPTTL", "EX", "1"], invalid("syntax error")), // KEEPTTL with EX
            (&["SET", "k", "v", "PX", "1", "KEEPTTL"], invalid("syntax error")), // PX with KEEPTTL
            (&["SET", "k", "v", "EXAT", "1", "PXAT", "1"], invalid("syntax error")), // EXAT with PXAT
            (&["SET", "k", "v", "PERSIST"], invalid("syntax error")), // GETEX's option
            (&["SET", "k", "v", "EXAT", "0"], invalid(bad_expire)),   // EXAT zero
            (&["SET", "k", "v", "EX", "abc"], invalid("value is not an integer or out of range")), // not a number
            (&["SET", "k", "v", "EX", "1.5"], invalid("value is not an integer or out of range")), // fraction
            (&["SET", "k", "v", "EX", "+5"], invalid("value is not an integer or out of range")), // plus sign
            (&["SET", "k", "v", "EX", "0"], invalid(bad_expire)), // zero
            (&["SET", "k", "v", "PX", "-5"], invalid(bad_expire)), // negative
            (&["SET", "k", "v", "EX", "99999999999"], invalid(bad_expire)), // above MAX_TTL
            (&["SET", "k", "v", "EX", "9223372036854775807"], invalid(bad_expire)), // overflows ms
            (&["SET", "k", "v", "EX", "abc", "NX", "XX"], invalid("syntax error")), // syntax first
            (&["SET", "k"], invalid("wrong number of arguments for 'set' command")), // no value
            (&["SET", "", "v"], invalid("empty key")),            // empty key
            (&["SET", "k", ""], set("k", "", None, Always)),      // empty value is fine
        ],
        &Limits::default(),
    );
}

#[test]
fn parses_expire() {
    use super::expiry::When;
    use crate::store::ExpireCond;
    let args = |when, cond| ExpireArgs { key: b("k"), when, cond };
    let expire = |when| Ok(Command::Expire(args(when, ExpireCond::ALWAYS)));
    let pexpire = |when| Ok(Command::PExpire(args(when, ExpireCond::ALWAYS)));
    let gt_xx = ExpireCond { gt: true, xx: true, ..ExpireCond::ALWAYS };
    check(
        &[
            (&["EXPIRE", "k", "10"], expire(When::In(10_000))), // seconds
            (&["PEXPIRE", "k", "1500"], pexpire(When::In(1500))), // millis
            (&["EXPIRE", "k", "0"], expire(When::In(0))),       // zero deletes
            (&["PEXPIRE", "k", "-1"], pexpire(When::In(-1))),   // negative deletes
            (
                &["EXPIREAT", "k", "5"],
                Ok(Command::ExpireAt(args(When::At(5000), ExpireCond::ALWAYS))),
            ), // absolute
            (&["EXPIRE", "k", "1", "xx", "GT"], Ok(Command::Expire(args(When::In(1000), gt_xx)))), // options
            (&["EXPIRE", "k", "x"], invalid("value is not an integer or out of range")), // not a number
            (&["EXPIRE", "k"], invalid("wrong number of arguments for 'expire' command")), // no ttl
            (&["EXPIRE", "k", "99999999999"], invalid("invalid expire time in 'expire' command")), // too long
            (
                &["EXPIRE", "k", "9223372036854775807"],
                invalid("invalid expire time in 'expire' command"),
            ), // seconds overflow as millis
            (
                &["PEXPIRE", "k", "9223372036854775807"],
                invalid("invalid expire time in 'pexpire' command"),
            ), // too long
            (&["EXPIRE", "", "1"], invalid("empty key")), // empty key
            (&["EXPIRE", "k", "1", "FOO"], invalid("Unsupported option FOO")), // unknown option
            (&["EXPIRE", "k", "x", "FOO"], invalid("Unsupported option FOO")), // options first
            (
                &["EXPIRE", "k", "1", "NX", "GT"],
                invalid("NX and XX, GT or LT options at the same time are not compatible"),
            ), // NX with another
            (
                &["EXPIRE", "k", "1", "GT", "LT"],
                invalid("GT and LT options at the same time are not compatible"),
            ), // GT with LT
        ],
        &Limits::default(),
    );
}

#[test]
fn parses_connection_command_arguments() {
    let creds =
        |user: Option<&str>, pw: &str| Credentials { user: user.map(b), password: b(pw).into() };
    let hello = |version, auth: Option<Credentials>, setname: Option<&str>| {
        Ok(Command::Hello(Box::new(HelloArgs { version, auth, setname: setname.map(b) })))
    };
    check(
        &[
            (&["PING"], Ok(Command::Ping(None))),                // bare
            (&["ping", "hi"], Ok(Command::Ping(Some(b("hi"))))), // with message
            (&["PING", "a", "b"], invalid("wrong number of arguments for 'ping' command")), // too many
            (&["ECHO", "x"], Ok(Command::Echo(b("x")))),                                    // echo
            (&["ECHO"], invalid("wrong number of arguments for 'echo' command")), // echo nothing
            (&["INFO"], Ok(Command::Info(vec![]))),                               // all sections
            (&["INFO", "Memory", "cpu"], Ok(Command::Info(vec!["memory".into(), "cpu".into()]))), // sections lower-cased
            (&["STATS"], Ok(Command::Stats(()))), // text alias
            (&["AUTH", "pw"], Ok(Command::Auth(creds(None, "pw")))), // password only
            (&["AUTH", "user", "pw"], Ok(Command::Auth(creds(Some("user"), "pw")))), // with user
            (&["AUTH"], invalid("wrong number of arguments for 'auth' command")), // nothing
            (&["AUTH", "a", "b", "c"], invalid("syntax error")), // too many
            (&["QUIT"], Ok(Command::Quit(()))),   // quit
            (&["SELECT", "0"], Ok(Command::Select(0))), // db 0
            (&["SELECT", "-1"], Ok(Command::Select(-1))), // apply rejects the range
            (&["SELECT", "x"], invalid("value is not an integer or out of range")), // not a number
            (
                &["SELECT", "99999999999"],
                invalid("value is out of range, value must between -2147483648 and 2147483647"),
            ), // over int
            (&["SELECT"], invalid("wrong number of arguments for 'select' command")), // no db
            (&["HELLO"], hello(None, None, None)), // no version
            (&["HELLO", "3"], hello(Some(3), None, None)), // version
            (
                &["HELLO", "2", "AUTH", "u", "p", "SETNAME", "n"],
                hello(Some(2), Some(creds(Some("u"), "p")), Some("n")),
            ), // options
            (&["HELLO", "3", "auth", "u", "p"], hello(Some(3), Some(creds(Some("u"), "p")), None)), // AUTH alone
            (&["HELLO", "x"], invalid("Protocol version is not an integer or out of range")), // bad version
            (&["HELLO", "4"], invalid("unsupported protocol version")), // NOPROTO before options
            (&["HELLO", "3", "AUTH", "u"], invalid("Syntax error in HELLO option 'AUTH'")), // short AUTH
            (&["HELLO", "3", "FOO"], invalid("Syntax error in HELLO option 'FOO'")), // unknown option
            (
                &["HELLO", "3", "SETNAME", "a b"],
                invalid("Client names cannot contain spaces, newlines or special characters."),
            ), // name checked before authenticating, as in Redis
            (&["CONFIG"], invalid("wrong number of arguments for 'config' command")), // no sub
            (&["CONFIG", "GET"], invalid("wrong number of arguments for 'config|get' command")), // no pattern
            (
                &["CONFIG", "SET", "a"],
                invalid("wrong number of arguments for 'config|set' command"),
            ), // no value
            (
                &["CONFIG", "SET", "a", "1", "b"],
                invalid("wrong number of arguments for 'config|set' command"),
            ), // odd
            (&["CLIENT"], invalid("wrong number of arguments for 'client' command")), // no sub
        ],
        &Limits::default(),
    );
}

#[test]
fn unknown_commands_quote_their_start() {
    let long = "x".repeat(200);
    let long_args = [long.as_str(), "y"];
    let got =
        |args: &[&str]| parse(&bs(args).into(), &Limits::default()).expect_err("unknown command");
    let cases: &[(&[&str], String)] = &[
        (&["FOO", "a", "b"], "unknown command 'FOO', with args beginning with: 'a' 'b' ".into()), // args quoted
        (&["FOO"], "unknown command 'FOO', with args beginning with: ".into()), // no args
        (
            &[long.as_str()],
            format!("unknown command '{}', with args beginning with: ", &long[..128]),
        ), // long name cut
        (
            &["FOO", long_args[0], long_args[1]],
            format!("unknown command 'FOO', with args beginning with: '{}' ", &long[..128]),
        ), // long args cut, rest dropped
        (&["FOO", "a\r\nb"], "unknown command 'FOO', with args beginning with: 'a  b' ".into()), // line breaks blanked
        (&[], "unknown command '', with args beginning with: ".into()), // empty request
    ];
    for (args, want) in cases {
        let e = got(args);
        assert_eq!(e.status, Status::UnknownOpcode);
        assert_eq!(e.message, *want, "args {args:?}");
    }
}

#[test]
fn enforces_key_and_value_limits() {
    let limits = Limits { max_key_size: 4, max_value_size: 8 };
    let key_big = "key too large (5 bytes, max 4)";
    let value_big = "value too large (9 bytes, max 8)";
    check(
        &[
            (&["GET", "1234"], Ok(Command::Get(b("1234")))), // key at the limit
            (&["GET", "12345"], err(Status::KeyTooLarge, key_big)), // key over
            (&["DEL", "a", "12345"], err(Status::KeyTooLarge, key_big)), // any key of many
            (&["SET", "12345", "v"], err(Status::KeyTooLarge, key_big)), // SET key
            (&["SET", "k", "12345678"], set("k", "12345678", None, SetMode::Always)), // value at limit
            (&["SET", "k", "123456789"], err(Status::ValueTooLarge, value_big)),      // SET value
            (&["MSET", "12345", "v"], err(Status::KeyTooLarge, key_big)),             // MSET key
            (&["MSET", "a", "1", "b", "123456789"], err(Status::ValueTooLarge, value_big)), // MSET value
            (&["TTL", "12345"], err(Status::KeyTooLarge, key_big)), // TTL key
            (&["EXPIRE", "12345", "1"], err(Status::KeyTooLarge, key_big)), // EXPIRE key
            (&["VSET", "12345", "v", "0", "1"], err(Status::KeyTooLarge, key_big)), // internal too
        ],
        &limits,
    );
}
