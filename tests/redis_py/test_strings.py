"""redis-py 8 against shale: every string and bitmap command through its redis-py method,
in RESP2 and RESP3, a pipeline without a transaction, and INCR from 8 threads adding up."""

import datetime
import os
import threading
import time

import redis

PORT = int(os.environ["SHALE_PORT"])


def raises(fn, text):
    try:
        fn()
    except redis.ResponseError as e:
        assert text in str(e), (text, str(e))
        return
    raise AssertionError("no error, wanted " + text)


def counters(r):
    assert r.incr("n") == 1
    assert r.incr("n", 41) == 42
    assert r.incrby("n", 8) == 50
    assert r.decr("n") == 49
    assert r.decr("n", 9) == 40
    assert r.decrby("n", 40) == 0
    r.set("n", "9223372036854775807")
    raises(lambda: r.incr("n"), "increment or decrement would overflow")
    r.set("n", "abc")
    raises(lambda: r.incr("n"), "value is not an integer or out of range")
    assert r.incrbyfloat("f", 0.1) == 0.1
    assert r.incrbyfloat("f", 0.2) == 0.3
    assert r.get("f") == "0.3"
    r.set("f", "1e308")
    raises(lambda: r.incrbyfloat("f", "inf"), "increment would produce NaN or Infinity")
    r.set("f", "3.0")
    assert r.incrbyfloat("f", 0) == 3.0 and r.get("f") == "3"
    r.set("t", "1", ex=100)
    assert r.incr("t") == 2 and r.ttl("t") == 100


def strings(r):
    assert r.append("s", "Hello") == 5
    assert r.append("s", " World") == 11
    assert r.strlen("s") == 11 and r.strlen("none") == 0
    assert r.getrange("s", 0, 4) == "Hello"
    assert r.getrange("s", -5, -1) == "World"
    assert r.getrange("s", 5, 3) == ""
    assert r.substr("s", 0, 4) == "Hello"
    assert r.setrange("s", 6, "Redis") == 11 and r.get("s") == "Hello Redis"
    assert r.setrange("pad", 3, "x") == 4 and r.get("pad") == "\0\0\0x"
    assert r.setrange("empty", 5, "") == 0 and r.exists("empty") == 0
    raises(lambda: r.setrange("s", -1, "x"), "offset is out of range")
    assert r.getset("s", "new") == "Hello Redis"
    assert r.getset("fresh", "v") is None
    assert r.getdel("s") == "new" and r.getdel("s") is None
    assert r.setnx("nx", "1") is True and r.setnx("nx", "2") is False
    assert r.setex("ex", 100, "v") is True and r.ttl("ex") == 100
    assert r.psetex("px", 100000, "v") is True and r.ttl("px") == 100
    raises(lambda: r.setex("ex", 0, "v"), "invalid expire time in 'setex' command")
    assert r.msetnx({"a": "1", "b": "2"}) is True
    assert r.msetnx({"b": "3", "c": "4"}) is False and r.get("c") is None
    r.mset({"k1": "ohmytext", "k2": "mynewtext"})
    assert r.lcs("k1", "k2") == "mytext"
    assert r.lcs("k1", "k2", len=True) == 6


def expiry(r):
    r.set("g", "v", ex=100)
    assert r.getex("g") == "v" and r.ttl("g") == 100
    assert r.getex("g", persist=True) == "v" and r.ttl("g") == -1
    assert r.getex("g", ex=50) == "v" and r.ttl("g") == 50
    assert r.getex("g", px=70000) == "v" and r.ttl("g") == 70
    later = int(time.time()) + 200
    assert r.getex("g", exat=later) == "v" and 190 <= r.ttl("g") <= 200
    assert r.getex("g", pxat=1) == "v" and r.exists("g") == 0
    assert r.getex("missing", ex=10) is None
    r.set("g2", "v")
    raises(lambda: r.execute_command("GETEX", "g2", "EX", "10", "PX", "10"), "syntax error")


def set_options(r):
    assert r.set("k", "v", nx=True) is True
    assert r.set("k", "w", nx=True) is None
    assert r.set("k", "w", xx=True) is True
    assert r.set("absent", "w", xx=True) is None
    assert r.set("k", "x", get=True) == "w"
    assert r.set("fresh2", "x", get=True) is None
    assert r.set("k", "y", ex=100) is True and r.ttl("k") == 100
    assert r.set("k", "z", keepttl=True) is True and r.ttl("k") == 100
    assert r.set("k", "z") is True and r.ttl("k") == -1
    assert r.set("k", "v", px=50000) is True and r.ttl("k") == 50
    at = datetime.datetime.now() + datetime.timedelta(seconds=300)
    assert r.set("k", "v", exat=at) is True and 290 <= r.ttl("k") <= 300
    assert r.set("k", "v", pxat=1) is True and r.exists("k") == 0
    raises(lambda: r.set("k", "v", ex=0), "invalid expire time in 'set' command")
    raises(lambda: r.execute_command("SET", "k", "v", "NX", "XX"), "syntax error")
    raises(lambda: r.execute_command("SET", "k", "v", "KEEPTTL", "EX", "1"), "syntax error")


def bits(r):
    assert r.setbit("bits", 7, 1) == 0
    assert r.setbit("bits", 7, 1) == 1
    assert r.getbit("bits", 7) == 1 and r.getbit("bits", 100) == 0
    assert r.get("bits") == "\x01"
    r.set("fb", "foobar")
    assert r.bitcount("fb") == 26
    assert r.bitcount("fb", 1, 1) == 6
    assert r.bitcount("fb", 5, 30, "BIT") == 17
    r.set("bp", "\x00\x0f")
    assert r.bitpos("bp", 1) == 12
    assert r.bitpos("bp", 0) == 0
    assert r.bitpos("bp", 1, 1, -1, "BYTE") == 12
    r.set("x", "abc")
    r.set("y", "x")
    assert r.bitop("OR", "dest", "x", "y") == 3 and r.get("dest") == "ybc"
    assert r.bitop("AND", "dest", "none1", "none2") == 0 and r.exists("dest") == 0
    raises(lambda: r.bitop("NOT", "dest", "x", "y"), "BITOP NOT must be called with a single source key")
    bf = r.bitfield("bf")
    assert bf.set("u8", 0, 255).get("i8", 0).incrby("u4", 4, 1).execute() == [0, -1, 0]
    bf = r.bitfield("bf", default_overflow="FAIL")
    assert bf.incrby("u2", 0, 5).execute() == [None]
    assert r.bitfield_ro("bf", "u8", 0, items=[("i4", 0)]) == [240, -1]


def pipeline(r):
    pipe = r.pipeline(transaction=False)
    pipe.set("p", "1").incr("p").incrby("p", 5).append("p", "0").get("p").getdel("p")
    assert pipe.execute() == [True, 2, 7, 2, "70", "70"]


def threads(protocol):
    def work():
        c = redis.Redis(port=PORT, protocol=protocol)
        for _ in range(250):
            c.incr("hits")
        c.close()

    ts = [threading.Thread(target=work) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
        assert not t.is_alive()


def check(protocol):
    r = redis.Redis(port=PORT, protocol=protocol, decode_responses=True)
    r.flushall()
    for part in (counters, strings, expiry, set_options, bits, pipeline):
        part(r)
    r.flushall()
    threads(protocol)
    assert r.get("hits") == "2000", r.get("hits")
    r.close()


check(2)
check(3)
