#!/usr/bin/env python3
"""Writes the hand-made seed corpus under fuzz/corpus/<target>/.

Each seed is a meaningful scenario (a valid frame, a pipeline, an edge length, a limit hit),
named after what it shows. Run from anywhere: `python3 fuzz/make_seeds.py`. Inputs found by
fuzzing are merged in as fuzz/README.md describes, not here. The input layouts are documented
in src/fuzzing/ (config byte, selector byte, ops).
"""

import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

# Config byte (src/fuzzing/mod.rs): bits 0-1 limits profile, bits 2-7 chunk seed.
DEFAULT, TINY, KEY1, HARD = 0, 1, 2, 3
WHOLE, BYTEWISE, SMALL, MEDIUM, LARGE = 0, 1 << 2, 0x15 << 2, 0x25 << 2, 0x35 << 2

OP = {"ping": 1, "get": 2, "set": 3, "del": 4, "ttl": 5, "stats": 6, "auth": 7}
MAX_TTL_MS = 100 * 365 * 24 * 3600 * 1000


def req(op, key=b"", value=b"", id=1, ttl=0, flags=0, version=1, key_len=None):
    key_len = len(key) if key_len is None else key_len
    body = struct.pack(">BBHIQH", version, op, flags, id, ttl, key_len) + key + value
    return struct.pack(">I", len(body)) + body


def resp(status, payload=b"", id=1, flags=0, version=1):
    body = struct.pack(">BBHI", version, status, flags, id) + payload
    return struct.pack(">I", len(body)) + body


def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


BINARY = {
    "get": req(OP["get"], b"k"),
    "set_ttl": req(OP["set"], b"key", b"value", id=7, ttl=1500),
    "set_max_ttl": req(OP["set"], b"k", b"v", ttl=MAX_TTL_MS),
    "set_ttl_over_max": req(OP["set"], b"k", b"v", ttl=MAX_TTL_MS + 1),
    "del": req(OP["del"], b"k", id=0xFFFFFFFF),
    "ttl": req(OP["ttl"], b"k"),
    "ping_echo": req(OP["ping"], value=b"hello"),
    "stats": req(OP["stats"]),
    "auth": req(OP["auth"], value=b"secret"),
    "unknown_opcode": req(0x7F, b"k"),
    "nonzero_flags": req(OP["get"], b"k", flags=1),
    "empty_key": req(OP["get"]),
    "key_len_past_end": req(OP["get"], b"k", key_len=9),
    "short_body": struct.pack(">I", 6) + b"\x01\x02\x00\x00\x00\x05",
    "zero_len": struct.pack(">I", 0),
    "bad_version": req(OP["get"], b"k", version=2),
    "len_over_limit": b"\x00\xff\xff\xff" + b"\x01" * 16,
    "prefix_only": struct.pack(">I", 40),
    "pipeline": req(OP["set"], b"a", b"1") + req(OP["get"], b"a", id=2) + req(OP["del"], b"a", id=3),
    "partial_second": req(OP["get"], b"k") + req(OP["get"], b"k")[:10],
}
TINY_BINARY = {
    "tiny_key_at_limit": req(OP["set"], b"kkkk", b"vvvvvvvv"),
    "tiny_key_over": req(OP["get"], b"kkkkk"),
    "tiny_value_over": req(OP["set"], b"k", b"vvvvvvvvv"),
    "tiny_frame_over": req(OP["set"], b"kkkk", b"vvvvvvvvv"),
}

RESPONSES = {
    "ok_empty": resp(0),
    "ok_payload": resp(0, b"hello"),
    "ok_ttl_int": resp(0, struct.pack(">q", 1500)),
    "ok_del_one": resp(0, b"\x01"),
    "not_found": resp(1),
    "error_message": resp(0x10, b"wrong number of arguments"),
    "error_utf8_invalid": resp(0x12, b"\xff\xfe key"),
    "unknown_status": resp(0x42, b"?"),
    "fatal": resp(0x81, b"frame too large"),
    "nonzero_flags": resp(0, b"x", flags=0x8000),
    "short_body": struct.pack(">I", 4) + b"\x01\x00\x00\x00",
    "bad_version": resp(0, version=0),
    "len_over_limit": b"\x01\x00\x00\x00",
    "pipeline": resp(0, id=1) + resp(1, id=2) + resp(0x15, b"NOAUTH", id=3),
}

REQUESTS = {
    "inline_get": b"GET k\r\n",
    "inline_lf_only": b"PING\n",
    "inline_quotes": b"SET k \"hello world\\x41\\n\" 'it\\'s'\r\n",
    "inline_unbalanced": b"SET k \"abc\r\n",
    "inline_blank_lines": b"\r\n   \r\n\nGET k\r\n",
    "inline_nul": b"GET a\x00b\r\n",
    "http_post": b"POST / HTTP/1.1\r\nHost: x\r\n\r\n",
    "http_host": b"Host: example\r\n",
    "resp_get": cmd("GET", "k"),
    "resp_set_ex_nx": cmd("SET", "k", "v", "EX", "10", "NX"),
    "resp_set_px_xx": cmd("set", "k", "v", "px", "1500", "xx"),
    "resp_set_bad_ttl": cmd("SET", "k", "v", "EX", "0"),
    "resp_set_huge_ttl": cmd("SET", "k", "v", "EX", "9223372036854775807"),
    "resp_expire_negative": cmd("EXPIRE", "k", "-5"),
    "resp_pexpire": cmd("PEXPIRE", "k", "3153600000001"),
    "resp_mset": cmd("MSET", "a", "1", "b", "2"),
    "resp_mset_odd": cmd("MSET", "a", "1", "b"),
    "resp_mget_del_exists": cmd("MGET", "a", "b") + cmd("DEL", "a", "b") + cmd("EXISTS", "a"),
    "resp_hello_auth": cmd("HELLO", "3", "AUTH", "user", "pass", "SETNAME", "n"),
    "resp_config_client": cmd("CONFIG", "GET", "*") + cmd("CLIENT", "SETNAME", "x"),
    "resp_select_info": cmd("SELECT", "0") + cmd("INFO", "keyspace") + cmd("DBSIZE"),
    "resp_unknown_long": cmd("NOPE", "x" * 200, "y" * 200),
    "resp_empty_arrays": b"*0\r\n*-1\r\n" + cmd("PING"),
    "resp_empty_bulk": cmd("SET", "k", ""),
    "resp_binary_safe": cmd("SET", b"k\r\n", b"\x00\xff\r\n"),
    "resp_bad_count": b"*x\r\n",
    "resp_count_too_big": b"*1048577\r\n",
    "resp_count_max": b"*1048576\r\n$1\r\na\r\n",
    "resp_bulk_nil": b"*1\r\n$-1\r\n",
    "resp_bulk_leading_zero": b"*1\r\n$01\r\na\r\n",
    "resp_bulk_overflow": b"*1\r\n$9223372036854775808\r\n",
    "resp_missing_crlf": b"*1\r\n$1\r\nab\r\n",
    "resp_not_dollar": b"*1\r\n:1\r\n",
    "resp_bad_line_end": b"*1\r\n$1\rX",
    "mixed_pipeline": cmd("PING") + b"PING\r\n" + cmd("QUIT"),
}

REPLIES = {
    "ok": b"+OK\r\n",
    "pong": b"+PONG\r\n",
    "status_other": b"+QUEUED\r\n",
    "error_err": b"-ERR syntax error\r\n",
    "error_unknown_cmd": b"-ERR unknown command 'x'\r\n",
    "error_prefixes": b"-NOAUTH a\r\n-OOM b\r\n-WRONGSHARD c\r\n-WRONGTYPE d\r\n-\r\n",
    "int": b":-9223372036854775808\r\n",
    "bulk": b"$5\r\nhello\r\n",
    "nil_bulk_and_array": b"$-1\r\n*-1\r\n",
    "nested": b"*2\r\n:1\r\n*1\r\n$-1\r\n",
    "empty_arrays": b"*0\r\n*1\r\n*0\r\n",
    "depth_32": b"*1\r\n" * 32 + b":1\r\n",
    "depth_33": b"*1\r\n" * 33 + b":1\r\n",
    "bad_type": b"!3\r\nabc\r\n",
    "bulk_bad_end": b"$1\r\nab",
    "long_status": b"+" + b"s" * 300 + b"\r\n",
}


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def server_binary():
    for name, frame in BINARY.items():
        write("server_binary_decode", name, bytes([DEFAULT]) + frame)
    for name, frame in TINY_BINARY.items():
        write("server_binary_decode", name, bytes([TINY]) + frame)
    write("server_binary_decode", "key1_limits", bytes([KEY1]) + req(OP["set"], b"k"))
    write("server_binary_decode", "hard_limits", bytes([HARD]) + req(OP["set"], b"k" * 300))
    write("server_binary_decode", "pipeline_bytewise", bytes([BYTEWISE]) + BINARY["pipeline"])
    write("server_binary_decode", "pipeline_small_reads", bytes([SMALL]) + BINARY["pipeline"])


def client():
    for name, frame in RESPONSES.items():
        profile = TINY if name == "len_over_limit" else DEFAULT
        write("client_response_decode", name, bytes([profile]) + frame)
    write("client_response_decode", "pipeline_bytewise", bytes([BYTEWISE]) + RESPONSES["pipeline"])
    write("client_response_decode", "tiny_frame_over", bytes([TINY]) + resp(0, b"x" * 40))


def text():
    for name, data in {**REQUESTS, **REPLIES}.items():
        write("text_decode", name, bytes([DEFAULT]) + data)
    write("text_decode", "tiny_bulk_over", bytes([TINY]) + cmd("SET", "k", "v" * 9))
    write("text_decode", "tiny_request_over", bytes([TINY]) + cmd("MSET", *["kkkk", "vvvvvvvv"] * 4))
    write("text_decode", "key1_inline_long", bytes([KEY1]) + b"GET " + b"k" * 100 + b"\r\n")
    write("text_decode", "pipeline_bytewise", bytes([BYTEWISE]) + REQUESTS["mixed_pipeline"])
    write("text_decode", "nested_small_reads", bytes([SMALL]) + REPLIES["nested"] * 3)


def split():
    cases = [
        ("server_binary_pipeline", 0, BINARY["pipeline"]),
        ("server_binary_fatal", 0, BINARY["get"] + BINARY["bad_version"]),
        ("server_text_pipeline", 0, REQUESTS["mixed_pipeline"] + REQUESTS["inline_blank_lines"]),
        ("server_text_quotes", 0, REQUESTS["inline_quotes"] * 2),
        ("server_text_http", 0, cmd("PING") + REQUESTS["http_post"]),
        ("server_text_noops", 0, REQUESTS["resp_empty_arrays"] * 2),
        ("server_forced_binary", 1, BINARY["pipeline"][1:]),
        ("client_pipeline", 2, RESPONSES["pipeline"] + RESPONSES["ok_ttl_int"]),
        ("client_short", 2, RESPONSES["ok_empty"] + RESPONSES["short_body"]),
        ("replies_mixed", 3, b"".join(REPLIES[k] for k in ["ok", "nested", "bulk", "error_prefixes"])),
        ("replies_depth", 3, REPLIES["depth_33"]),
        ("replies_long_status", 3, REPLIES["long_status"] * 2),
    ]
    for i, (name, target, data) in enumerate(cases):
        cut_seed = (i * 7 + 1) % 64
        write("split", name, bytes([DEFAULT, target | (cut_seed << 2)]) + data)
    write("split", "tiny_text_over", bytes([TINY, 0x10]) + cmd("SET", "kkkk", "v" * 20))


# store_model (src/fuzzing/store_model/): a config byte (bits 0-1 shards-1, bit 2 tombstones,
# bits 3-7 tombstone life in ms - 1), then ops: key byte, op byte, parameters.
KEY = {b"": 0, b"a": 1, b"b": 2, b"key": 3, b"big": 7}
SET, GET, DEL, EXISTS, TTL, EXPIRE, ADVANCE, SWEEP_CHUNK, FLUSH_OR_SWEEP = 0, 2, 3, 4, 5, 6, 8, 9, 10
VSET, VDEL, VERSION_OF = 11, 12, 13
TOMBSTONES = 0b100

NONE, ZERO, MAX = b"\x00", b"\x02", b"\x04"
TTL_MS = lambda ms: bytes([6, ms])  # noqa: E731
TTL_NS = lambda ns: bytes([3, ns])  # noqa: E731
ADV_MS = lambda ms: bytes([2, ms])  # noqa: E731
ADV_NS = lambda ns: bytes([1, ns])  # noqa: E731
# Versions for versioned writes: relative to the key's own, or absolute.
BELOW, SAME, ABOVE, V_ZERO, V_MAX = b"\x00", b"\x01", b"\x02", b"\x05", b"\x06"
V = lambda n: bytes([4, n])  # noqa: E731


def op_set(key, value=b"v", ttl=NONE, cond=0):
    return bytes([KEY[key], SET, 1, len(value)]) + value + ttl + bytes([cond])


def op_vset(key, version, value=b"v", ttl=NONE):
    return bytes([KEY[key], VSET, 1, len(value)]) + value + ttl + version


def op(key, code, *params):
    return bytes([KEY[key], code, *params])


def expire(key, ttl):
    return op(key, EXPIRE, 1) + ttl


def persist(key):
    return op(key, EXPIRE, 0)


def store():
    scenarios = {
        "expire_on_read": op_set(b"a", ttl=TTL_MS(5)) + op(b"a", ADVANCE, *ADV_MS(4))
        + op(b"a", GET) + op(b"a", TTL) + op(b"a", ADVANCE, *ADV_MS(1)) + op(b"a", GET)
        + op(b"a", EXISTS),
        "exact_deadline_ns": op_set(b"b", ttl=TTL_NS(10)) + op(b"b", ADVANCE, *ADV_NS(9))
        + op(b"b", TTL) + op(b"b", ADVANCE, *ADV_NS(1)) + op(b"b", TTL),
        "nx_xx": op_set(b"key", cond=2) + op_set(b"key", cond=1) + op_set(b"key", b"w", cond=1)
        + op_set(b"key", b"x", cond=2) + op(b"key", GET),
        "expire_persist": op_set(b"a") + expire(b"a", TTL_MS(3)) + persist(b"a") + persist(b"a")
        + expire(b"a", ZERO) + op(b"a", EXISTS),
        "zero_ttl_set_deletes": op_set(b"a") + op_set(b"a", ttl=ZERO) + op(b"a", GET),
        "sweep_after_expiry": op_set(b"a", ttl=TTL_MS(1)) + op_set(b"b", ttl=TTL_MS(1))
        + op_set(b"key") + op(b"a", ADVANCE, *ADV_MS(2)) + op(b"a", SWEEP_CHUNK, 0, 1)
        + op(b"a", FLUSH_OR_SWEEP, 1) + op(b"key", GET),
        "end_of_time": op_set(b"a", ttl=MAX) + op_set(b"b") + op(b"a", ADVANCE, 5)
        + op(b"a", GET) + op_set(b"key", ttl=TTL_MS(1)) + op(b"key", EXISTS) + op(b"b", GET),
        "big_values_flush": bytes([KEY[b"big"], SET, 0, 7, 50]) + b"\x00\x00"
        + op(b"big", GET) + op(b"big", FLUSH_OR_SWEEP, 0) + op(b"big", GET),
        "empty_key_del": op_set(b"", b"") + op(b"", GET) + op(b"", DEL) + op(b"", DEL),
        "lww_versions": op_vset(b"a", V(5)) + op_vset(b"a", BELOW, b"w") + op_vset(b"a", ABOVE, b"x")
        + op(b"a", VDEL) + SAME + op(b"a", VDEL) + ABOVE + op(b"a", GET) + op(b"a", VERSION_OF)
        + op_vset(b"a", SAME, b"y") + op(b"a", ADVANCE, *ADV_MS(2)) + op(b"a", VERSION_OF)
        + op_vset(b"a", V(1), b"z") + op(b"a", GET),
        "versioned_zero_and_tombstone_ttl": op_vset(b"b", V_ZERO) + op_vset(b"b", V(3), ttl=ZERO)
        + op(b"b", VERSION_OF) + op_vset(b"b", V(2)) + op(b"b", ADVANCE, *ADV_MS(1))
        + op_vset(b"b", V(2)) + op(b"b", GET),
        "plain_write_beats_versioned": op_vset(b"key", V_MAX) + op_set(b"key", b"p")
        + op(b"key", VERSION_OF) + op_vset(b"key", V_MAX, b"q") + op(b"key", GET)
        + expire(b"key", TTL_MS(9)) + op(b"key", VERSION_OF),
    }
    tombstoned = {
        "plain_del_tombstone": op_set(b"a") + op(b"a", DEL) + op(b"a", VERSION_OF)
        + op_vset(b"a", BELOW) + op(b"a", GET) + op(b"a", ADVANCE, *ADV_MS(2))
        + op(b"a", FLUSH_OR_SWEEP, 1) + op_vset(b"a", V(1)) + op(b"a", GET),
        "expire_zero_tombstone": op_set(b"b", ttl=TTL_MS(50)) + expire(b"b", ZERO)
        + op(b"b", EXISTS) + op_set(b"b", ttl=ZERO) + op(b"b", VERSION_OF)
        + op(b"b", SWEEP_CHUNK, 0, 5) + op(b"b", FLUSH_OR_SWEEP, 0),
    }
    for shards in range(4):
        for name, ops in scenarios.items():
            if shards in (0, 3) or name in ("sweep_after_expiry", "big_values_flush"):
                write("store_model", f"{name}_{shards + 1}shards", bytes([shards]) + ops)
        for name, ops in tombstoned.items():
            if shards in (0, 3):
                write("store_model", f"{name}_{shards + 1}shards", bytes([shards | TOMBSTONES]) + ops)


# round_trip (src/fuzzing/round_trip/): a selector byte per case (0 request frame,
# 1 response frame, 2 binary reply, 3 text command, 4 text reply), then what the case reads.
OPCODES = ["ping", "get", "set", "del", "ttl", "stats", "auth"]  # Opcode::ALL order
ERROR_STATUSES = [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x20, 0x21, 0x30, 0x31, 0x32, 0x7F, 0x80,
                  0x81]
ALL_STATUSES = [0x00, 0x01] + ERROR_STATUSES
WORDS = ["GET", "SET", "DEL", "EXISTS", "TTL", "PTTL", "EXPIRE", "PEXPIRE", "PERSIST", "MSET",
         "PING", "EX", "PX", "NX", "XX", "HELLO"]


def blob(data=b"", fill=None):
    if fill is not None:
        byte, length = fill
        return b"\x00" + struct.pack(">HB", length, byte)
    assert len(data) <= 24
    return bytes([2, len(data)]) + data


def message(text=None):
    if text is None:
        return b"\x00"
    data = text.encode()
    return bytes([2, len(data)]) + data


def rt_request(op, key=b"", value=b"", profile=DEFAULT, flags=None, id=1, ttl=(0,)):
    out = bytes([0, profile])
    out += bytes([1, OPCODES.index(op)]) if isinstance(op, str) else bytes([0, op])
    out += b"\x01" if flags is None else b"\x00" + struct.pack(">H", flags)
    out += struct.pack(">I", id)
    choice = ttl[0]
    out += bytes([choice]) + (bytes([ttl[1]]) if choice == 1 else b"")
    out += struct.pack(">Q", ttl[1]) if choice == 5 else b""
    key_blob = key if key.startswith(b"\x00") and len(key) == 4 else blob(key)
    return out + key_blob + blob(value)


def rt_response(status, payload=b"", id=9):
    return bytes([1, status]) + struct.pack(">I", id) + blob(payload)


def rt_reply(op, shape, id=3):
    out = bytes([2]) + struct.pack(">I", id) + bytes([1, OPCODES.index(op)])
    if shape[0] == "error":
        return out + bytes([0, ERROR_STATUSES.index(shape[1])]) + message(shape[2])
    out += b"\x01"  # not an error
    if op != "ttl":
        if shape[0] == "nil":
            return out + b"\x00"
        out += b"\x01"
    kind = shape[0]
    if kind == "bulk":
        return out + blob(shape[1])
    if kind == "int":
        return out + (bytes([shape[1]]) if op == "del" else bytes([3]) + struct.pack(">q", shape[1]))
    return out  # ok


def rt_command(args, profile=DEFAULT):
    out = bytes([3, profile, len(args)])
    for i, a in enumerate(args):
        if i < 3 and a in WORDS:
            out += bytes([0, WORDS.index(a)])
        else:
            out += b"\x01" + blob(a.encode() if isinstance(a, str) else a)
    return out


def reply_tree(r):
    """Bytes for `any_reply` building `r`: ("ok",), ("bulk", b), ("int", n), ("nil",),
    ("error", status, text), ("array", [..]), ("map", [(key_bytes, value), ..])."""
    kind = r[0]
    if kind == "ok":
        return b"\x00"
    if kind == "bulk":
        return b"\x02" + blob(r[1])
    if kind == "nil":
        return b"\x03"
    if kind == "int":
        return b"\x04" + struct.pack(">q", r[1])
    if kind == "error":
        return bytes([6, ALL_STATUSES.index(r[1])]) + message(r[2])
    if kind == "array":
        return bytes([5, len(r[1])]) + b"".join(reply_tree(x) for x in r[1])
    return bytes([7, len(r[1])]) + b"".join(blob(k) + reply_tree(v) for k, v in r[1])


def round_trip():
    deep = ("int", 1)
    for _ in range(33):
        deep = ("array", [deep])
    seeds = {
        "request_set_ttl": rt_request("set", b"key", b"value", id=7, ttl=(1, 250)),
        "request_set_ttl_over_max": rt_request("set", b"k", b"v", ttl=(3,)),
        "request_get_empty_key": rt_request("get"),
        "request_unknown_opcode_flags": rt_request(0x42, b"k", flags=1),
        "request_tiny_key_over": rt_request("get", b"kkkkk", profile=TINY),
        "request_tiny_value_over": rt_request("set", b"k", b"123456789", profile=TINY),
        "request_long_key": rt_request("del", blob(fill=(ord("k"), 9000))),
        "response_error": rt_response(0x10, b"oops"),
        "response_unknown_status": rt_response(0x99, b"\xff"),
        "reply_get_bulk": rt_reply("get", ("bulk", b"hello")) + rt_reply("get", ("nil",)),
        "reply_ttl": rt_reply("ttl", ("int", -2)) + rt_reply("ttl", ("int", 1500)),
        "reply_del_set_ping": rt_reply("del", ("int", 1)) + rt_reply("set", ("ok",))
        + rt_reply("ping", ("bulk", b"")) + rt_reply("ping", ("bulk", b"echo")),
        "reply_errors": rt_reply("auth", ("error", 0x15, "Authentication required."))
        + rt_reply("stats", ("error", 0x7F, None)),
        "command_set_ex": rt_command(["SET", "k", "v", "EX", "10"]),
        "command_binary_args": rt_command(["DEL", b"a b", b"\x00\"'\\", b""]),
        "command_http": rt_command([b"POST", b"/"]),
        "command_tiny_over": rt_command(["SET", "kkkkk", "v"], profile=TINY),
        "text_reply_tree": b"\x04" + reply_tree(("array", [("ok",), ("bulk", b"hi"), ("nil",),
                                                           ("error", 0x12, "key\r\ntoo large"),
                                                           ("int", -1)])),
        "text_reply_map": b"\x04" + reply_tree(("map", [(b"k", ("int", 7)), (b"e", ("array", []))])),
        "text_reply_errors": b"\x04" + reply_tree(("error", 0x10, "unknown command 'x'")) + b"\x04"
        + reply_tree(("error", 0x80, "Protocol error")) + b"\x04" + reply_tree(("error", 0x21, "")),
        "text_reply_too_deep": b"\x04" + reply_tree(deep),
    }
    for name, data in seeds.items():
        write("round_trip", name, data)


if __name__ == "__main__":
    server_binary()
    client()
    text()
    split()
    store()
    round_trip()
