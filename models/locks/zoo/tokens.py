"""Tokens and fences drawn at the wrong moment or shared (lock-zoo.md sections 6 and 8)."""

from __future__ import annotations

from dataclasses import dataclass, field

from models.locks.effect import TIMED_OUT, Call, Identity, Program, Record, Sleep, Token
from models.locks.held import Held
from models.locks.zoo._base import as_int, checked_release, poll_set


@dataclass(frozen=True, slots=True)
class SharedToken:
    """One token for every request the lock object serves: the check in release proves nothing.

    nestjs-simple-redis-lock draws one uuid per process; redis-py #416 (one
    Lock instance shared across threads) and aredis#119 (a thread-local token
    shared by coroutines) are the same bug. As the real bug: one token per
    server process (``Identity``), so one request's late release deletes the
    lock a request of the same server took since.
    """

    ttl_ms: int = 5000
    poll_ms: float = 100.0
    name: str = "zoo-shared-token"
    drawn: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def acquire(self, key: str) -> Program:
        server, _request = yield Identity()
        slot = f"{server}|{key}"
        if slot not in self.drawn:
            self.drawn[slot] = yield Token()
        token = self.drawn[slot]
        yield Record("invoke", "acquire", key)
        yield from poll_set(key, token, self.ttl_ms, self.poll_ms)
        yield Record("ok", "acquire", (token, None, self.ttl_ms))
        return Held(key, token)

    def release(self, held: Held) -> Program:
        yield from checked_release(held.key, held.token)


@dataclass(frozen=True, slots=True)
class FenceBefore:
    """The fence is ``INCR``-ed before the lock is taken: a later holder can carry a lower fence.

    Redisson's RFencedLock returns an INCR the application must check (#5044);
    drawing it before the ``SET NX`` succeeds (while waiting) breaks the
    order fences promise: two waiters draw 1 and 2, the one with 2 wins first.
    """

    ttl_ms: int = 5000
    poll_ms: float = 100.0
    name: str = "zoo-fence-before"

    def acquire(self, key: str) -> Program:
        token = yield Token()
        yield Record("invoke", "acquire", key)
        fence = as_int((yield Call(("INCR", f"fence:{key}"))))
        yield from poll_set(key, token, self.ttl_ms, self.poll_ms)
        yield Record("ok", "acquire", (token, fence, self.ttl_ms))
        return Held(key, token, fence)

    def release(self, held: Held) -> Program:
        yield from checked_release(held.key, held.token)


@dataclass(frozen=True, slots=True)
class RetryNewToken:
    """A ``SET NX`` that timed out is retried with a *new* token; the first may have landed.

    ioredis replays unanswered commands after a reconnect and node-redlock
    draws a fresh value per attempt (lock-zoo.md sections 3, 5; frontier.md);
    pottery keeps a uuid per attempt. The landed SET holds a token nobody
    will release: every request, the author included, waits out its TTL.
    """

    ttl_ms: int = 5000
    poll_ms: float = 100.0
    timeout_ms: float = 200.0
    name: str = "zoo-retry-new-token"

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
            else:
                yield Record("fail", "attempt")
            yield Sleep(self.poll_ms)
        yield Record("ok", "acquire", (token, None, self.ttl_ms))
        return Held(key, token)

    def release(self, held: Held) -> Program:
        yield from checked_release(held.key, held.token)
