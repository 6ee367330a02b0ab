"""The field report's lock, exactly: SET NX PX, pub/sub wake-up, Lua watchdog and release.

The report leaves some behaviour unsaid; each gap is a parameter whose
default is the likeliest NestJS/ioredis reading (see the README):

- ``watchdog_period_ms``: how often the watchdog extends the TTL. Default
  TTL/3, the usual choice (Redisson renews at watchdogTimeout/3).
- ``subscribe``: ``"after"`` (default) subscribes only once ``SET NX`` has
  failed, as straightforward code does; a release that lands between the
  failed SET and the subscription is missed (a lost wake-up). ``"before"``
  subscribes first, closing that gap.
- ``wait_timeout_ms``: ``None`` (default) waits for ``released`` forever, as
  the report describes ("retry at once when released arrives, no polling").
  A lock that expires publishes nothing, so with no timeout a waiter sleeps
  until some later release wakes it; a number bounds each wait.
- ``fenced``: ``seed-fenced`` adds a fencing token, ``INCR`` of a counter just
  after the ``SET NX`` succeeded; the storage rejects operations whose token
  is lower than the highest it has seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.locks.effect import (
    TIMED_OUT,
    Call,
    Cancel,
    Program,
    Record,
    Sleep,
    Spawn,
    Subscribe,
    Token,
    Unsubscribe,
    WaitMessage,
)
from models.locks.held import Held
from models.redis.reply import Reply
from models.redis.scripting import Call as RedisCall
from models.validation import ValueProblem, positive

WATCHDOG_SCRIPT = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], "
    "ARGV[2]) else return 0 end"
)
RELEASE_SCRIPT = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]); "
    "redis.call('publish', ARGV[2], 'released'); return 1 else return 0 end"
)


def watchdog_twin(keys: list[bytes], args: list[bytes], call: RedisCall) -> Reply:
    """``WATCHDOG_SCRIPT`` in Python (``models.redis.scripting.native``): GET's nil never
    equals ARGV[1]; PEXPIRE's reply (0 or 1) comes back unchanged through Lua."""
    if call([b"get", keys[0]]) == args[0]:
        return call([b"pexpire", keys[0], args[1]])
    return 0


def release_twin(keys: list[bytes], args: list[bytes], call: RedisCall) -> Reply:
    """``RELEASE_SCRIPT`` in Python, call for call."""
    if call([b"get", keys[0]]) == args[0]:
        call([b"del", keys[0]])
        call([b"publish", args[1], b"released"])
        return 1
    return 0


def release_channel(key: str) -> str:
    """``lock:coupon:issue:1`` -> ``lock:release:coupon:issue:1``, as in the report."""
    return "lock:release:" + key.removeprefix("lock:")


def _int(reply: Any) -> int:
    return reply if isinstance(reply, int) else 0


@dataclass(frozen=True, slots=True)
class SeedLock:
    """The report's pub/sub lock; ``fenced=True`` is ``seed-fenced``."""

    ttl_ms: int = 5000
    watchdog_period_ms: float | None = None  # None: TTL/3
    subscribe: str = "after"
    wait_timeout_ms: float | None = None
    fenced: bool = False

    def __post_init__(self) -> None:
        """A nonsense parameter is refused here, not turned into a misleading verdict."""
        positive("ttl_ms", self.ttl_ms)
        positive("watchdog_period_ms", self.watchdog_period_ms)
        positive("wait_timeout_ms", self.wait_timeout_ms)
        if self.subscribe not in ("after", "before"):
            raise ValueProblem(f"subscribe must be 'after' or 'before', not {self.subscribe!r}")

    @property
    def name(self) -> str:
        return "seed-fenced" if self.fenced else "seed"

    @property
    def period_ms(self) -> float:
        return self.watchdog_period_ms if self.watchdog_period_ms else self.ttl_ms / 3

    def acquire(self, key: str) -> Program:
        """Try ``SET NX``; on failure wait for ``released`` and try again."""
        token = yield Token()
        channel = release_channel(key)
        yield Record("invoke", "acquire", key)
        subscribed = False
        if self.subscribe == "before":
            yield Subscribe(channel)
            subscribed = True
        while True:
            yield Record("invoke", "attempt", token)
            reply = yield Call(("SET", key, token, "PX", self.ttl_ms, "NX"))
            if reply is TIMED_OUT:
                yield Record("info", "attempt", "timeout")
            elif reply == b"OK":
                yield Record("ok", "attempt", token)
                break
            else:
                yield Record("fail", "attempt")
            if not subscribed:
                yield Subscribe(channel)
                subscribed = True
            yield Record("invoke", "wait", key)
            message = yield WaitMessage(channel, self.wait_timeout_ms)
            if message is None:
                yield Record("info", "wait", "timeout")
            else:
                yield Record("ok", "wait")
        if subscribed:
            yield Unsubscribe(channel)
        fence = None
        if self.fenced:
            fence = _int((yield Call(("INCR", f"fence:{key}"))))
        watchdog = None
        if self.period_ms > 0:
            watchdog = yield Spawn("watchdog", self.watchdog(key, token))
        yield Record("ok", "acquire", (token, fence, self.ttl_ms))
        return Held(key, token, fence, watchdog)

    def watchdog(self, key: str, token: str) -> Program:
        """Extend the TTL every period while the token still owns the key."""
        while True:
            yield Sleep(self.period_ms)
            yield Record("invoke", "extend", token)
            reply = yield Call(("EVAL", WATCHDOG_SCRIPT, 1, key, token, self.ttl_ms))
            if reply is TIMED_OUT:
                yield Record("info", "extend", "timeout")
                continue
            result = _int(reply)
            yield Record("ok", "extend", (token, result, self.ttl_ms))
            if result != 1:
                return  # the lock is gone; like the report's code, nobody is told

    def release(self, held: Held) -> Program:
        """Stop the watchdog, then the token-checked delete that publishes ``released``."""
        if held.watchdog is not None:
            yield Cancel(held.watchdog)
        yield Record("invoke", "release", held.token)
        reply = yield Call(
            ("EVAL", RELEASE_SCRIPT, 1, held.key, held.token, release_channel(held.key))
        )
        if reply is TIMED_OUT:
            yield Record("info", "release", "timeout")
            return
        yield Record("ok", "release", (held.token, _int(reply)))
