//! GETSET, GETDEL, GETEX, SETNX, SETEX, PSETEX, MSETNX, SET's options and LCS against a
//! real store, answer by answer as redis-server 7.0.15 gave them (see `tests.rs`). Left
//! out: GETEX EXAT 99999999999 (past shale's 100-year `MAX_TTL`, refused).

use super::tests::{Group, replay};

#[test]
fn getset_getex_setnx_set_options_and_lcs_answer_as_redis() {
    replay(GROUPS);
}

#[rustfmt::skip]
const GROUPS: &[Group] = &[
    (
        "getset",
        &[
            (&[b"getset", b"g", b"1"], b"$-1\r\n"),
            (&[b"getset", b"g", b"2"], b"$1\r\n1\r\n"),
            (&[b"set", b"g", b"3", b"ex", b"100"], b"+OK\r\n"),
            (&[b"getset", b"g", b"4"], b"$1\r\n3\r\n"),
            (&[b"ttl", b"g"], b":-1\r\n"),
        ],
    ),
    (
        "getdel",
        &[
            (&[b"set", b"d", b"v"], b"+OK\r\n"),
            (&[b"getdel", b"d"], b"$1\r\nv\r\n"),
            (&[b"getdel", b"d"], b"$-1\r\n"),
            (&[b"exists", b"d"], b":0\r\n"),
        ],
    ),
    (
        "getex",
        &[
            (&[b"set", b"x", b"v", b"ex", b"100"], b"+OK\r\n"),
            (&[b"getex", b"x"], b"$1\r\nv\r\n"),
            (&[b"ttl", b"x"], b":100\r\n"),
            (&[b"getex", b"x", b"persist"], b"$1\r\nv\r\n"),
            (&[b"ttl", b"x"], b":-1\r\n"),
            (&[b"getex", b"x", b"ex", b"50"], b"$1\r\nv\r\n"),
            (&[b"ttl", b"x"], b":50\r\n"),
            (&[b"getex", b"x", b"px", b"70000"], b"$1\r\nv\r\n"),
            (&[b"ttl", b"x"], b":70\r\n"),
            (&[b"getex", b"x", b"pxat", b"1"], b"$1\r\nv\r\n"),
            (&[b"exists", b"x"], b":0\r\n"),
        ],
    ),
    (
        "getex_errors",
        &[
            (&[b"getex", b"missing"], b"$-1\r\n"),
            (&[b"getex", b"missing", b"ex", b"0"], b"$-1\r\n"),
            (&[b"getex", b"missing", b"ex", b"abc"], b"$-1\r\n"),
            (&[b"getex", b"missing", b"foo"], b"-ERR syntax error\r\n"),
            (&[b"set", b"k", b"v"], b"+OK\r\n"),
            (&[b"getex", b"k", b"ex", b"0"], b"-ERR invalid expire time in 'getex' command\r\n"),
            (&[b"getex", b"k", b"ex", b"-1"], b"-ERR invalid expire time in 'getex' command\r\n"),
            (&[b"getex", b"k", b"ex", b"abc"], b"-ERR value is not an integer or out of range\r\n"),
            (&[b"getex", b"k", b"px", b"0"], b"-ERR invalid expire time in 'getex' command\r\n"),
            (&[b"getex", b"k", b"exat", b"0"], b"-ERR invalid expire time in 'getex' command\r\n"),
            (&[b"getex", b"k", b"ex", b"1", b"px", b"1"], b"-ERR syntax error\r\n"),
            (&[b"getex", b"k", b"persist", b"ex", b"1"], b"-ERR syntax error\r\n"),
            (&[b"getex", b"k", b"ex"], b"-ERR syntax error\r\n"),
            (&[b"getex", b"k", b"nx"], b"-ERR syntax error\r\n"),
            (&[b"getex", b"k", b"keepttl"], b"-ERR syntax error\r\n"),
            (&[b"getex", b"k", b"get"], b"-ERR syntax error\r\n"),
            (&[b"getex", b"k", b"ex", b"10", b"ex", b"20"], b"$1\r\nv\r\n"),
            (&[b"ttl", b"k"], b":20\r\n"),
        ],
    ),
    (
        "getex_huge",
        &[
            (&[b"set", b"k", b"v"], b"+OK\r\n"),
            (&[b"getex", b"k", b"ex", b"9223372036854775807"], b"-ERR invalid expire time in 'getex' command\r\n"),
            (&[b"getex", b"k", b"px", b"9223372036854775807"], b"-ERR invalid expire time in 'getex' command\r\n"),
        ],
    ),
    (
        "setnx",
        &[
            (&[b"setnx", b"n", b"1"], b":1\r\n"),
            (&[b"setnx", b"n", b"2"], b":0\r\n"),
            (&[b"get", b"n"], b"$1\r\n1\r\n"),
        ],
    ),
    (
        "setex_psetex",
        &[
            (&[b"setex", b"e", b"100", b"v"], b"+OK\r\n"),
            (&[b"ttl", b"e"], b":100\r\n"),
            (&[b"setex", b"e", b"0", b"v"], b"-ERR invalid expire time in 'setex' command\r\n"),
            (&[b"setex", b"e", b"-1", b"v"], b"-ERR invalid expire time in 'setex' command\r\n"),
            (&[b"setex", b"e", b"abc", b"v"], b"-ERR value is not an integer or out of range\r\n"),
            (&[b"psetex", b"e", b"100000", b"w"], b"+OK\r\n"),
            (&[b"ttl", b"e"], b":100\r\n"),
            (&[b"psetex", b"e", b"0", b"v"], b"-ERR invalid expire time in 'psetex' command\r\n"),
            (&[b"setex", b"e", b"1.5", b"v"], b"-ERR value is not an integer or out of range\r\n"),
            (&[b"setex", b"e", b"9223372036854775807", b"v"], b"-ERR invalid expire time in 'setex' command\r\n"),
        ],
    ),
    (
        "msetnx",
        &[
            (&[b"msetnx", b"a", b"1", b"b", b"2"], b":1\r\n"),
            (&[b"msetnx", b"b", b"3", b"c", b"4"], b":0\r\n"),
            (&[b"mget", b"a", b"b", b"c"], b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n"),
            (&[b"msetnx", b"a"], b"-ERR wrong number of arguments for 'msetnx' command\r\n"),
            (&[b"msetnx", b"a", b"1", b"b"], b"-ERR wrong number of arguments for 'msetnx' command\r\n"),
            (&[b"msetnx", b"x", b"1", b"x", b"2"], b":1\r\n"),
            (&[b"get", b"x"], b"$1\r\n2\r\n"),
        ],
    ),
    (
        "set_nx_xx",
        &[
            (&[b"set", b"k", b"v", b"nx"], b"+OK\r\n"),
            (&[b"set", b"k", b"w", b"nx"], b"$-1\r\n"),
            (&[b"set", b"k", b"w", b"xx"], b"+OK\r\n"),
            (&[b"get", b"k"], b"$1\r\nw\r\n"),
            (&[b"set", b"k2", b"v", b"xx"], b"$-1\r\n"),
            (&[b"exists", b"k2"], b":0\r\n"),
        ],
    ),
    (
        "set_get",
        &[
            (&[b"set", b"k", b"v", b"get"], b"$-1\r\n"),
            (&[b"set", b"k", b"w", b"get"], b"$1\r\nv\r\n"),
            (&[b"set", b"k", b"z", b"nx", b"get"], b"$1\r\nw\r\n"),
            (&[b"get", b"k"], b"$1\r\nw\r\n"),
            (&[b"set", b"k3", b"q", b"xx", b"get"], b"$-1\r\n"),
            (&[b"exists", b"k3"], b":0\r\n"),
            (&[b"set", b"k4", b"q", b"nx", b"get"], b"$-1\r\n"),
            (&[b"get", b"k4"], b"$1\r\nq\r\n"),
        ],
    ),
    (
        "set_ttl_options",
        &[
            (&[b"set", b"k", b"v", b"ex", b"100"], b"+OK\r\n"),
            (&[b"set", b"k", b"w", b"keepttl"], b"+OK\r\n"),
            (&[b"ttl", b"k"], b":100\r\n"),
            (&[b"set", b"k", b"x"], b"+OK\r\n"),
            (&[b"ttl", b"k"], b":-1\r\n"),
            (&[b"set", b"k", b"y", b"px", b"50000"], b"+OK\r\n"),
            (&[b"ttl", b"k"], b":50\r\n"),
            (&[b"set", b"k", b"y", b"exat", b"1"], b"+OK\r\n"),
            (&[b"exists", b"k"], b":0\r\n"),
        ],
    ),
    (
        "set_errors",
        &[
            (&[b"set", b"k", b"v", b"ex", b"0"], b"-ERR invalid expire time in 'set' command\r\n"),
            (&[b"set", b"k", b"v", b"ex", b"-1"], b"-ERR invalid expire time in 'set' command\r\n"),
            (&[b"set", b"k", b"v", b"px", b"0"], b"-ERR invalid expire time in 'set' command\r\n"),
            (&[b"set", b"k", b"v", b"exat", b"0"], b"-ERR invalid expire time in 'set' command\r\n"),
            (&[b"set", b"k", b"v", b"pxat", b"-5"], b"-ERR invalid expire time in 'set' command\r\n"),
            (&[b"set", b"k", b"v", b"ex", b"abc"], b"-ERR value is not an integer or out of range\r\n"),
            (&[b"set", b"k", b"v", b"ex"], b"-ERR syntax error\r\n"),
            (&[b"set", b"k", b"v", b"ex", b"1", b"px", b"1"], b"-ERR syntax error\r\n"),
            (&[b"set", b"k", b"v", b"keepttl", b"ex", b"1"], b"-ERR syntax error\r\n"),
            (&[b"set", b"k", b"v", b"ex", b"1", b"keepttl"], b"-ERR syntax error\r\n"),
            (&[b"set", b"k", b"v", b"nx", b"xx"], b"-ERR syntax error\r\n"),
            (&[b"set", b"k", b"v", b"xx", b"nx"], b"-ERR syntax error\r\n"),
            (&[b"set", b"k", b"v", b"persist"], b"-ERR syntax error\r\n"),
            (&[b"set", b"k", b"v", b"foo"], b"-ERR syntax error\r\n"),
            (&[b"set", b"k", b"v", b"ex", b"10", b"ex", b"20"], b"+OK\r\n"),
            (&[b"ttl", b"k"], b":20\r\n"),
            (&[b"set", b"k", b"v", b"ex", b"9223372036854775807"], b"-ERR invalid expire time in 'set' command\r\n"),
            (&[b"set", b"k", b"v", b"ex", b"9223372036854775"], b"-ERR invalid expire time in 'set' command\r\n"),
            (&[b"set", b"k", b"v", b"px", b"9223372036854775807"], b"-ERR invalid expire time in 'set' command\r\n"),
            (&[b"set", b"k", b"v", b"exat", b"9223372036854775807"], b"-ERR invalid expire time in 'set' command\r\n"),
            (&[b"set", b"k", b"v", b"ex", b"abc", b"nx", b"xx"], b"-ERR syntax error\r\n"),
        ],
    ),
    (
        "lcs_docs",
        &[
            (&[b"mset", b"k1", b"ohmytext", b"k2", b"mynewtext"], b"+OK\r\n"),
            (&[b"lcs", b"k1", b"k2"], b"$6\r\nmytext\r\n"),
            (&[b"lcs", b"k1", b"k2", b"len"], b":6\r\n"),
            (&[b"lcs", b"k1", b"k2", b"idx"], b"*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n"),
            (&[b"lcs", b"k1", b"k2", b"idx", b"minmatchlen", b"4"], b"*4\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n$3\r\nlen\r\n:6\r\n"),
            (&[b"lcs", b"k1", b"k2", b"idx", b"minmatchlen", b"4", b"withmatchlen"], b"*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n"),
            (&[b"lcs", b"k1", b"k2", b"idx", b"withmatchlen"], b"*4\r\n$7\r\nmatches\r\n*2\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n*3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n$3\r\nlen\r\n:6\r\n"),
            (&[b"lcs", b"k1", b"k2", b"len", b"idx"], b"-ERR If you want both the length and indexes, please just use IDX.\r\n"),
            (&[b"lcs", b"k1", b"k2", b"foo"], b"-ERR syntax error\r\n"),
            (&[b"lcs", b"k1", b"k2", b"minmatchlen"], b"-ERR syntax error\r\n"),
            (&[b"lcs", b"k1", b"k2", b"minmatchlen", b"abc"], b"-ERR value is not an integer or out of range\r\n"),
            (&[b"lcs", b"k1", b"k2", b"idx", b"minmatchlen", b"-5"], b"*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n"),
            (&[b"lcs", b"k1", b"none"], b"$0\r\n\r\n"),
            (&[b"lcs", b"none", b"none2", b"idx"], b"*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n"),
            (&[b"lcs", b"k1"], b"-ERR wrong number of arguments for 'lcs' command\r\n"),
        ],
    ),
    (
        "lcs_ranges",
        &[
            (&[b"mset", b"a", b"abcabcabc", b"b", b"bcaxbcabc"], b"+OK\r\n"),
            (&[b"lcs", b"a", b"b"], b"$8\r\nbcabcabc\r\n"),
            (&[b"lcs", b"a", b"b", b"idx", b"withmatchlen"], b"*4\r\n$7\r\nmatches\r\n*2\r\n*3\r\n*2\r\n:4\r\n:8\r\n*2\r\n:4\r\n:8\r\n:5\r\n*3\r\n*2\r\n:1\r\n:3\r\n*2\r\n:0\r\n:2\r\n:3\r\n$3\r\nlen\r\n:8\r\n"),
            (&[b"mset", b"a", b"aaaa", b"b", b"aa"], b"+OK\r\n"),
            (&[b"lcs", b"a", b"b", b"idx"], b"*4\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:2\r\n"),
        ],
    ),
];
