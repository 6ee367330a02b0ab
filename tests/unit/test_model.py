"""Unit tests of the Redis model's own mechanics (the conformance suite covers replies)."""

from __future__ import annotations

from models.redis import BLOCKED, OK, RedisModel, ReplyError, Status
from models.redis.model import Delivery, Served
from models.redis.number import parse_int


def test_set_nx_px_and_expiry_boundary():
    m = RedisModel()
    assert m.reply(["SET", "k", "a", "PX", 100, "NX"], 1000) == OK
    assert m.reply(["SET", "k", "b", "PX", 100, "NX"], 1050) is None
    # Redis's test is now > deadline: alive at exactly the deadline, gone 1 ms later
    assert m.reply(["GET", "k"], 1100) == b"a"
    assert m.reply(["PTTL", "k"], 1100) == 0
    assert m.reply(["GET", "k"], 1101) is None
    assert m.reply(["PTTL", "k"], 1101) == -2
    assert m.reply(["SET", "k", "b", "PX", 100, "NX"], 1101) == OK


def test_status_is_bytes_but_distinct():
    m = RedisModel()
    reply = m.reply(["SET", "k", "v"], 0)
    assert reply == b"OK" and isinstance(reply, Status)
    assert not isinstance(m.reply(["GET", "k"], 0), Status)


def test_ttl_rounding_and_minus_one():
    m = RedisModel()
    m.reply(["SET", "k", "v"], 0)
    assert m.reply(["TTL", "k"], 0) == -1
    m.reply(["PEXPIRE", "k", 1499], 0)
    assert m.reply(["TTL", "k"], 0) == 1
    m.reply(["PEXPIRE", "k", 1500], 0)
    assert m.reply(["TTL", "k"], 0) == 2


def test_incr_keeps_ttl_and_errors():
    m = RedisModel()
    m.reply(["SET", "n", "41", "PX", 1000], 0)
    assert m.reply(["INCR", "n"], 10) == 42
    assert m.reply(["PTTL", "n"], 10) == 990
    m.reply(["SET", "n", "9223372036854775807"], 20)
    assert m.reply(["INCR", "n"], 20) == ReplyError("ERR increment or decrement would overflow")
    m.reply(["SET", "n", "01"], 20)
    assert m.reply(["INCR", "n"], 20) == ReplyError("ERR value is not an integer or out of range")


def test_wrongtype_and_unknown_command_by_dialect():
    m7, m6 = RedisModel((7, 0)), RedisModel((6, 2))
    for m in (m7, m6):
        m.reply(["HSET", "h", "f", "1"], 0)
        assert m.reply(["GET", "h"], 0).message.startswith("WRONGTYPE")
    assert m7.reply(["NOPE", "a"], 0).message == (
        "ERR unknown command 'NOPE', with args beginning with: 'a' ")
    assert m6.reply(["NOPE", "a"], 0).message == (
        "ERR unknown command `NOPE`, with args beginning with: `a`, ")
    assert m7.reply(["EXPIRE", "h", "10", "NX"], 0) == 1
    assert m6.reply(["EXPIRE", "h", "10", "NX"], 0) == ReplyError(
        "ERR wrong number of arguments for 'expire' command")


def test_publish_reaches_only_current_subscribers():
    m = RedisModel()
    assert m.execute(["SUBSCRIBE", "ch"], 0, client=1).reply == [[b"subscribe", b"ch", 1]]
    out = m.execute(["PUBLISH", "ch", "released"], 1, client=9)
    assert out.reply == 1
    assert out.effects == (Delivery(1, b"ch", b"released"),)
    # a client that subscribes after the PUBLISH never sees that message
    m.execute(["SUBSCRIBE", "ch"], 2, client=2)
    out = m.execute(["PUBLISH", "ch", "again"], 3, client=9)
    assert [e.client for e in out.effects] == [1, 2]
    assert m.execute(["GET", "x"], 3, client=1).reply.message.startswith("ERR Can't execute 'get'")
    m.disconnect(1)
    assert m.execute(["PUBLISH", "ch", "x"], 4, client=9).reply == 1


def test_blpop_blocks_and_is_served_fifo():
    m = RedisModel()
    assert m.execute(["BLPOP", "sig", "0"], 0, client=1).reply is BLOCKED
    assert m.execute(["BLPOP", "sig", "other", "5"], 1, client=2).reply is BLOCKED
    out = m.execute(["LPUSH", "sig", "1"], 2, client=3)
    assert out.reply == 1
    assert out.effects == (Served(1, [b"sig", b"1"]),)
    assert m.reply(["LLEN", "sig"], 2) == 0
    assert m.unblock(2) is True
    assert m.unblock(2) is False
    assert m.execute(["RPUSH", "sig", "a"], 3, client=3).effects == ()


def test_blpop_is_refused_inside_scripts():
    m = RedisModel()
    reply = m.reply(["EVAL", "return redis.call('blpop', KEYS[1], 0)", 1, "q"], 0)
    assert reply.message.startswith("ERR This Redis command is not allowed from script")


def test_script_is_one_instant_and_publishes():
    m = RedisModel()
    m.execute(["SUBSCRIBE", "lock:release:x"], 0, client=5)
    m.reply(["SET", "lock:x", "t1", "PX", 5000], 0)
    release = ("if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]); "
               "redis.call('publish', ARGV[2], 'released'); return 1 else return 0 end")
    out = m.execute(["EVAL", release, 1, "lock:x", "t1", "lock:release:x"], 10, client=1)
    assert out.reply == 1
    assert out.effects == (Delivery(5, b"lock:release:x", b"released"),)
    assert m.reply(["EVAL", release, 1, "lock:x", "t1", "lock:release:x"], 11) == 0


def test_parse_int_is_string2ll():
    assert parse_int(b"0") == 0
    assert parse_int(b"-12") == -12
    for bad in (b"", b"01", b"-0", b"+1", b" 1", b"1 ", b"1.0", b"9223372036854775808", b"-"):
        assert parse_int(bad) is None, bad
    assert parse_int(b"-9223372036854775808") == -(2**63)


def test_flush_forgets_keys_and_scripts():
    m = RedisModel()
    sha = m.reply(["SCRIPT", "LOAD", "return 1"], 0)
    m.reply(["SET", "k", "v"], 0)
    m.flush()
    assert m.reply(["GET", "k"], 0) is None
    assert m.reply(["EVALSHA", sha, 0], 0).message.startswith("NOSCRIPT")
