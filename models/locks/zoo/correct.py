"""The correct twins: what each bug class should have been. They must raise no alarm.

- ``zoo-correct``: ``SET NX PX``, poll, token-checked release (redis-py's Lock
  with a timeout, lock-zoo.md section 1).
- ``zoo-correct-renewed``: the same plus a token-checked watchdog renewal
  every TTL/3 (the seed design's and Redisson's shape), the twin of the bare
  ``PEXPIRE``, re-creating extend and fixed-lease designs.
- ``zoo-correct-fenced``: the fence drawn with ``INCR`` *after* the lock is
  held, the twin of ``zoo-fence-before``.
- ``zoo-correct-retry``: a timed-out ``SET`` is retried with the *same*
  token, and a ``SET NX`` refused because the key already holds our token
  counts as ours (the twin of ``zoo-retry-new-token``).
"""

from __future__ import annotations

from dataclasses import dataclass

from models.locks.effect import TIMED_OUT, Call, Cancel, Program, Record, Sleep, Spawn, Token
from models.locks.held import Held
from models.locks.zoo._base import CHECKED_PEXPIRE, checked_release, poll_set, renew_every


def _draw_fence(counter: str) -> Program:
    """INCR until Redis answers a number: a lost reply is no fence (as_int would say 0,
    below every fence drawn before: found by check as fence-grant-order). A second
    INCR only skips a number, which keeps fences rising."""
    while True:
        reply = yield Call(("INCR", counter))
        if isinstance(reply, int) and not isinstance(reply, bool):
            return reply


@dataclass(frozen=True, slots=True)
class CorrectLock:
    """SET NX PX, poll, token-checked release; ``renew``: a token-checked watchdog too."""

    ttl_ms: int = 5000
    poll_ms: float = 100.0
    renew: bool = False
    fenced: bool = False

    @property
    def name(self) -> str:
        return ("zoo-correct-fenced" if self.fenced
                else "zoo-correct-renewed" if self.renew else "zoo-correct")

    def acquire(self, key: str) -> Program:
        token = yield Token()
        yield Record("invoke", "acquire", key)
        yield from poll_set(key, token, self.ttl_ms, self.poll_ms)
        fence = (yield from _draw_fence(f"fence:{key}")) if self.fenced else None
        dog = None
        if self.renew:
            dog = yield Spawn("watchdog", renew_every(key, token, self.ttl_ms, self.ttl_ms / 3,
                                                      CHECKED_PEXPIRE))
        yield Record("ok", "acquire", (token, fence, self.ttl_ms))
        return Held(key, token, fence, dog)

    def release(self, held: Held) -> Program:
        if held.watchdog is not None:
            yield Cancel(held.watchdog)
        yield from checked_release(held.key, held.token)


@dataclass(frozen=True, slots=True)
class CorrectRetryLock:
    """A ``SET`` with a client timeout, retried with the same token; GET settles a refusal."""

    ttl_ms: int = 5000
    poll_ms: float = 100.0
    timeout_ms: float = 200.0
    name: str = "zoo-correct-retry"

    def acquire(self, key: str) -> Program:
        token = yield Token()
        yield Record("invoke", "acquire", key)
        while True:
            yield Record("invoke", "attempt", token)
            reply = yield Call(("SET", key, token, "NX", "PX", self.ttl_ms), self.timeout_ms)
            if reply == b"OK":
                yield Record("ok", "attempt", token)
                break
            if reply is TIMED_OUT:
                yield Record("info", "attempt", "timeout")
            else:
                mine = yield Call(("GET", key))  # did our timed-out SET land after all?
                if mine == token.encode():
                    yield Record("ok", "attempt", token)
                    break
                yield Record("fail", "attempt")
            yield Sleep(self.poll_ms)
        yield Record("ok", "acquire", (token, None, self.ttl_ms))
        return Held(key, token)

    def release(self, held: Held) -> Program:
        yield from checked_release(held.key, held.token)
