"""redis-py 8 against shale: connecting (RESP2 and RESP3), strings, CONFIG GET, INFO."""

import os

import redis

PORT = int(os.environ["SHALE_PORT"])


def check(protocol):
    r = redis.Redis(port=PORT, protocol=protocol, decode_responses=True)
    assert r.ping() is True
    assert r.set("greeting", "hello") is True
    assert r.get("greeting") == "hello"
    assert r.get("nothing") is None
    assert r.delete("greeting", "nothing") == 1
    config = r.config_get("maxmemory*")
    assert isinstance(config, dict) and config["maxmemory"] == "0", config
    info = r.info()
    for field in ("redis_version", "arch_bits", "cluster_enabled", "mem_allocator"):
        assert field in info, field
    pipe = r.pipeline(transaction=False)
    pipe.set("a", "1").get("a").delete("a")
    assert pipe.execute() == [True, "1", 1]
    r.close()


check(2)
check(3)
