"""SETNX/SETEX/PSETEX/GETDEL, MULTI/EXEC/WATCH and CLIENT ID on the model alone.

The conformance suite proves these against real servers; these pin the cases
a lock depends on, fast, without one.
"""

from __future__ import annotations

import pytest

from models.redis import RedisModel, ReplyError

VERSIONS = [(6, 2), (7, 0)]


@pytest.fixture(params=VERSIONS, ids=lambda v: f"redis-{v[0]}.{v[1]}")
def m(request):
    return RedisModel(request.param)


def r(m, *argv, c=0, t=0):
    return m.reply(list(argv), t, c)


def test_setnx_sets_only_a_free_key(m):
    assert r(m, "SETNX", "k", "a") == 1
    assert r(m, "SETNX", "k", "b") == 0
    assert r(m, "GET", "k") == b"a"


def test_setnx_takes_an_expired_key(m):
    r(m, "PSETEX", "k", 10, "old")
    assert r(m, "SETNX", "k", "new", t=11) == 1
    assert r(m, "PTTL", "k", t=11) == -1


def test_setex_and_psetex_set_value_and_ttl(m):
    assert r(m, "SETEX", "k", 2, "v") == b"OK"
    assert r(m, "PTTL", "k") == 2000
    assert r(m, "PSETEX", "k", 150, "w") == b"OK"
    assert (r(m, "GET", "k"), r(m, "PTTL", "k")) == (b"w", 150)


@pytest.mark.parametrize("ttl", ["0", "-5"])
def test_setex_refuses_non_positive_expire(m, ttl):
    name = "setex" if m.dialect.version < (7, 0) else "'setex' command"
    assert r(m, "SETEX", "k", ttl, "v") == ReplyError(f"ERR invalid expire time in {name}")
    assert r(m, "PSETEX", "k", "x", "v") == ReplyError(
        "ERR value is not an integer or out of range")


def test_getdel(m):
    r(m, "SET", "k", "v")
    assert r(m, "GETDEL", "k") == b"v"
    assert r(m, "GETDEL", "k") is None
    r(m, "HSET", "h", "f", "1")
    assert r(m, "GETDEL", "h").code == "WRONGTYPE"


def test_exec_runs_the_queue_at_once(m):
    assert r(m, "MULTI", c=1) == b"OK"
    assert r(m, "SET", "k", "v", c=1) == b"QUEUED"
    assert r(m, "GET", "k") is None  # not run yet
    assert r(m, "INCR", "k", c=1) == b"QUEUED"
    reply = r(m, "EXEC", c=1)
    assert reply[0] == b"OK" and reply[1].code == "ERR"  # a runtime error is an element
    assert r(m, "GET", "k") == b"v"


def test_watch_broken_by_another_client_write(m):
    r(m, "SET", "lock", "a")
    r(m, "WATCH", "lock", c=1)
    r(m, "SET", "lock", "a", c=2)  # same value: still a write
    r(m, "MULTI", c=1)
    r(m, "DEL", "lock", c=1)
    assert r(m, "EXEC", c=1) is None
    assert r(m, "GET", "lock") == b"a"


def test_failed_writes_do_not_break_a_watch(m):
    r(m, "SET", "lock", "a")
    r(m, "WATCH", "lock", "other", c=1)
    r(m, "SETNX", "lock", "b", c=2)
    r(m, "DEL", "other", c=2)
    r(m, "PERSIST", "lock", c=2)
    r(m, "MULTI", c=1)
    r(m, "GET", "lock", c=1)
    assert r(m, "EXEC", c=1) == [b"a"]


def test_script_write_breaks_a_watch(m):
    r(m, "WATCH", "k", c=1)
    r(m, "EVAL", "return redis.call('setnx', KEYS[1], 'x')", 1, "k", c=2)
    r(m, "MULTI", c=1)
    assert r(m, "EXEC", c=1) is None


def test_expiry_while_watched_breaks_the_watch(m):
    r(m, "SET", "k", "v", "PX", 100)
    r(m, "WATCH", "k", c=1, t=10)
    r(m, "MULTI", c=1, t=10)
    assert r(m, "EXEC", c=1, t=200) is None


def test_watching_an_expired_key_is_watching_a_missing_key(m):
    r(m, "SET", "k", "v", "PX", 100)
    r(m, "WATCH", "k", c=1, t=200)
    r(m, "MULTI", c=1, t=200)
    assert r(m, "EXEC", c=1, t=300) == []


def test_unwatch_and_exec_forget_breakage(m):
    r(m, "WATCH", "k", c=1)
    r(m, "SET", "k", "v")
    assert r(m, "UNWATCH", c=1) == b"OK"
    r(m, "MULTI", c=1)
    assert r(m, "EXEC", c=1) == []


def test_queueing_errors_abort_and_misuse_errors_do_not(m):
    r(m, "MULTI", c=1)
    assert r(m, "MULTI", c=1) == ReplyError("ERR MULTI calls can not be nested")
    assert r(m, "WATCH", "k", c=1) == ReplyError("ERR WATCH inside MULTI is not allowed")
    assert r(m, "EXEC", c=1) == []
    r(m, "MULTI", c=1)
    assert r(m, "GET", c=1).code == "ERR"
    assert r(m, "EXEC", c=1) == ReplyError(
        "EXECABORT Transaction discarded because of previous errors.")
    assert r(m, "EXEC", c=1) == ReplyError("ERR EXEC without MULTI")
    assert r(m, "DISCARD", c=1) == ReplyError("ERR DISCARD without MULTI")


def test_exec_with_bad_arity_discards(m):
    r(m, "MULTI", c=1)
    assert r(m, "EXEC", "x", c=1) == ReplyError(
        "EXECABORT Transaction discarded because of: "
        "wrong number of arguments for 'exec' command")
    assert not m.in_multi(1)


def test_blpop_inside_exec_does_not_block(m):
    r(m, "MULTI", c=1)
    r(m, "BLPOP", "l", 0, c=1)
    assert r(m, "EXEC", c=1) == [None]


def test_transactions_are_not_for_scripts(m):
    reply = r(m, "EVAL", "return redis.call('multi')", 0)
    assert "not allowed from script" in reply.message


def test_client_subcommand_errors_by_version(m):
    r(m, "MULTI", c=1)
    r(m, "CLIENT", "nope", c=1)
    reply = r(m, "EXEC", c=1)
    if m.dialect.modern:  # judged while queueing
        assert reply.code == "EXECABORT"
    else:
        assert reply[0].message.startswith("ERR Unknown subcommand or wrong number")


def test_client_id_in_connection_order_and_new_after_reconnect(m):
    m.connect(5)
    m.connect(2)
    assert r(m, "CLIENT", "ID", c=5) < r(m, "CLIENT", "ID", c=2)
    first = r(m, "CLIENT", "ID", c=5)
    r(m, "WATCH", "k", c=5)
    m.disconnect(5)
    assert r(m, "CLIENT", "ID", c=5) > first
    assert not m.watch_broken(5)


def test_client_names(m):
    assert r(m, "CLIENT", "GETNAME") is None
    assert r(m, "CLIENT", "SETNAME", "worker-1") == b"OK"
    assert r(m, "CLIENT", "GETNAME") == b"worker-1"
    assert r(m, "CLIENT", "SETNAME", "a b").code == "ERR"
    r(m, "CLIENT", "SETNAME", "")
    assert r(m, "CLIENT", "GETNAME") is None
