"""redis-py 8 against shale: keyspace and expiry commands, scan_iter, in RESP2 and RESP3."""

import os
import time

import redis

PORT = int(os.environ["SHALE_PORT"])


def keyspace(r):
    r.flushall()
    assert r.mset({"a": "1", "ab": "2", "b": "3"}) is True
    assert r.exists("a", "a", "nope") == 2
    assert r.touch("a", "nope") == 1
    assert r.type("a") == "string" and r.type("nope") == "none"
    assert sorted(r.keys("a*")) == ["a", "ab"]
    assert r.randomkey() in {"a", "ab", "b"}
    assert r.dbsize() == 3
    assert r.rename("a", "c") is True
    assert r.renamenx("c", "b") is False and r.renamenx("c", "d") is True
    assert r.copy("d", "e") is True and r.copy("d", "e") is False
    assert r.copy("b", "e", replace=True) is True and r.get("e") == "3"
    try:
        r.rename("nope", "x")
        raise AssertionError("RENAME of a missing key must fail")
    except redis.ResponseError as e:
        assert "no such key" in str(e)
    assert r.unlink("b", "e", "nope") == 2
    assert r.delete("ab", "d") == 2
    assert r.dbsize() == 0
    assert r.randomkey() is None
    assert r.flushdb(asynchronous=True) is True
    assert r.flushall(asynchronous=False) is True


def expiry(r):
    r.flushall()
    r.set("k", "v")
    assert r.expire("k", 100, nx=True) is True
    assert r.expire("k", 200, nx=True) is False
    assert r.expire("k", 50, gt=True) is False
    assert r.expire("k", 500, xx=True, gt=True) is True
    assert r.pexpire("k", 60_000, lt=True) is True
    assert 59 <= r.ttl("k") <= 60
    now = int(time.time())
    assert r.expireat("k", now + 1000) is True
    assert abs(r.expiretime("k") - (now + 1000)) <= 1
    assert abs(r.pexpiretime("k") - (now + 1000) * 1000) <= 1000
    assert r.persist("k") is True and r.persist("k") is False
    assert r.expiretime("k") == -1 and r.expiretime("nope") == -2
    try:
        r.expire("k", 2**62)
        raise AssertionError("an out-of-range EXPIRE must fail")
    except redis.ResponseError as e:
        assert "invalid expire time" in str(e)
    assert r.get("k") == "v", "an out-of-range EXPIRE keeps the key"
    assert r.expire("k", -1) is True
    assert r.exists("k") == 0


def scanning(r):
    r.flushall()
    keys = {f"user:{i}" for i in range(300)} | {f"other:{i}" for i in range(50)}
    r.mset({k: "v" for k in keys})
    users = set(r.scan_iter(match="user:*", count=17))
    assert users == {k for k in keys if k.startswith("user:")}
    assert set(r.scan_iter(count=1000)) == keys
    assert set(r.scan_iter(_type="string")) == keys
    cursor, page = r.scan(0, count=5)
    assert isinstance(cursor, int) and isinstance(page, list)


def check(protocol):
    r = redis.Redis(port=PORT, protocol=protocol, decode_responses=True)
    keyspace(r)
    expiry(r)
    scanning(r)
    r.close()


check(2)
check(3)
