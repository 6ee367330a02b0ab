"""A third implementation of most corpus bug classes, in shapes neither sibling has.

Written in session 9 from the public list (lock-zoo.md section 8) after the corpus and
the holdout: other commands (UNLINK, SET XX, a re-entrant script), other places in the
protocol (a TTL only from the watchdog, one fence per request). ``test_found_as_itself``
asks ``check``'s own search to find each by the property that names its class, and the
twin to raise none it claims. Importing this module registers them (``third-*``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.locks import register
from models.locks.effect import (
    TIMED_OUT,
    Call,
    Cancel,
    Identity,
    Program,
    Record,
    Sleep,
    Spawn,
    Token,
)
from models.locks.held import Held
from models.redis.scripting import trust

CHK_DEL = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
           "return redis.call('unlink', KEYS[1]) end return 0")
CHK_PEXPIRE = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
               "return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0")
REENTRANT = ("local v = redis.call('get', KEYS[1]) "
             "if v == false then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end "
             "if v == ARGV[1] then redis.call('pexpire', KEYS[1], ARGV[2]) return 1 end return 0")
trust(CHK_DEL, CHK_PEXPIRE, REENTRANT)


def _i(r: Any) -> int:
    return r if isinstance(r, int) and not isinstance(r, bool) else 0


def _acq(key: str, token: str, argv: tuple[object, ...], ok: Any, wait: float) -> Program:
    while True:
        yield Record("invoke", "attempt", token)
        r = yield Call(argv)
        if r == ok:
            yield Record("ok", "attempt", token)
            return
        yield Record("info" if r is TIMED_OUT else "fail", "attempt")
        yield Sleep(wait)


def _rel(key: str, token: str) -> Program:
    yield Record("invoke", "release", token)
    r = yield Call(("EVAL", CHK_DEL, 1, key, token))
    yield Record("ok", "release", (token, _i(r)))


def _dog(key: str, token: str, every: float, argv: tuple[object, ...]) -> Program:
    while True:
        yield Sleep(every)
        yield Record("invoke", "extend", token)
        r = yield Call(argv)
        if r is TIMED_OUT:
            yield Record("info", "extend", "timeout")
            continue
        ok = 1 if r in (1, b"OK") else 0
        yield Record("ok", "extend", (token, ok, None))
        if not ok:
            return


@dataclass(frozen=True)
class GetUnlink:
    """GET, compare in the app, then UNLINK (class: get-compare-del)."""
    ttl_ms: int = 3000
    name: str = "third-get-unlink"

    def acquire(self, key: str) -> Program:
        token = yield Token()
        yield Record("invoke", "acquire", key)
        yield from _acq(key, token, ("SET", key, token, "PX", self.ttl_ms, "NX"), b"OK", 90.0)
        yield Record("ok", "acquire", (token, None, self.ttl_ms))
        return Held(key, token)

    def release(self, held: Held) -> Program:
        yield Record("invoke", "release", held.token)
        v = yield Call(("GET", held.key))
        r = 0
        if v == held.token.encode():
            r = yield Call(("UNLINK", held.key))
        yield Record("ok", "release", (held.token, _i(r)))


@dataclass(frozen=True)
class SetXXRenew:
    """The watchdog renews with SET key token XX PX: no owner check (class: bare renewal)."""
    ttl_ms: int = 3000
    name: str = "third-set-xx-renew"

    def acquire(self, key: str) -> Program:
        token = yield Token()
        yield Record("invoke", "acquire", key)
        yield from _acq(key, token, ("SET", key, token, "NX", "PX", self.ttl_ms), b"OK", 90.0)
        dog = yield Spawn("dog", _dog(key, token, self.ttl_ms / 3,
                                      ("SET", key, token, "XX", "PX", self.ttl_ms)))
        yield Record("ok", "acquire", (token, None, self.ttl_ms))
        return Held(key, token, None, dog)

    def release(self, held: Held) -> Program:
        yield Cancel(held.watchdog)
        yield from _rel(held.key, held.token)


@dataclass(frozen=True)
class TtlOnlyByWatchdog:
    """SET NX with no TTL; the watchdog's first PEXPIRE gives it one (class: setnx then pexpire)."""
    ttl_ms: int = 3000
    name: str = "third-ttl-by-watchdog"

    def acquire(self, key: str) -> Program:
        token = yield Token()
        yield Record("invoke", "acquire", key)
        yield from _acq(key, token, ("SET", key, token, "NX"), b"OK", 90.0)
        dog = yield Spawn("dog", _dog(key, token, 200.0,
                                      ("EVAL", CHK_PEXPIRE, 1, key, token, self.ttl_ms)))
        yield Record("ok", "acquire", (token, None, self.ttl_ms))
        return Held(key, token, None, dog)

    def release(self, held: Held) -> Program:
        yield Cancel(held.watchdog)
        yield from _rel(held.key, held.token)


@dataclass(frozen=True)
class ReentrantPerProcess:
    """Re-entrant by process: the token is the process name (class: one token per process)."""
    ttl_ms: int = 3000
    name: str = "third-reentrant-process"

    def acquire(self, key: str) -> Program:
        server, _ = yield Identity()
        token = f"{server}:main"
        yield Record("invoke", "acquire", key)
        yield from _acq(key, token, ("EVAL", REENTRANT, 1, key, token, self.ttl_ms), 1, 70.0)
        yield Record("ok", "acquire", (token, None, self.ttl_ms))
        return Held(key, token)

    def release(self, held: Held) -> Program:
        yield from _rel(held.key, held.token)


@dataclass(frozen=True)
class ExtendBySet:
    """Extend with a plain SET key token PX: it sets the key even when it expired
    (class: extend re-creates)."""
    ttl_ms: int = 2500
    name: str = "third-extend-by-set"

    def acquire(self, key: str) -> Program:
        token = yield Token()
        yield Record("invoke", "acquire", key)
        yield from _acq(key, token, ("SET", key, token, "NX", "PX", self.ttl_ms), b"OK", 90.0)
        dog = yield Spawn("dog", _dog(key, token, self.ttl_ms / 2,
                                      ("SET", key, token, "PX", self.ttl_ms)))
        yield Record("ok", "acquire", (token, None, self.ttl_ms))
        return Held(key, token, None, dog)

    def release(self, held: Held) -> Program:
        yield Cancel(held.watchdog)
        yield from _rel(held.key, held.token)


@dataclass(frozen=True)
class FenceOnce:
    """INCR the fence once when the request starts, then wait for the lock (class: fence before)."""
    ttl_ms: int = 4000
    name: str = "third-fence-once"

    def acquire(self, key: str) -> Program:
        token = yield Token()
        fence = _i((yield Call(("INCR", "fence:" + key))))
        yield Record("invoke", "acquire", key)
        yield from _acq(key, token, ("SET", key, token, "NX", "PX", self.ttl_ms), b"OK", 90.0)
        yield Record("ok", "acquire", (token, fence, self.ttl_ms))
        return Held(key, token, fence)

    def release(self, held: Held) -> Program:
        yield from _rel(held.key, held.token)


@dataclass(frozen=True)
class GiveUpOnTimeout:
    """A client timeout on SET NX: back off, retry with a fresh token (class: retry new token)."""
    ttl_ms: int = 5000
    name: str = "third-backoff-new-token"

    def acquire(self, key: str) -> Program:
        yield Record("invoke", "acquire", key)
        while True:
            token = yield Token()
            yield Record("invoke", "attempt", token)
            r = yield Call(("SET", key, token, "NX", "PX", self.ttl_ms), 200.0)
            if r == b"OK":
                yield Record("ok", "attempt", token)
                break
            yield Record("info" if r is TIMED_OUT else "fail", "attempt")
            yield Sleep(120.0)
        yield Record("ok", "acquire", (token, None, self.ttl_ms))
        return Held(key, token)

    def release(self, held: Held) -> Program:
        yield from _rel(held.key, held.token)


@dataclass(frozen=True)
class Correct3:
    """SET NX PX, checked UNLINK, checked PEXPIRE watchdog: no bug claimed."""
    ttl_ms: int = 3000
    name: str = "third-correct"

    def acquire(self, key: str) -> Program:
        token = yield Token()
        yield Record("invoke", "acquire", key)
        yield from _acq(key, token, ("SET", key, token, "NX", "PX", self.ttl_ms), b"OK", 90.0)
        dog = yield Spawn("dog", _dog(key, token, self.ttl_ms / 3,
                                      ("EVAL", CHK_PEXPIRE, 1, key, token, self.ttl_ms)))
        yield Record("ok", "acquire", (token, None, self.ttl_ms))
        return Held(key, token, None, dog)

    def release(self, held: Held) -> Program:
        yield Cancel(held.watchdog)
        yield from _rel(held.key, held.token)


THIRD: dict[str, tuple[str, type]] = {
    "third-get-unlink": ("foreign-release", GetUnlink),
    # SET XX replaces a successor's value (not only its TTL): Redis's log shows an overwrite
    "third-set-xx-renew": ("foreign-release", SetXXRenew),
    "third-ttl-by-watchdog": ("immortal-lock", TtlOnlyByWatchdog),
    "third-reentrant-process": ("foreign-release", ReentrantPerProcess),
    "third-extend-by-set": ("resurrected-lock", ExtendBySet),
    "third-fence-once": ("fence-grant-order", FenceOnce),
    "third-backoff-new-token": ("orphaned-lock", GiveUpOnTimeout),
}
"""name -> (the property that names its class, the design)."""
CORRECT_THIRD = ("third-correct", Correct3, "zoo-correct-renewed")
"""The twin, and the corpus twin whose promises it shares (a token-checked renewal)."""

for _name, (_prop, _design) in THIRD.items():
    register(_name, _design)
register(CORRECT_THIRD[0], CORRECT_THIRD[1])
