"""A user's own lock design: redis-py's Lock (SET NX PX, poll every 100 ms), written small.

The built-in ``polling`` design (models/locks/polling.py) is the complete model;
this file shows how to write and register your own. Run it:
``locksim run --import examples.polling_lock --lock my-polling``.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.locks import Held, register
from models.locks.effect import Call, Record, Sleep, Token

RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('del', KEYS[1]) else return 0 end"
)


@dataclass(frozen=True)
class PollingLock:
    """No pub/sub: a waiter sleeps ``poll_ms`` and tries again."""

    ttl_ms: int = 5000
    poll_ms: float = 100.0
    name: str = "my-polling"

    def acquire(self, key: str):
        token = yield Token()  # drawn from the run's seed, never uuid4()
        yield Record("invoke", "acquire", key)
        while True:
            yield Record("invoke", "attempt", token)
            if (yield Call(("SET", key, token, "PX", self.ttl_ms, "NX"))) == b"OK":
                yield Record("ok", "attempt", token)
                break
            yield Record("fail", "attempt")
            yield Sleep(self.poll_ms)
        yield Record("ok", "acquire", (token, None, self.ttl_ms))
        return Held(key, token)

    def release(self, held: Held):
        yield Record("invoke", "release", held.token)
        result = yield Call(("EVAL", RELEASE, 1, held.key, held.token))
        yield Record("ok", "release", (held.token, result))


register("my-polling", lambda **params: PollingLock(**params))
