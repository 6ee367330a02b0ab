"""redis-py's ``redis.lock.Lock``: ``SET NX PX``, poll every 100 ms, token-checked delete.

Facts modelled (lock-zoo.md section 1): the token is a fresh random value per
lock; a waiter sleeps ``sleep`` (0.1 s by default) between ``SET NX`` tries,
so there are no notifications to lose and the load grows with the number of
waiters; release is a Lua ``GET``/``DEL`` that returns 0 for another token.
redis-py has no automatic renewal. Its default ``timeout=None`` sets no TTL
at all; here ``ttl_ms`` (the report's 5000 ms) is the ``timeout`` so every
design holds a comparable lease.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.locks.effect import TIMED_OUT, Call, Program, Record, Sleep, Token
from models.locks.held import Held
from models.validation import positive

RELEASE_SCRIPT = (
    "local token = redis.call('get', KEYS[1]) "
    "if not token or token ~= ARGV[1] then return 0 end "
    "redis.call('del', KEYS[1]) return 1"
)


@dataclass(frozen=True, slots=True)
class PollingLock:
    """redis-py's Lock with ``timeout=ttl_ms``, ``sleep=poll_ms``, blocking forever."""

    ttl_ms: int = 5000
    poll_ms: float = 100.0

    def __post_init__(self) -> None:
        """A nonsense parameter is refused here, not turned into a misleading verdict."""
        positive("ttl_ms", self.ttl_ms)
        positive("poll_ms", self.poll_ms)

    @property
    def name(self) -> str:
        return "polling"

    def acquire(self, key: str) -> Program:
        token = yield Token()
        yield Record("invoke", "acquire", key)
        while True:
            yield Record("invoke", "attempt", token)
            reply = yield Call(("SET", key, token, "NX", "PX", self.ttl_ms))
            if reply is TIMED_OUT:
                yield Record("info", "attempt", "timeout")
            elif reply == b"OK":
                yield Record("ok", "attempt", token)
                break
            else:
                yield Record("fail", "attempt")
            yield Sleep(self.poll_ms)
        yield Record("ok", "acquire", (token, None, self.ttl_ms))
        return Held(key, token)

    def release(self, held: Held) -> Program:
        yield Record("invoke", "release", held.token)
        reply = yield Call(("EVAL", RELEASE_SCRIPT, 1, held.key, held.token))
        if reply is TIMED_OUT:
            yield Record("info", "release", "timeout")
            return
        yield Record("ok", "release", (held.token, reply if isinstance(reply, int) else 0))
