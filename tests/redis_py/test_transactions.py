"""redis-py 8 against shale: the default (MULTI/EXEC) pipeline, a WATCH retry loop from
8 threads with an exact total, EXECABORT and DISCARD, in RESP2 and RESP3."""

import os
import threading

import redis

PORT = int(os.environ["SHALE_PORT"])
THREADS = 8
INCREMENTS = 50


def pipeline(r):
    r.delete("a", "b")
    pipe = r.pipeline()
    pipe.set("a", "1").get("a").rename("a", "b").exists("a", "b")
    assert pipe.execute() == [True, "1", True, 1]
    with r.pipeline() as pipe:
        pipe.set("x", "1")
        pipe.rename("nope", "y")
        try:
            pipe.execute()
            raise AssertionError("a failing command inside EXEC must raise")
        except redis.ResponseError as e:
            assert "no such key" in str(e)
    assert r.get("x") == "1", "the other commands ran"


def exec_abort(r):
    r.delete("z")
    conn = r.connection_pool.get_connection()
    try:
        conn.send_command("MULTI")
        assert conn.read_response() in (b"OK", "OK")
        conn.send_command("SET", "z", "1")
        conn.read_response()
        conn.send_command("NOSUCHCOMMAND")
        try:
            conn.read_response()
        except redis.ResponseError:
            pass
        conn.send_command("EXEC")
        try:
            conn.read_response()
            raise AssertionError("EXEC after a failed queue must abort")
        except redis.exceptions.ExecAbortError:
            pass
        conn.send_command("MULTI")
        conn.read_response()
        conn.send_command("SET", "z", "1")
        conn.read_response()
        conn.send_command("DISCARD")
        assert conn.read_response() in (b"OK", "OK")
    finally:
        r.connection_pool.release(conn)
    assert r.exists("z") == 0, "nothing ran"


def watch_loop(r):
    r.set("counter", "0")
    pool = r.connection_pool

    def worker():
        c = redis.Redis(connection_pool=pool)
        for _ in range(INCREMENTS):
            def incr(pipe):
                value = int(pipe.get("counter"))
                pipe.multi()
                pipe.set("counter", value + 1)
            c.transaction(incr, "counter")

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive(), "a worker hung"
    assert int(r.get("counter")) == THREADS * INCREMENTS, r.get("counter")


def watch_abort(r):
    r.set("w", "1")
    with r.pipeline() as pipe:
        pipe.watch("w")
        r.set("w", "2")
        pipe.multi()
        pipe.set("w", "3")
        try:
            pipe.execute()
            raise AssertionError("EXEC must abort after a watched key changed")
        except redis.WatchError:
            pass
    assert r.get("w") == "2"


def check(protocol):
    r = redis.Redis(port=PORT, protocol=protocol, decode_responses=True)
    pipeline(r)
    exec_abort(r)
    watch_abort(r)
    watch_loop(r)
    r.close()


check(2)
check(3)
