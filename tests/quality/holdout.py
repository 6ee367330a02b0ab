"""A second implementation of every corpus bug class, kept out of the corpus.

The corpus (``models.locks.zoo``) is what the checkers were built against;
these designs were written afterwards, from the public bug list alone
(lock-zoo.md section 8), each in a different shape than its corpus sibling:
another command, another place in the protocol, another way to get the same
thing wrong. ``test_holdout.py`` asks ``check`` to find each for the same
reason as its sibling. Importing this module registers them (``holdout-*``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from models.locks import register
from models.locks.effect import (
    TIMED_OUT,
    Call,
    Cancel,
    Identity,
    Now,
    Program,
    Record,
    Sleep,
    Spawn,
    Token,
)
from models.locks.held import Held
from models.redis.scripting import trust

CHECKED_DEL = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
               "return redis.call('del', KEYS[1]) end return 0")
LUA_DEL = "return redis.call('del', KEYS[1])"  # ARGV[1], the token, is never looked at
LUA_SET_NO_TTL = ("if redis.call('exists', KEYS[1]) == 0 then "
                  "redis.call('set', KEYS[1], ARGV[1]) return 1 end return 0")
LUA_PSETEX_IF_FREE_OR_MINE = (
    "local cur = redis.call('get', KEYS[1]) "
    "if cur == false or cur == ARGV[1] then "
    "redis.call('psetex', KEYS[1], ARGV[2], ARGV[1]) return 1 end return 0")
LUA_CHECKED_PEXPIRE = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
                       "return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0")
trust(CHECKED_DEL, LUA_DEL, LUA_SET_NO_TTL, LUA_PSETEX_IF_FREE_OR_MINE, LUA_CHECKED_PEXPIRE)


def _int(reply: Any) -> int:
    return reply if isinstance(reply, int) and not isinstance(reply, bool) else 0


def _spin(key: str, token: str, argv: tuple[object, ...], ok: Any, wait_ms: float) -> Program:
    """Send ``argv`` until it answers ``ok``; the records a checker reads on the way."""
    while True:
        yield Record("invoke", "attempt", token)
        reply = yield Call(argv)
        if reply == ok:
            yield Record("ok", "attempt", token)
            return
        yield Record("fail" if reply is not TIMED_OUT else "info", "attempt")
        yield Sleep(wait_ms)


def _release(key: str, token: str) -> Program:
    yield Record("invoke", "release", token)
    reply = yield Call(("EVAL", CHECKED_DEL, 1, key, token))
    yield Record("ok", "release", (token, _int(reply)))


@dataclass(frozen=True, slots=True)
class LuaDel:
    """Release by a script that deletes without comparing (class: release deletes a successor's)."""

    ttl_ms: int = 4000
    name: str = "holdout-lua-del"

    def acquire(self, key: str) -> Program:
        token = yield Token()
        yield Record("invoke", "acquire", key)
        yield from _spin(key, token, ("SET", key, token, "PX", self.ttl_ms, "NX"), b"OK", 80.0)
        yield Record("ok", "acquire", (token, None, self.ttl_ms))
        return Held(key, token)

    def release(self, held: Held) -> Program:
        yield Record("invoke", "release", held.token)
        reply = yield Call(("EVAL", LUA_DEL, 1, held.key, held.token))
        yield Record("ok", "release", (held.token, _int(reply)))


@dataclass(frozen=True, slots=True)
class GetdelThenCompare:
    """GETDEL, then compare what came back: the delete happened before the check."""

    ttl_ms: int = 4000
    name: str = "holdout-getdel-compare"

    def acquire(self, key: str) -> Program:
        token = yield Token()
        yield Record("invoke", "acquire", key)
        yield from _spin(key, token, ("SET", key, token, "NX", "PX", self.ttl_ms), b"OK", 80.0)
        yield Record("ok", "acquire", (token, None, self.ttl_ms))
        return Held(key, token)

    def release(self, held: Held) -> Program:
        yield Record("invoke", "release", held.token)
        was = yield Call(("GETDEL", held.key))
        yield Record("ok", "release", (held.token, 1 if was == held.token.encode() else 0))


@dataclass(frozen=True, slots=True)
class SetnxThenExpire:
    """The SETNX command, then EXPIRE in seconds: two commands, a crash between leaves no TTL."""

    ttl_s: int = 4
    name: str = "holdout-setnx-expire"

    def acquire(self, key: str) -> Program:
        token = yield Token()
        yield Record("invoke", "acquire", key)
        yield from _spin(key, token, ("SETNX", key, token), 1, 60.0)
        yield Call(("EXPIRE", key, self.ttl_s))
        yield Record("ok", "acquire", (token, None, self.ttl_s * 1000))
        return Held(key, token)

    def release(self, held: Held) -> Program:
        yield from _release(held.key, held.token)


@dataclass(frozen=True, slots=True)
class ScriptNoTtl:
    """Acquire by a script that sets the key with no expiry (class: no TTL)."""

    name: str = "holdout-script-no-ttl"

    def acquire(self, key: str) -> Program:
        token = yield Token()
        yield Record("invoke", "acquire", key)
        yield from _spin(key, token, ("EVAL", LUA_SET_NO_TTL, 1, key, token), 1, 60.0)
        yield Record("ok", "acquire", (token, None, None))
        return Held(key, token)

    def release(self, held: Held) -> Program:
        yield from _release(held.key, held.token)


def _watchdog(key: str, token: str, every_ms: float, argv: tuple[object, ...]) -> Program:
    while True:
        yield Sleep(every_ms)
        yield Record("invoke", "extend", token)
        reply = yield Call(argv)
        if reply is TIMED_OUT:
            yield Record("info", "extend", "timeout")
            continue
        yield Record("ok", "extend", (token, _int(reply), None))
        if _int(reply) != 1:
            return


@dataclass(frozen=True, slots=True)
class ExpireRenewal:
    """A watchdog renews with EXPIRE (seconds) and never looks at the value: a bare renewal."""

    ttl_s: int = 3
    name: str = "holdout-expire-renewal"

    def acquire(self, key: str) -> Program:
        token = yield Token()
        yield Record("invoke", "acquire", key)
        yield from _spin(key, token, ("SET", key, token, "EX", self.ttl_s, "NX"), b"OK", 80.0)
        dog = yield Spawn("renewer", _watchdog(key, token, self.ttl_s * 1000 / 2,
                                               ("EXPIRE", key, self.ttl_s)))
        yield Record("ok", "acquire", (token, None, self.ttl_s * 1000))
        return Held(key, token, None, dog)

    def release(self, held: Held) -> Program:
        yield Cancel(held.watchdog)
        yield from _release(held.key, held.token)


@dataclass(frozen=True, slots=True)
class ServerNameToken:
    """The token is the server's own name: every request of one process shares it."""

    ttl_ms: int = 3000
    name: str = "holdout-server-token"

    def acquire(self, key: str) -> Program:
        server, _request = yield Identity()
        token = f"owner-{server}"
        yield Record("invoke", "acquire", key)
        yield from _spin(key, token, ("SET", key, token, "NX", "PX", self.ttl_ms), b"OK", 50.0)
        yield Record("ok", "acquire", (token, None, self.ttl_ms))
        return Held(key, token)

    def release(self, held: Held) -> Program:
        yield from _release(held.key, held.token)


@dataclass(frozen=True, slots=True)
class FencePerAttempt:
    """Each attempt draws a fence with INCR and then sends its SET NX: the fence of the
    attempt that wins was drawn before the lock, so a slow SET can win with an old fence."""

    ttl_ms: int = 4000
    name: str = "holdout-fence-per-attempt"

    def acquire(self, key: str) -> Program:
        token = yield Token()
        yield Record("invoke", "acquire", key)
        while True:
            fence = _int((yield Call(("INCR", f"fence:{key}"))))
            yield Record("invoke", "attempt", token)
            reply = yield Call(("SET", key, token, "NX", "PX", self.ttl_ms))
            if reply == b"OK":
                yield Record("ok", "attempt", token)
                break
            yield Record("fail", "attempt")
            yield Sleep(70.0)
        yield Record("ok", "acquire", (token, fence, self.ttl_ms))
        return Held(key, token, fence)

    def release(self, held: Held) -> Program:
        yield from _release(held.key, held.token)


@dataclass(frozen=True, slots=True)
class PsetexResurrects:
    """The renewal script PSETEXes the key when it is free or ours: an expired lease comes back."""

    ttl_ms: int = 3000
    name: str = "holdout-psetex-resurrects"

    def acquire(self, key: str) -> Program:
        token = yield Token()
        yield Record("invoke", "acquire", key)
        yield from _spin(key, token, ("SET", key, token, "NX", "PX", self.ttl_ms), b"OK", 80.0)
        dog = yield Spawn("renewer", _watchdog(
            key, token, self.ttl_ms / 3,
            ("EVAL", LUA_PSETEX_IF_FREE_OR_MINE, 1, key, token, self.ttl_ms)))
        yield Record("ok", "acquire", (token, None, self.ttl_ms))
        return Held(key, token, None, dog)

    def release(self, held: Held) -> Program:
        yield Cancel(held.watchdog)
        yield from _release(held.key, held.token)


@dataclass(frozen=True, slots=True)
class ShortLease:
    """A 300 ms lease, no renewal: any slow database call outlives it."""

    ttl_ms: int = 300
    name: str = "holdout-short-lease"

    def acquire(self, key: str) -> Program:
        token = yield Token()
        yield Record("invoke", "acquire", key)
        yield from _spin(key, token, ("SET", key, token, "NX", "PX", self.ttl_ms), b"OK", 30.0)
        yield Record("ok", "acquire", (token, None, self.ttl_ms))
        return Held(key, token)

    def release(self, held: Held) -> Program:
        yield from _release(held.key, held.token)


@dataclass(frozen=True, slots=True)
class RenewByLocalDeadline:
    """The renewer stops once its local deadline (taken before waiting) has passed,
    while the work goes on: the lease lapses under a live holder."""

    ttl_ms: int = 2000
    name: str = "holdout-local-deadline"

    def acquire(self, key: str) -> Program:
        token = yield Token()
        yield Record("invoke", "acquire", key)
        asked = yield Now()  # before the wait: the deadline is already short
        yield from _spin(key, token, ("SET", key, token, "NX", "PX", self.ttl_ms), b"OK", 80.0)
        dog = yield Spawn("renewer", self._renew(key, token, asked + self.ttl_ms))
        yield Record("ok", "acquire", (token, None, self.ttl_ms))
        return Held(key, token, None, dog)

    def _renew(self, key: str, token: str, deadline: float) -> Program:
        while True:
            yield Sleep(self.ttl_ms / 3)
            now = yield Now()
            if now >= deadline:
                return  # "too late to extend": nobody is told
            yield Record("invoke", "extend", token)
            reply = yield Call(("EVAL", LUA_CHECKED_PEXPIRE, 1, key, token, self.ttl_ms))
            if reply is TIMED_OUT:
                yield Record("info", "extend", "timeout")
                continue
            yield Record("ok", "extend", (token, _int(reply), self.ttl_ms))
            if _int(reply) != 1:
                return
            deadline = now + self.ttl_ms

    def release(self, held: Held) -> Program:
        yield Cancel(held.watchdog)
        yield from _release(held.key, held.token)


@dataclass(frozen=True, slots=True)
class FreshTokenOnTimeout:
    """A client timeout on SET NX: give up on that token and try again at once with a new one."""

    ttl_ms: int = 4000
    timeout_ms: float = 150.0
    name: str = "holdout-fresh-token"
    attempts: list[int] = field(default_factory=list, compare=False, repr=False)

    def acquire(self, key: str) -> Program:
        yield Record("invoke", "acquire", key)
        while True:
            token = yield Token()
            yield Record("invoke", "attempt", token)
            reply = yield Call(("SET", key, token, "NX", "PX", self.ttl_ms), self.timeout_ms)
            if reply == b"OK":
                yield Record("ok", "attempt", token)
                break
            if reply is TIMED_OUT:
                yield Record("info", "attempt", "timeout")
                continue  # at once, with a new token
            yield Record("fail", "attempt")
            yield Sleep(60.0)
        yield Record("ok", "acquire", (token, None, self.ttl_ms))
        return Held(key, token)

    def release(self, held: Held) -> Program:
        yield from _release(held.key, held.token)


HOLDOUT: dict[str, tuple[str, type]] = {
    "holdout-lua-del": ("zoo-unconditional-del", LuaDel),
    "holdout-getdel-compare": ("zoo-get-compare-del", GetdelThenCompare),
    "holdout-setnx-expire": ("zoo-setnx-pexpire", SetnxThenExpire),
    "holdout-script-no-ttl": ("zoo-no-ttl", ScriptNoTtl),
    "holdout-expire-renewal": ("zoo-bare-pexpire", ExpireRenewal),
    "holdout-server-token": ("zoo-shared-token", ServerNameToken),
    "holdout-fence-per-attempt": ("zoo-fence-before", FencePerAttempt),
    "holdout-psetex-resurrects": ("zoo-extend-recreates", PsetexResurrects),
    "holdout-short-lease": ("zoo-fixed-lease", ShortLease),
    "holdout-local-deadline": ("zoo-local-clock", RenewByLocalDeadline),
    "holdout-fresh-token": ("zoo-retry-new-token", FreshTokenOnTimeout),
}
"""name -> (its corpus sibling, whose bug class it implements again; the design)."""


def expected(name: str) -> str:
    """The property that names this design's bug class (its sibling's, from the corpus)."""
    from models.locks.zoo import BUGGY, EXPECTED

    return EXPECTED[BUGGY[HOLDOUT[name][0]][0]]


for _name, (_cls, _design) in HOLDOUT.items():
    register(_name, _design)
