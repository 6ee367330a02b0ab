"""Leases that never end, end too early, or come back to life (lock-zoo.md sections 1-8)."""

from __future__ import annotations

from dataclasses import dataclass

from models.locks.effect import TIMED_OUT, Call, Cancel, Now, Program, Record, Sleep, Spawn, Token
from models.locks.held import Held
from models.locks.zoo._base import (
    SET_IF_ABSENT_OR_MINE,
    as_int,
    checked_release,
    poll_set,
    renew_every,
)


@dataclass(frozen=True, slots=True)
class SetnxPexpire:
    """``SET NX`` (no TTL) then ``PEXPIRE``: a crash between the two leaves an immortal lock.

    redis-py #554 / #818 (SETNX then PEXPIRE). SETNX is emulated by ``SET NX``
    until the model has SETNX.
    """

    ttl_ms: int = 5000
    poll_ms: float = 100.0
    name: str = "zoo-setnx-pexpire"

    def acquire(self, key: str) -> Program:
        token = yield Token()
        yield Record("invoke", "acquire", key)
        yield from poll_set(key, token, None, self.poll_ms)
        yield Call(("PEXPIRE", key, self.ttl_ms))
        yield Record("ok", "acquire", (token, None, self.ttl_ms))
        return Held(key, token)

    def release(self, held: Held) -> Program:
        yield from checked_release(held.key, held.token)


@dataclass(frozen=True, slots=True)
class NoTtl:
    """``SET NX`` with no TTL at all: a holder that crashes holds the lock forever.

    redis-py's Lock with its default ``timeout=None``; python-redis-lock with
    ``expire=None`` (lock-zoo.md sections 1 and 2).
    """

    poll_ms: float = 100.0
    name: str = "zoo-no-ttl"

    def acquire(self, key: str) -> Program:
        token = yield Token()
        yield Record("invoke", "acquire", key)
        yield from poll_set(key, token, None, self.poll_ms)
        yield Record("ok", "acquire", (token, None, None))
        return Held(key, token)

    def release(self, held: Held) -> Program:
        yield from checked_release(held.key, held.token)


BARE_PEXPIRE = "return redis.call('pexpire', KEYS[1], ARGV[2])"  # ARGV[1], the token: unused


@dataclass(frozen=True, slots=True)
class Renewed:
    """A watchdog renewal with the given script; the release is token-checked.

    ``zoo-bare-pexpire``: the renewal is a bare ``PEXPIRE`` with no token
    check (nestjs-simple-redis-lock's ``setTTL``), so a late renewal extends
    the successor's lease. ``zoo-extend-recreates``: the renewal sets the key
    when it is absent (aioredlock's one acquire/extend script;
    redlock-rb#36), so a renewal after expiry silently re-creates the lock.
    """

    script: str
    name: str
    ttl_ms: int = 5000
    poll_ms: float = 100.0

    def acquire(self, key: str) -> Program:
        token = yield Token()
        yield Record("invoke", "acquire", key)
        yield from poll_set(key, token, self.ttl_ms, self.poll_ms)
        dog = yield Spawn("watchdog", renew_every(key, token, self.ttl_ms, self.ttl_ms / 3,
                                                  self.script))
        yield Record("ok", "acquire", (token, None, self.ttl_ms))
        return Held(key, token, None, dog)

    def release(self, held: Held) -> Program:
        if held.watchdog is not None:
            yield Cancel(held.watchdog)
        yield from checked_release(held.key, held.token)


def bare_pexpire(**kw: object) -> Renewed:
    return Renewed(BARE_PEXPIRE, "zoo-bare-pexpire", **kw)  # type: ignore[arg-type]


def extend_recreates(**kw: object) -> Renewed:
    return Renewed(SET_IF_ABSENT_OR_MINE, "zoo-extend-recreates", **kw)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class FixedLease:
    """A short fixed lease and no renewal, while the critical section (or a pause) outlasts it.

    murlock before PR #78 (no watchdog: the lock expired mid-run and a second
    instance took it); pottery/redis-py leave renewal to the caller. The lease
    here is 500 ms, shorter than a GC pause or a slow request.
    """

    ttl_ms: int = 500
    poll_ms: float = 50.0
    name: str = "zoo-fixed-lease"

    def acquire(self, key: str) -> Program:
        token = yield Token()
        yield Record("invoke", "acquire", key)
        yield from poll_set(key, token, self.ttl_ms, self.poll_ms)
        yield Record("ok", "acquire", (token, None, self.ttl_ms))
        return Held(key, token)

    def release(self, held: Held) -> Program:
        yield from checked_release(held.key, held.token)


@dataclass(frozen=True, slots=True)
class LocalClockValidity:
    """Validity and the renewal deadline judged on the local clock, from the first attempt.

    node-redlock: ``expiration = start + ttl - drift`` with ``start`` from
    ``Date.now()`` of the first attempt (#169/#299), and ``extend()`` refuses
    once ``expiration < Date.now()`` (#283). A long wait or a clock jump makes
    the holder skip its renewal while it keeps working; go-redsync#72 and
    aioredlock#46 are the same "valid by my clock" belief.
    """

    ttl_ms: int = 2000  # node-redlock leases are short; a wait or a jump eats them
    poll_ms: float = 100.0
    margin_ms: float = 500.0
    name: str = "zoo-local-clock"

    def acquire(self, key: str) -> Program:
        token = yield Token()
        yield Record("invoke", "acquire", key)
        start = yield Now()  # the first attempt's time, kept through every retry
        yield from poll_set(key, token, self.ttl_ms, self.poll_ms)
        expiration = start + self.ttl_ms - (round(0.01 * self.ttl_ms) + 2)
        dog = yield Spawn("extender", self._extender(key, token, expiration))
        yield Record("ok", "acquire", (token, None, self.ttl_ms))
        return Held(key, token, None, dog)

    def _extender(self, key: str, token: str, expiration: float) -> Program:
        while True:
            now = yield Now()
            yield Sleep(max(0.0, expiration - now - self.margin_ms))
            now = yield Now()
            if expiration < now:
                return  # "Cannot extend an already-expired lock": the holder is not told
            yield Record("invoke", "extend", token)
            reply = yield Call(("EVAL", SET_IF_MINE, 1, key, token, self.ttl_ms))
            if reply is TIMED_OUT:
                yield Record("info", "extend", "timeout")
                continue
            result = as_int(reply)
            yield Record("ok", "extend", (token, result, self.ttl_ms))
            if result != 1:
                return
            expiration = now + self.ttl_ms - (round(0.01 * self.ttl_ms) + 2)

    def release(self, held: Held) -> Program:
        if held.watchdog is not None:
            yield Cancel(held.watchdog)
        yield from checked_release(held.key, held.token)


# node-redlock's extend: for k: if GET ~= v return 0; SET k v PX d (resets the TTL)
SET_IF_MINE = (
    "if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end "
    "redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1"
)
