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


# -- sets, MGET/MSET/MSETNX, HMGET/HSETNX ------------------------------------------


def test_set_commands_replies_and_empty_key_deletion():
    m = RedisModel()
    assert m.reply(["SADD", "s", "a", "b", "a"], 0) == 2
    assert m.reply(["SADD", "s", "b"], 0) == 0
    assert m.reply(["TYPE", "s"], 0) == Status(b"set")
    assert m.reply(["SISMEMBER", "s", "a"], 0) == 1
    assert m.reply(["SISMEMBER", "s", "z"], 0) == 0
    assert m.reply(["SMISMEMBER", "s", "a", "z", "b"], 0) == [1, 0, 1]
    assert m.reply(["SMISMEMBER", "nope", "a", "z"], 0) == [0, 0]
    assert sorted(m.reply(["SMEMBERS", "s"], 0)) == [b"a", b"b"]
    assert m.reply(["SMEMBERS", "nope"], 0) == []
    assert m.reply(["SCARD", "s"], 0) == 2
    assert m.reply(["SCARD", "nope"], 0) == 0
    assert m.reply(["SREM", "nope", "a"], 0) == 0
    assert m.reply(["SREM", "s", "a", "z", "a"], 0) == 1
    assert m.reply(["SREM", "s", "b"], 0) == 1
    assert m.reply(["EXISTS", "s"], 0) == 0  # the last member gone: the key is gone
    assert m.reply(["TYPE", "s"], 0) == Status(b"none")


def test_set_wrongtype_both_ways_and_arity():
    m = RedisModel()
    m.reply(["SET", "k", "v"], 0)
    m.reply(["SADD", "s", "x"], 0)
    wrong = "WRONGTYPE Operation against a key holding the wrong kind of value"
    for argv in (["SADD", "k", "x"], ["SREM", "k", "x"], ["SISMEMBER", "k", "x"],
                 ["SMISMEMBER", "k", "x"], ["SMEMBERS", "k"], ["SCARD", "k"],
                 ["GET", "s"], ["HGET", "s", "f"], ["LPUSH", "s", "x"], ["INCR", "s"],
                 ["HSETNX", "s", "f", "v"], ["HMGET", "s", "f"]):
        assert m.reply(argv, 0) == ReplyError(wrong), argv
    assert m.reply(["MGET", "s", "k"], 0) == [None, b"v"]  # MGET: nil, not WRONGTYPE
    for argv, name in ((["SADD", "s"], "sadd"), (["SISMEMBER", "s", "a", "b"], "sismember"),
                       (["SMISMEMBER", "s"], "smismember"), (["SMEMBERS"], "smembers"),
                       (["HSETNX", "h", "f"], "hsetnx"), (["HMGET", "h"], "hmget"),
                       (["MGET"], "mget"), (["MSET", "a"], "mset")):
        assert m.reply(argv, 0) == ReplyError(
            f"ERR wrong number of arguments for '{name}' command"), argv


def test_mset_msetnx_and_their_dialects():
    m7, m6 = RedisModel((7, 0)), RedisModel((6, 2))
    for m in (m7, m6):
        m.reply(["SET", "a", "old", "PX", 1000], 0)
        m.reply(["SADD", "s", "x"], 0)
        assert m.reply(["MSET", "a", "1", "s", "2", "a", "3"], 0) == OK
        assert m.reply(["MGET", "a", "s", "zz"], 0) == [b"3", b"2", None]
        assert m.reply(["PTTL", "a"], 0) == -1  # setKey drops the TTL
        assert m.reply(["MSETNX", "c", "1", "a", "9"], 0) == 0  # a exists: nothing set
        assert m.reply(["EXISTS", "c"], 0) == 0
        assert m.reply(["MSETNX", "c", "1", "d", "2"], 0) == 1
        assert m.reply(["MGET", "c", "d"], 0) == [b"1", b"2"]
    assert m7.reply(["MSETNX", "a", "1", "b"], 0) == ReplyError(
        "ERR wrong number of arguments for 'msetnx' command")
    assert m6.reply(["MSETNX", "a", "1", "b"], 0) == ReplyError(
        "ERR wrong number of arguments for MSET")
    assert m6.reply(["MSET", "a", "1", "b"], 0) == ReplyError(
        "ERR wrong number of arguments for MSET")


def test_hmget_and_hsetnx():
    m = RedisModel()
    assert m.reply(["HMGET", "h", "f", "g"], 0) == [None, None]
    assert m.reply(["HSETNX", "h", "f", "1"], 0) == 1
    assert m.reply(["HSETNX", "h", "f", "2"], 0) == 0
    assert m.reply(["HMGET", "h", "f", "g"], 0) == [b"1", None]


def test_watch_sees_exactly_the_writes_that_change_a_set():
    """``signalModifiedKey`` only when SADD added or SREM removed; MSET touches every key."""
    def broken(*writes: list[str], key: str = "s") -> bool:
        m = RedisModel()
        m.reply(["SADD", "s", "a"], 0)
        m.reply(["HSET", "h", "f", "1"], 0)
        m.reply(["WATCH", key], 0, client=1)
        for argv in writes:
            m.reply(argv, 0, client=2)
        m.reply(["MULTI"], 0, client=1)
        m.reply(["PING"], 0, client=1)
        return m.reply(["EXEC"], 0, client=1) is None

    assert not broken(["SADD", "s", "a"])
    assert not broken(["SREM", "s", "zz"])
    assert not broken(["SISMEMBER", "s", "a"], ["SMEMBERS", "s"], ["SCARD", "s"])
    assert broken(["SADD", "s", "b"])
    assert broken(["SREM", "s", "a"])
    assert broken(["MSET", "x", "1", "s", "2"])
    assert not broken(["MSETNX", "x", "1", "s", "2"])  # refused: nothing written
    assert broken(["MSETNX", "x", "1", "y", "2"], key="y")
    assert not broken(["HSETNX", "h", "f", "2"], key="h")
    assert broken(["HSETNX", "h", "g", "2"], key="h")


def test_set_commands_from_scripts_and_inside_exec():
    m = RedisModel()
    script = ("redis.call('sadd', KEYS[1], 'a', 'b') "
              "return {redis.call('sismember', KEYS[1], 'a'), redis.call('smembers', KEYS[1]), "
              "redis.call('mget', KEYS[1], 'nope')}")
    assert m.reply(["EVAL", script, "1", "s"], 0) == [1, [b"a", b"b"], [None, None]]
    m.reply(["MULTI"], 0, client=1)
    m.reply(["SADD", "t", "x"], 0, client=1)
    m.reply(["SMEMBERS", "t"], 0, client=1)
    assert m.reply(["EXEC"], 0, client=1) == [1, [b"x"]]


def test_set_values_survive_snapshots_apart():
    """A snapshot (persistence, replication) is a copy later writes cannot change."""
    from models.redis.persistence import restore, snapshot

    m = RedisModel()
    m.reply(["SADD", "s", "a"], 0)
    image = snapshot(m.ks)
    m.reply(["SADD", "s", "b"], 0)
    fresh = RedisModel()
    restore(fresh.ks, image)
    assert fresh.reply(["SMEMBERS", "s"], 0) == [b"a"]
    assert fresh.reply(["TYPE", "s"], 0) == Status(b"set")
    fresh.reply(["SADD", "s", "c"], 0)  # the restored copy is the model's own
    assert list(image[0][b"s"]) == [b"a"]  # type: ignore[call-overload]


def test_replication_tells_a_set_from_a_list_of_the_same_members():
    """One EXEC may replace a list by a set of the same members: a change to ship."""
    from collections import deque

    from models.redis.sets import RedisSet
    from sim.world.topology import _look

    assert _look(RedisSet([b"a"])) != _look(deque([b"a"]))
    assert _look(RedisSet([b"a"])) == _look(RedisSet([b"a"]))
    assert _look(RedisSet([b"a"])) != _look(RedisSet([b"a", b"b"]))
