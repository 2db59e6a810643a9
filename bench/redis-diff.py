#!/usr/bin/env python3
"""Differential check of shale's Redis commands against a real redis-server.

Sends the same random sequence of string, keyspace, bit and transaction commands to both
(RESP2 through redis-py, replies as raw as redis-py gives them) and reports every reply
that differs: type, value or error text. TTLs are compared as "positive" (the clocks of
two servers differ by the run's length); KEYS and SCAN-free replies are compared exactly.
Not part of CI (it needs redis-server). Usage:

    bench/redis-diff.sh                  # starts both servers, runs N commands (see there)
    bench/redis-diff.py SHALE_PORT REDIS_PORT [N] [SEED]
"""

import random
import sys

import redis

KEYS = [f"k{i}" for i in range(6)]
VALUES = ["", "0", "1", "-1", "42", "x", "hello", "3.5", "-0.25", "1e3", "9223372036854775807",
          "-9223372036854775808", "18446744073709551616", " 7", "7 ", "inf", "nan", "\x00\xff",
          "abcdefghijklmnopqrstuvwxyz" * 3]
INTS = ["0", "1", "-1", "5", "100", "-100", "9223372036854775807", "-9223372036854775808",
        "x", "1.5", "", "99999999999999999999"]
TTLS = ["100000", "1000000", "0", "-1", "x", "1.5", "86400000", "9223372036854775807"]


def key(r):
    return r.choice(KEYS)


def keys(r, lo=1, hi=4):
    return [key(r) for _ in range(r.randint(lo, hi))]


def set_cmd(r):
    args = ["SET", key(r), r.choice(VALUES)]
    opts = [["NX"], ["XX"], ["GET"], ["KEEPTTL"], ["EX", r.choice(TTLS)], ["PX", r.choice(TTLS)],
            ["EXAT", r.choice(["4000000000", "1", "0", "x"])],
            ["PXAT", r.choice(["4000000000000", "1", "-5"])], ["BOGUS"]]
    for _ in range(r.randint(0, 3)):
        args += r.choice(opts)
    return args


def getex_cmd(r):
    args = ["GETEX", key(r)]
    opts = [["PERSIST"], ["EX", r.choice(TTLS)], ["PX", r.choice(TTLS)],
            ["EXAT", "4000000000"], ["PXAT", "4000000000000"], ["FOO"]]
    for _ in range(r.randint(0, 2)):
        args += r.choice(opts)
    return args


def expire_cmd(r):
    name = r.choice(["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"])
    # shale refuses expire times more than 100 years ahead (limits::MAX_TTL); Redis takes
    # them up to 2^63 ms, so none are sent.
    when = r.choice(TTLS[:-2] + ["1", "2000000000"] if name.endswith("AT") else TTLS[:-2])
    args = [name, key(r), when]
    for _ in range(r.randint(0, 2)):
        args.append(r.choice(["NX", "XX", "GT", "LT", "ZZ"]))
    return args


def bit_cmd(r):
    k = key(r)
    return r.choice([
        ["SETBIT", k, r.choice(["0", "7", "100", "-1", "4294967296", "x"]), r.choice(["0", "1", "2"])],
        ["GETBIT", k, r.choice(["0", "7", "100", "-1", "x"])],
        ["BITCOUNT", k] + r.choice([[], ["0", "-1"], ["1", "2", "BIT"], ["0", "5", "BYTE"],
                                    ["0"], ["a", "b"]]),
        ["BITPOS", k, r.choice(["0", "1", "2"])] + r.choice([[], ["0"], ["1", "-1"],
                                                             ["0", "9", "BIT"]]),
        ["BITOP", r.choice(["AND", "OR", "XOR", "NOT", "NAND"]), key(r)] + keys(r, 1, 3),
    ])


def misc_cmd(r):
    k = key(r)
    return r.choice([
        ["GET", k], ["GETDEL", k], ["GETSET", k, r.choice(VALUES)], ["APPEND", k, r.choice(VALUES)],
        ["STRLEN", k], ["GETRANGE", k, r.choice(INTS), r.choice(INTS)],
        ["SUBSTR", k, r.choice(INTS), r.choice(INTS)],
        ["SETRANGE", k, r.choice(["0", "3", "-1", "x", "600000000"]), r.choice(VALUES)],
        ["INCR", k], ["DECR", k], ["INCRBY", k, r.choice(INTS)], ["DECRBY", k, r.choice(INTS)],
        ["INCRBYFLOAT", k, r.choice(VALUES)], ["MGET"] + keys(r),
        ["MSET"] + sum(([key(r), r.choice(VALUES)] for _ in range(r.randint(1, 3))), []),
        ["MSETNX"] + sum(([key(r), r.choice(VALUES)] for _ in range(r.randint(1, 3))), []),
        ["SETNX", k, r.choice(VALUES)], ["SETEX", k, r.choice(TTLS), r.choice(VALUES)],
        ["PSETEX", k, r.choice(TTLS), r.choice(VALUES)], ["DEL"] + keys(r), ["UNLINK"] + keys(r),
        ["EXISTS"] + keys(r), ["TOUCH"] + keys(r), ["TTL", k], ["PTTL", k], ["PERSIST", k],
        ["EXPIRETIME", k], ["PEXPIRETIME", k], ["TYPE", k], ["RENAME", k, key(r)],
        ["RENAMENX", k, key(r)], ["COPY", k, key(r)] + r.choice([[], ["REPLACE"], ["DB", "0"]]),
        ["LCS", k, key(r)] + r.choice([[], ["LEN"], ["IDX"], ["IDX", "MINMATCHLEN", "2"],
                                       ["IDX", "WITHMATCHLEN"]]),
        ["DBSIZE"], ["KEYS", r.choice(["*", "k[0-2]", "k?", "x*"])], ["EXISTS"],
        ["GET"], ["SET", k], ["INCRBY", k], ["ECHO", r.choice(VALUES)], ["PING"],
        ["STRLEN", k, k],
    ])


def command(r):
    roll = r.random()
    if roll < 0.15:
        return set_cmd(r)
    if roll < 0.22:
        return getex_cmd(r)
    if roll < 0.32:
        return expire_cmd(r)
    if roll < 0.42:
        return bit_cmd(r)
    return misc_cmd(r)


POSITIVE_TIME = {"TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"}


def normal(cmd, reply):
    if isinstance(reply, Exception):
        return ("error", str(reply))
    if cmd[0] in POSITIVE_TIME and isinstance(reply, int) and reply > 0:
        return "positive"
    if cmd[0] == "KEYS":
        return sorted(reply)
    return reply


def run(conn, cmd):
    try:
        return conn.execute_command(*cmd)
    except redis.exceptions.ResponseError as e:
        return e


def main():
    shale_port, redis_port = int(sys.argv[1]), int(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    r = random.Random(seed)
    a = redis.Redis(port=shale_port, decode_responses=False)
    b = redis.Redis(port=redis_port, decode_responses=False)
    for c in (a, b):
        c.flushall()
    seen = {}
    for i in range(n):
        cmd = command(r)
        got, want = normal(cmd, run(a, cmd)), normal(cmd, run(b, cmd))
        if got != want:
            shape = (cmd[0], type(want).__name__, str(want)[:60])
            if shape not in seen:
                seen[shape] = (i, cmd, got, want)
            # Keep the two in step: copy redis's state of the keys the command touched.
            for k in KEYS:
                a.delete(k)
                if b.exists(k):
                    a.set(k, b.get(k))
                    ttl = b.pttl(k)
                    if ttl > 0 and run(a, ["PEXPIRE", k, ttl]) != 1:
                        print(f"cannot copy {k}'s TTL of {ttl} ms to shale")
    for (i, cmd, got, want) in seen.values():
        print(f"#{i} {cmd!r}\n   shale: {got!r}\n   redis: {want!r}")
    print(f"{n} commands, {len(seen)} distinct differences (seed {seed})")


if __name__ == "__main__":
    main()
