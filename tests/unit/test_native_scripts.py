"""Native twins of trusted scripts (``models.redis.scripting.native``) against their Lua.

Two models get the same commands, one running each twin and one the script
in Lua; after every command their replies, pushed messages, keyspaces (values
and deadlines) and the commands the script ran must be equal. Keys hold the
token, another value, a hash or a list, expire or not; arguments are missing,
extra, not integers; EVAL and EVALSHA; both dialects (their errors differ).
"""

from __future__ import annotations

import hashlib
import random
from contextlib import contextmanager

import pytest

import models.locks  # noqa: F401  (registers the twins)
from models.locks import seed
from models.redis import RedisModel, scripting
from models.redis.scripting import Twin

TWINNED = (seed.RELEASE_SCRIPT, seed.WATCHDOG_SCRIPT)
KEY, CHANNEL = b"lock:k", b"lock:release:k"
TOKENS = (b"tok-a", b"tok-b", b"")
TTLS = (b"5000", b"1", b"0", b"-5", b"abc", b"1.5", b"99999999999999999999", b"")
SUBSCRIBER = 9


def _sha(body: str) -> bytes:
    return hashlib.sha1(body.encode()).hexdigest().encode()


@contextmanager
def _lua_only():
    saved = dict(scripting._NATIVE)
    scripting._NATIVE.clear()
    try:
        yield
    finally:
        scripting._NATIVE.update(saved)


@contextmanager
def _counted(ran: list[bytes]):
    """The twins, each noting in ``ran`` that it (not Lua) ran."""
    saved = dict(scripting._NATIVE)

    def spy(sha, twin):
        def run(keys, args, call):
            ran.append(sha)
            return twin.run(keys, args, call)
        return Twin(run, twin.keys, twin.args)

    scripting._NATIVE.update({sha: spy(sha, t) for sha, t in saved.items()})
    try:
        yield
    finally:
        scripting._NATIVE.clear()
        scripting._NATIVE.update(saved)


def _pair(version):
    models_ = RedisModel(version), RedisModel(version)
    for m in models_:
        m.script_log = []
        m.execute(["SUBSCRIBE", CHANNEL], 0, SUBSCRIBER)
    return models_


def _state(m: RedisModel):
    data = {k: (type(v).__name__, bytes(v) if isinstance(v, bytes) else
                tuple(v.items()) if isinstance(v, dict) else tuple(v))
            for k, v in m.ks.data.items()}
    return data, dict(m.ks.deadlines)


def _both(lua: RedisModel, twin: RedisModel, argv, now, ran):
    with _lua_only():
        a = lua.execute(argv, now, 1)
    with _counted(ran):
        b = twin.execute(argv, now, 1)
    assert (type(a.reply), a.reply) == (type(b.reply), b.reply), argv
    assert a.effects == b.effects, argv
    assert _state(lua) == _state(twin), argv
    assert lua.script_log == twin.script_log, argv
    lua.script_log.clear()
    twin.script_log.clear()
    return a.reply


def _setup(rng: random.Random, now: int):
    """A command that puts KEY into one of its shapes (or none: it stays as it was)."""
    shape = rng.choice(("token", "token", "other", "ttl", "short-ttl", "hash", "list", "del",
                        "keep"))
    token = rng.choice(TOKENS[:2])
    if shape == "token":
        return ["SET", KEY, token]
    if shape == "other":
        return ["SET", KEY, b"someone-else"]
    if shape == "ttl":
        return ["SET", KEY, token, "PX", rng.randint(1, 10_000)]
    if shape == "short-ttl":  # expires before the script runs
        return ["SET", KEY, token, "PX", 1]
    if shape == "hash":
        return ["DEL", KEY] if rng.random() < 0.3 else ["HSET", KEY, b"f", token]
    if shape == "list":
        return ["DEL", KEY] if rng.random() < 0.3 else ["RPUSH", KEY, token]
    if shape == "del":
        return ["DEL", KEY]
    return None


def _script_call(rng: random.Random, body: str):
    keys = [KEY] + ([b"other-key"] if rng.random() < 0.1 else [])
    if rng.random() < 0.08:
        keys = []
    token = rng.choice(TOKENS)
    second = CHANNEL if body == seed.RELEASE_SCRIPT and rng.random() < 0.8 else rng.choice(TTLS)
    args = [token, second] + ([b"extra"] if rng.random() < 0.1 else [])
    args = args[: rng.choice((2, 2, 2, 2, 1, 0, 3))]
    if rng.random() < 0.3:
        return ["EVALSHA", _sha(body), len(keys), *keys, *args]
    return ["EVAL", body, len(keys), *keys, *args]


@pytest.mark.parametrize("version", [(7, 0), (6, 2)], ids=["7.x", "6.2"])
def test_twins_do_what_their_scripts_do(version):
    rng = random.Random(f"twins:{version}")
    lua, twin = _pair(version)
    ran: list[bytes] = []
    now = 1000
    replies = set()
    for body in TWINNED:
        _both(lua, twin, ["SCRIPT", "LOAD", body], now, ran)
    for _ in range(3000):
        now += rng.choice((0, 0, 1, 2, 50))
        setup = _setup(rng, now)
        if setup is not None:
            _both(lua, twin, setup, now, ran)
            now += rng.choice((0, 2))
        body = rng.choice(TWINNED)
        reply = _both(lua, twin, _script_call(rng, body), now, ran)
        text = getattr(reply, "message", None)
        replies.add(repr(reply) if text is None else "WRONGTYPE" if "WRONGTYPE" in text
                    else text.split()[0])
        if rng.random() < 0.02:  # a restart: the cache is gone, EVALSHA says NOSCRIPT
            for m in (lua, twin):
                m.flush()
    # every path was taken: both results, each error shape, the twins themselves
    assert {"0", "1", "WRONGTYPE", "ERR", "NOSCRIPT"} <= replies, replies
    assert set(ran) == {_sha(b) for b in TWINNED}


@pytest.mark.parametrize("version", [(7, 0), (6, 2)], ids=["7.x", "6.2"])
def test_a_twins_error_is_worded_as_the_scripts(version):
    ran: list[bytes] = []
    lua, twin = _pair(version)
    for m in (lua, twin):
        m.execute(["HSET", KEY, "f", "v"], 0, 1)
    wrong = _both(lua, twin, ["EVAL", seed.RELEASE_SCRIPT, 1, KEY, b"t", CHANNEL], 0, ran)
    assert "WRONGTYPE" in wrong.message and _sha(seed.RELEASE_SCRIPT).decode() in wrong.message
    for m in (lua, twin):
        m.execute(["SET", KEY, "t"], 0, 1)
    bad = _both(lua, twin, ["EVAL", seed.WATCHDOG_SCRIPT, 1, KEY, b"t", b"x"], 0, ran)
    assert "not an integer" in bad.message
    assert len(ran) == 2


def test_a_missing_argument_runs_the_script_in_lua():
    ran: list[bytes] = []
    lua, twin = _pair((7, 0))
    for m in (lua, twin):
        m.execute(["SET", KEY, "t"], 0, 1)
    assert _both(lua, twin, ["EVAL", seed.WATCHDOG_SCRIPT, 1, KEY, b"t"], 0, ran) is not None
    assert _both(lua, twin, ["EVAL", seed.RELEASE_SCRIPT, 0, b"t", CHANNEL], 0, ran) is not None
    assert ran == []


def test_only_a_trusted_one_line_script_gets_a_twin():
    with pytest.raises(ValueError, match="trusted"):
        scripting.native("return 1 -- never trusted", lambda k, a, c: 1, keys=0, args=0)
