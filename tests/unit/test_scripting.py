"""Scripting without a server: conversions, sandbox, errors, caching, determinism.

The conformance suite checks all of this against real servers; these tests pin
the rules down where a reader can see them, and run in milliseconds.
"""

from __future__ import annotations

import pytest

from models.redis import RedisModel, ReplyError, Status


@pytest.fixture(params=[(7, 0), (6, 2)], ids=["7.x", "6.2"])
def m(request):
    return RedisModel(request.param)


def ev(m, body, *keys_and_args, numkeys=None):
    n = len(keys_and_args) if numkeys is None else numkeys
    return m.reply(["EVAL", body, n, *keys_and_args], 0)


def test_lua_to_redis_conversions(m):
    assert ev(m, "return {1, 'two', {3}, nil, 5}") == [1, b"two", [3]]
    assert ev(m, "return {3.99, -3.99, 1e20}") == [3, -3, -(2**63)]
    assert ev(m, "return {true, false}") == [1, None]
    assert ev(m, "return false") is None
    reply = ev(m, "return redis.status_reply('FINE')")
    assert reply == b"FINE" and isinstance(reply, Status)
    assert ev(m, "return {err='MYERR x'}") == ReplyError("MYERR x")
    assert ev(m, "return {ok='x', err='y'}") == ReplyError("y")


def test_redis_to_lua_conversions(m):
    m.reply(["HSET", "h", "f", "v"], 0)
    assert ev(m, "return type(redis.call('get', 'missing'))") == b"boolean"
    assert ev(m, "return redis.call('set', 'k', 'v')['ok']") == b"OK"
    assert ev(m, "return type(redis.pcall('incr', 'h'))") == b"table"
    assert ev(m, "redis.call('set', 'n', 1.5) return redis.call('get', 'n')") == b"1.5"


def test_sandbox(m):
    assert "nonexistent global variable 'os'" in ev(m, "return os.time()").message
    assert "readonly table" in ev(m, "x = 1").message
    assert ev(m, "return loadstring") is None  # present but nil, as in Redis
    assert ev(m, "return bit.band(12, 10)") == 8


def test_error_lines_follow_redis_even_through_tail_calls():
    body = "local a = 1\n\nreturn redis.call('incr', KEYS[1])"
    m7, m6 = RedisModel((7, 0)), RedisModel((6, 2))
    for m in (m7, m6):
        m.reply(["HSET", "h", "f", "v"], 0)
    e7 = ev(m7, body, "h").message
    assert e7.startswith("WRONGTYPE") and e7.endswith("on @user_script:3.")
    e6 = ev(m6, body, "h").message
    assert e6.startswith("ERR Error running script (call to f_")
    assert "@user_script:3: WRONGTYPE" in e6


def test_atomic_partial_writes_survive_an_error(m):
    assert isinstance(ev(m, "redis.call('set', KEYS[1], 'partial') error('boom')", "k"),
                      ReplyError)
    assert m.reply(["GET", "k"], 0) == b"partial"  # Redis does not roll back


def test_numkeys_errors(m):
    assert ev(m, "return 1", numkeys=-1) == ReplyError("ERR Number of keys can't be negative")
    assert ev(m, "return 1", numkeys=3) == ReplyError(
        "ERR Number of keys can't be greater than number of args")


def test_script_cache_and_noscript(m):
    sha = m.reply(["SCRIPT", "LOAD", "return 7"], 0)
    assert m.reply(["EVALSHA", sha.upper(), 0], 0) == 7
    assert m.reply(["SCRIPT", "EXISTS", sha, "0" * 40], 0) == [1, 0]
    m.reply(["SCRIPT", "FLUSH"], 0)
    assert m.reply(["EVALSHA", sha, 0], 0).message.startswith("NOSCRIPT")
    compile_error = m.reply(["EVAL", "return (", 0], 0)
    assert compile_error.message.startswith("ERR Error compiling script (new function)")


def test_math_random_is_redis_deterministic(m):
    body = "return {math.random(100), math.random(100)}"
    assert ev(m, body) == ev(m, body) == ev(RedisModel(m.dialect.version), body)


def test_runaway_script_is_stopped(monkeypatch):
    import models.redis.scripting as scripting

    monkeypatch.setattr(scripting, "INSTRUCTION_BUDGET", 10_000)
    reply = ev(RedisModel(), "while true do end")
    assert isinstance(reply, ReplyError) and "instruction budget" in reply.message


# -- the engine pool: a reused engine must be as good as a new one ---------------


def test_an_engine_that_ran_trusted_scripts_is_reused_clean():
    from models.locks.seed import RELEASE_SCRIPT
    from models.redis import scripting

    scripting._POOL.clear()
    first = RedisModel((7, 0))
    assert first.reply(["SET", "k", "t"], 0) is not None
    assert first.reply(["EVAL", RELEASE_SCRIPT, 1, "k", "t", "ch"], 0) == 1
    engine = first.scripts
    first.release_scripts()
    second = RedisModel((7, 0))
    assert second.scripts is engine  # taken from the pool
    sha = scripting._sha1hex(RELEASE_SCRIPT.encode())
    assert second.reply(["SCRIPT", "EXISTS", sha], 0) == [0]  # a new server knows no script
    assert second.reply(["EVALSHA", sha, 1, "k", "t", "ch"], 0) == ReplyError(
        "NOSCRIPT No matching script. Please use EVAL.")


def test_an_untrusted_script_keeps_its_engine_out_of_the_pool():
    from models.redis import scripting

    scripting._POOL.clear()
    first = RedisModel((6, 2))  # 6.2's sandbox lets a script change the string library
    assert ev(first, "string.locksim_leak = 1 return 1") == 1
    first.release_scripts()
    assert not scripting._POOL.get((6, 2))
    second = RedisModel((6, 2))
    assert ev(second, "return string.locksim_leak") is None  # a new runtime: nothing leaked


def test_pooled_engines_do_not_change_any_trace():
    """Schedules run in one process (engines reused) hash as in fresh processes' runs."""
    from models.redis import scripting
    from sim.search.explore import schedule
    from sim.world import run

    scenarios = [schedule(lock, ("gc-pause", "delay", "crash"), 3, i)
                 for lock in ("seed", "redisson", "blpop", "lua-atomic") for i in range(6)]
    pooled = [run(s).trace_hash for s in scenarios]
    fresh = []
    for s in scenarios:
        scripting._POOL.clear()
        fresh.append(run(s).trace_hash)
    assert pooled == fresh
