//! String commands against a real [`Store`], answer by answer as redis-server 7.0.15
//! gave them (raw RESP2, recorded from a real server with the same commands): each group
//! runs on an empty store, in order. Shale's deliberate differences are left out and listed
//! where they apply: TTLs over `MAX_TTL` (100 years) are refused, and BITCOUNT with a start
//! but no end is a syntax error even for an absent key, as in Redis 7.2.

use bytes::{Bytes, BytesMut};

use crate::cmd::test_env::TestEnv;
use crate::cmd::{parse, run};
use crate::protocol::Limits;
use crate::protocol::text::encode_reply;
use crate::store::{Store, StoreConfig};

/// A named group of commands, each with redis-server's raw RESP2 answer.
pub(crate) type Group = (&'static str, &'static [(&'static [&'static [u8]], &'static [u8])]);

/// Runs each group on a fresh store and compares every answer byte for byte.
pub(crate) fn replay(groups: &[Group]) {
    for (name, steps) in groups {
        let store = Store::new(StoreConfig::default());
        let env = TestEnv::new();
        for (words, want) in *steps {
            let argv: Vec<Bytes> = words.iter().map(|w| Bytes::copy_from_slice(w)).collect();
            let reply = match parse(&argv.into(), &Limits::default()) {
                Ok(cmd) => run(cmd, &store, &env),
                Err(e) => crate::protocol::Reply::Error(e),
            };
            let mut got = BytesMut::new();
            encode_reply(&reply, &mut got);
            let show = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            let cmd: Vec<String> = words.iter().map(|w| show(w)).collect();
            assert!(&got[..] == *want, "{name}: {cmd:?}: {} != {}", show(&got), show(want));
        }
    }
}

#[test]
fn counters_floats_append_and_ranges_answer_as_redis() {
    replay(GROUPS);
}

#[rustfmt::skip]
const GROUPS: &[Group] = &[
    (
        "incr_decr",
        &[
            (&[b"incr", b"c"], b":1\r\n"),
            (&[b"incr", b"c"], b":2\r\n"),
            (&[b"get", b"c"], b"$1\r\n2\r\n"),
            (&[b"decr", b"c"], b":1\r\n"),
            (&[b"incrby", b"c", b"10"], b":11\r\n"),
            (&[b"decrby", b"c", b"3"], b":8\r\n"),
            (&[b"get", b"c"], b"$1\r\n8\r\n"),
        ],
    ),
    (
        "incr_overflow_max",
        &[
            (&[b"set", b"c", b"9223372036854775807"], b"+OK\r\n"),
            (&[b"incr", b"c"], b"-ERR increment or decrement would overflow\r\n"),
            (&[b"get", b"c"], b"$19\r\n9223372036854775807\r\n"),
        ],
    ),
    (
        "decr_overflow_min",
        &[
            (&[b"set", b"c", b"-9223372036854775808"], b"+OK\r\n"),
            (&[b"decr", b"c"], b"-ERR increment or decrement would overflow\r\n"),
            (&[b"decrby", b"c", b"1"], b"-ERR increment or decrement would overflow\r\n"),
        ],
    ),
    (
        "incrby_arguments",
        &[
            (&[b"decrby", b"c", b"-9223372036854775808"], b"-ERR decrement would overflow\r\n"),
            (&[b"incrby", b"c", b"9223372036854775808"], b"-ERR value is not an integer or out of range\r\n"),
            (&[b"incrby", b"c", b"abc"], b"-ERR value is not an integer or out of range\r\n"),
            (&[b"incrby", b"c", b"1.5"], b"-ERR value is not an integer or out of range\r\n"),
        ],
    ),
    (
        "incr_non_integers",
        &[
            (&[b"set", b"c", b"abc"], b"+OK\r\n"),
            (&[b"incr", b"c"], b"-ERR value is not an integer or out of range\r\n"),
            (&[b"set", b"c", b" 1"], b"+OK\r\n"),
            (&[b"incr", b"c"], b"-ERR value is not an integer or out of range\r\n"),
            (&[b"set", b"c", b"01"], b"+OK\r\n"),
            (&[b"incr", b"c"], b"-ERR value is not an integer or out of range\r\n"),
            (&[b"set", b"c", b"-0"], b"+OK\r\n"),
            (&[b"incr", b"c"], b"-ERR value is not an integer or out of range\r\n"),
            (&[b"set", b"c", b"+1"], b"+OK\r\n"),
            (&[b"incr", b"c"], b"-ERR value is not an integer or out of range\r\n"),
            (&[b"set", b"c", b""], b"+OK\r\n"),
            (&[b"incr", b"c"], b"-ERR value is not an integer or out of range\r\n"),
        ],
    ),
    (
        "incr_keeps_ttl",
        &[
            (&[b"set", b"c", b"1", b"ex", b"100"], b"+OK\r\n"),
            (&[b"incr", b"c"], b":2\r\n"),
            (&[b"ttl", b"c"], b":100\r\n"),
        ],
    ),
    (
        "counter_arity",
        &[
            (&[b"incr"], b"-ERR wrong number of arguments for 'incr' command\r\n"),
            (&[b"incr", b"a", b"b"], b"-ERR wrong number of arguments for 'incr' command\r\n"),
            (&[b"incrby", b"a"], b"-ERR wrong number of arguments for 'incrby' command\r\n"),
            (&[b"decrby", b"a", b"1", b"2"], b"-ERR wrong number of arguments for 'decrby' command\r\n"),
        ],
    ),
    (
        "incr_too_big",
        &[
            (&[b"set", b"c", b"12345678901234567890"], b"+OK\r\n"),
            (&[b"incr", b"c"], b"-ERR value is not an integer or out of range\r\n"),
        ],
    ),
    (
        "incrbyfloat_sums",
        &[
            (&[b"set", b"f", b"0.1"], b"+OK\r\n"),
            (&[b"incrbyfloat", b"f", b"0.2"], b"$3\r\n0.3\r\n"),
            (&[b"incrbyfloat", b"f", b"1e308"], b"$308\r\n99999999999999999996685879655845645660560099847415567207797047994921734868838061872100126921888539320446747225054013223152134749593960583597420814430196418767959100019603190778663109604507106667939153395788938914560543563061268364901618630217086589253444881623791300855757318142424510452728255046343928578048\r\n"),
            (&[b"get", b"f"], b"$308\r\n99999999999999999996685879655845645660560099847415567207797047994921734868838061872100126921888539320446747225054013223152134749593960583597420814430196418767959100019603190778663109604507106667939153395788938914560543563061268364901618630217086589253444881623791300855757318142424510452728255046343928578048\r\n"),
        ],
    ),
    (
        "incrbyfloat_errors",
        &[
            (&[b"incrbyfloat", b"f", b"3.0"], b"$1\r\n3\r\n"),
            (&[b"incrbyfloat", b"f", b"abc"], b"-ERR value is not a valid float\r\n"),
            (&[b"incrbyfloat", b"f", b"nan"], b"-ERR value is not a valid float\r\n"),
            (&[b"incrbyfloat", b"f", b"inf"], b"-ERR increment would produce NaN or Infinity\r\n"),
            (&[b"get", b"f"], b"$1\r\n3\r\n"),
        ],
    ),
    (
        "incrbyfloat_huge",
        &[
            (&[b"set", b"f", b"1e308"], b"+OK\r\n"),
            (&[b"incrbyfloat", b"f", b"1e308"], b"$309\r\n199999999999999999993371759311691291321120199694831134415594095989843469737676123744200253843777078640893494450108026446304269499187921167194841628860392837535918200039206381557326219209014213335878306791577877829121087126122536729803237260434173178506889763247582601711514636284849020905456510092687857156096\r\n"),
        ],
    ),
    (
        "incrbyfloat_formatting",
        &[
            (&[b"set", b"f", b"5.0e3"], b"+OK\r\n"),
            (&[b"incrbyfloat", b"f", b"2.0e2"], b"$4\r\n5200\r\n"),
            (&[b"incrbyfloat", b"f", b"-5200"], b"$1\r\n0\r\n"),
            (&[b"incrbyfloat", b"f", b"-0.1"], b"$4\r\n-0.1\r\n"),
            (&[b"set", b"f", b"abc"], b"+OK\r\n"),
            (&[b"incrbyfloat", b"f", b"1"], b"-ERR value is not a valid float\r\n"),
        ],
    ),
    (
        "incrbyfloat_keeps_ttl",
        &[
            (&[b"set", b"f", b"1", b"px", b"100000"], b"+OK\r\n"),
            (&[b"incrbyfloat", b"f", b"1.5"], b"$3\r\n2.5\r\n"),
            (&[b"ttl", b"f"], b":100\r\n"),
        ],
    ),
    (
        "incrbyfloat_bad_increments",
        &[
            (&[b"incrbyfloat", b"f", b" 1"], b"-ERR value is not a valid float\r\n"),
            (&[b"incrbyfloat", b"f", b"1 "], b"-ERR value is not a valid float\r\n"),
            (&[b"incrbyfloat", b"f", b""], b"-ERR value is not a valid float\r\n"),
            (&[b"incrbyfloat", b"f", b"0x10"], b"$2\r\n16\r\n"),
        ],
    ),
    (
        "append_strlen",
        &[
            (&[b"append", b"a", b"hello"], b":5\r\n"),
            (&[b"append", b"a", b" world"], b":11\r\n"),
            (&[b"get", b"a"], b"$11\r\nhello world\r\n"),
            (&[b"strlen", b"a"], b":11\r\n"),
            (&[b"strlen", b"none"], b":0\r\n"),
            (&[b"append", b"e", b""], b":0\r\n"),
            (&[b"exists", b"e"], b":1\r\n"),
            (&[b"get", b"e"], b"$0\r\n\r\n"),
        ],
    ),
    (
        "append_keeps_ttl",
        &[
            (&[b"set", b"a", b"1", b"ex", b"100"], b"+OK\r\n"),
            (&[b"append", b"a", b"2"], b":2\r\n"),
            (&[b"ttl", b"a"], b":100\r\n"),
            (&[b"get", b"a"], b"$2\r\n12\r\n"),
        ],
    ),
    (
        "append_to_a_number",
        &[
            (&[b"set", b"n", b"12"], b"+OK\r\n"),
            (&[b"append", b"n", b"34"], b":4\r\n"),
            (&[b"incr", b"n"], b":1235\r\n"),
            (&[b"strlen", b"n"], b":4\r\n"),
        ],
    ),
    (
        "getrange",
        &[
            (&[b"set", b"s", b"This is a string"], b"+OK\r\n"),
            (&[b"getrange", b"s", b"0", b"3"], b"$4\r\nThis\r\n"),
            (&[b"getrange", b"s", b"-3", b"-1"], b"$3\r\ning\r\n"),
            (&[b"getrange", b"s", b"0", b"-1"], b"$16\r\nThis is a string\r\n"),
            (&[b"getrange", b"s", b"10", b"100"], b"$6\r\nstring\r\n"),
            (&[b"getrange", b"s", b"5", b"3"], b"$0\r\n\r\n"),
            (&[b"getrange", b"s", b"-1", b"-5"], b"$0\r\n\r\n"),
            (&[b"getrange", b"s", b"-100", b"-50"], b"$1\r\nT\r\n"),
            (&[b"getrange", b"s", b"-100", b"2"], b"$3\r\nThi\r\n"),
            (&[b"getrange", b"s", b"100", b"200"], b"$0\r\n\r\n"),
            (&[b"getrange", b"none", b"0", b"-1"], b"$0\r\n\r\n"),
            (&[b"substr", b"s", b"0", b"3"], b"$4\r\nThis\r\n"),
            (&[b"getrange", b"s", b"a", b"1"], b"-ERR value is not an integer or out of range\r\n"),
            (&[b"getrange", b"s", b"0", b"9223372036854775807"], b"$16\r\nThis is a string\r\n"),
            (&[b"getrange", b"s", b"-9223372036854775808", b"2"], b"$3\r\nThi\r\n"),
        ],
    ),
    (
        "getrange_empty",
        &[
            (&[b"set", b"s", b""], b"+OK\r\n"),
            (&[b"getrange", b"s", b"0", b"-1"], b"$0\r\n\r\n"),
            (&[b"getrange", b"s", b"0", b"0"], b"$0\r\n\r\n"),
        ],
    ),
    (
        "setrange",
        &[
            (&[b"set", b"s", b"Hello World"], b"+OK\r\n"),
            (&[b"setrange", b"s", b"6", b"Redis"], b":11\r\n"),
            (&[b"get", b"s"], b"$11\r\nHello Redis\r\n"),
            (&[b"setrange", b"n", b"5", b"x"], b":6\r\n"),
            (&[b"get", b"n"], b"$6\r\n\x00\x00\x00\x00\x00x\r\n"),
            (&[b"setrange", b"e", b"5", b""], b":0\r\n"),
            (&[b"exists", b"e"], b":0\r\n"),
            (&[b"setrange", b"s", b"0", b""], b":11\r\n"),
            (&[b"setrange", b"s", b"-1", b"x"], b"-ERR offset is out of range\r\n"),
            (&[b"setrange", b"s", b"abc", b"x"], b"-ERR value is not an integer or out of range\r\n"),
            (&[b"setrange", b"big", b"536870912", b"x"], b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"),
        ],
    ),
    (
        "setrange_keeps_ttl",
        &[
            (&[b"set", b"s", b"abc", b"ex", b"100"], b"+OK\r\n"),
            (&[b"setrange", b"s", b"1", b"X"], b":3\r\n"),
            (&[b"ttl", b"s"], b":100\r\n"),
            (&[b"get", b"s"], b"$3\r\naXc\r\n"),
        ],
    ),
];
