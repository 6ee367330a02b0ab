"""python-redis-lock: ``SET NX EX``, wait in ``BLPOP`` on a signal list, release pushes one token.

Facts modelled (lock-zoo.md section 2): the lock key ``lock:<name>`` holds
the id; ``lock-signal:<name>`` is the wake-up list. Acquire is ``SET NX EX``
(whole seconds). A waiter blocks in ``BLPOP lock-signal:<name> T`` with
``T = expire`` (the library's ``timeout or expire or 0``) on a connection of
its own from the pool, then tries ``SET NX`` again. Release is one script:
not the owner -> return 1; else ``DEL`` the signal, ``LPUSH`` exactly one
token, ``PEXPIRE`` the signal 1000 ms, ``DEL`` the lock, return 0. So each
release wakes exactly one waiter (no herd), an expiry wakes nobody (waiters
sleep out ``T``), a ``BLPOP`` issued more than 1 s after the release finds
no token, and a woken waiter that loses ``SET NX`` to a newcomer has used
the only token. ``auto_renewal`` (off by default, as in the library) extends
every 2/3 of ``expire``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from models.locks.effect import (
    TIMED_OUT,
    Call,
    Cancel,
    Program,
    Record,
    Sleep,
    Spawn,
    Token,
)
from models.locks.held import Held
from models.validation import positive

SIGNAL_EXPIRE_MS = 1000
UNLOCK_SCRIPT = (
    "if redis.call('get', KEYS[1]) ~= ARGV[1] then return 1 end "
    "redis.call('del', KEYS[2]) "
    "redis.call('lpush', KEYS[2], 1) "
    "redis.call('pexpire', KEYS[2], ARGV[2]) "
    "redis.call('del', KEYS[1]) "
    "return 0"
)
EXTEND_SCRIPT = (
    "if redis.call('get', KEYS[1]) ~= ARGV[1] then return 1 "
    "elseif redis.call('ttl', KEYS[1]) < 0 then return 2 "
    "else redis.call('expire', KEYS[1], ARGV[2]) return 0 end"
)


def signal_key(key: str) -> str:
    """``lock:coupon:issue:1`` -> ``lock-signal:coupon:issue:1``, the library's naming."""
    return "lock-signal:" + key.removeprefix("lock:")


@dataclass(frozen=True, slots=True)
class BlpopLock:
    """python-redis-lock's ``Lock(expire=ttl_ms/1000)``; blocking forever."""

    ttl_ms: int = 5000
    auto_renewal: bool = False

    def __post_init__(self) -> None:
        """A nonsense parameter is refused here, not turned into a misleading verdict."""
        positive("ttl_ms", self.ttl_ms)

    @property
    def name(self) -> str:
        return "blpop"

    @property
    def expire_s(self) -> int:
        """The library takes whole seconds (``EX``); at least 1."""
        return max(1, math.ceil(self.ttl_ms / 1000))

    def acquire(self, key: str) -> Program:
        token = yield Token()
        signal = signal_key(key)
        yield Record("invoke", "acquire", key)
        while True:
            yield Record("invoke", "attempt", token)
            reply = yield Call(("SET", key, token, "NX", "EX", self.expire_s))
            if reply is TIMED_OUT:
                yield Record("info", "attempt", "timeout")
            elif reply == b"OK":
                yield Record("ok", "attempt", token)
                break
            else:
                yield Record("fail", "attempt")
            yield Record("invoke", "wait", key)
            popped = yield Call(("BLPOP", signal, self.expire_s), blocking=True)
            if popped is None or popped is TIMED_OUT:
                yield Record("info", "wait", "timeout")
            else:
                yield Record("ok", "wait")
        watchdog = None
        if self.auto_renewal:
            watchdog = yield Spawn("renewal", self.renewal(key, token))
        yield Record("ok", "acquire", (token, None, self.expire_s * 1000))
        return Held(key, token, None, watchdog)

    def renewal(self, key: str, token: str) -> Program:
        """The daemon thread: extend every 2/3 of ``expire``; dies silently when not owner."""
        while True:
            yield Sleep(self.expire_s * 1000 * 2 / 3)
            yield Record("invoke", "extend", token)
            reply = yield Call(("EVAL", EXTEND_SCRIPT, 1, key, token, self.expire_s))
            if reply is TIMED_OUT:
                yield Record("info", "extend", "timeout")
                continue
            ok = 1 if reply == 0 else 0
            yield Record("ok", "extend", (token, ok, self.expire_s * 1000))
            if not ok:
                return

    def release(self, held: Held) -> Program:
        if held.watchdog is not None:
            yield Cancel(held.watchdog)
        yield Record("invoke", "release", held.token)
        reply = yield Call(("EVAL", UNLOCK_SCRIPT, 2, held.key, signal_key(held.key),
                            held.token, SIGNAL_EXPIRE_MS))
        if reply is TIMED_OUT:
            yield Record("info", "release", "timeout")
            return
        # the script answers 0 when it released; the history's convention is 1
        yield Record("ok", "release", (held.token, 1 if reply == 0 else 0))
