"""What the corpus designs share: the poll loop, the scripts, the records checkers read.

Each design changes one step of a correct lock (SET NX PX, poll, token-checked
release and renewal), so a verdict on it speaks about that step alone.
"""

from __future__ import annotations

from typing import Any

from models.locks.effect import TIMED_OUT, Call, Program, Record, Sleep

CHECKED_DEL = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('del', KEYS[1]) else return 0 end"
)
CHECKED_PEXPIRE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
)
# aioredlock's one script for acquire and extend: absent or mine -> SET PX (re-creates)
SET_IF_ABSENT_OR_MINE = (
    "local v = redis.call('get', KEYS[1]) "
    "if not v or v == ARGV[1] then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) "
    "return 1 else return 0 end"
)
SCRIPTS = (CHECKED_DEL, CHECKED_PEXPIRE, SET_IF_ABSENT_OR_MINE)


def as_int(reply: Any) -> int:
    return reply if isinstance(reply, int) and not isinstance(reply, bool) else 0


def poll_set(key: str, token: str, ttl_ms: int | None, poll_ms: float) -> Program:
    """``SET key token NX [PX ttl]`` until it succeeds, sleeping ``poll_ms`` between tries."""
    while True:
        yield Record("invoke", "attempt", token)
        argv: tuple[object, ...] = (("SET", key, token, "NX", "PX", ttl_ms) if ttl_ms
                                     else ("SET", key, token, "NX"))
        reply = yield Call(argv)
        if reply is TIMED_OUT:
            yield Record("info", "attempt", "timeout")
        elif reply == b"OK":
            yield Record("ok", "attempt", token)
            return
        else:
            yield Record("fail", "attempt")
        yield Sleep(poll_ms)


def checked_release(key: str, token: str) -> Program:
    """The correct release: a script deletes the key only while it holds ``token``."""
    yield Record("invoke", "release", token)
    reply = yield Call(("EVAL", CHECKED_DEL, 1, key, token))
    if reply is TIMED_OUT:
        yield Record("info", "release", "timeout")
        return
    yield Record("ok", "release", (token, as_int(reply)))


def renew_every(key: str, token: str, ttl_ms: int, period_ms: float, script: str) -> Program:
    """A watchdog: run ``script`` (KEYS[1]=key, ARGV=token, ttl) every period until it says 0."""
    while True:
        yield Sleep(period_ms)
        yield Record("invoke", "extend", token)
        reply = yield Call(("EVAL", script, 1, key, token, ttl_ms))
        if reply is TIMED_OUT:
            yield Record("info", "extend", "timeout")
            continue
        result = as_int(reply)
        yield Record("ok", "extend", (token, result, ttl_ms))
        if result != 1:
            return
