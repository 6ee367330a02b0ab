"""Releases that can delete a successor's lock (lock-zoo.md section 8)."""

from __future__ import annotations

from dataclasses import dataclass

from models.locks.effect import TIMED_OUT, Call, Program, Record, Token
from models.locks.held import Held
from models.locks.zoo._base import as_int, poll_set


@dataclass(frozen=True, slots=True)
class UnconditionalDel:
    """Release by plain ``DEL``: after a pause outlasts the lease, it deletes the successor's key.

    The Redis docs' own warning (R2), and the shape of python-redis-lock's
    ``reset()`` (an unconditional DEL). Everything else is correct.
    """

    ttl_ms: int = 5000
    poll_ms: float = 100.0
    name: str = "zoo-unconditional-del"

    def acquire(self, key: str) -> Program:
        token = yield Token()
        yield Record("invoke", "acquire", key)
        yield from poll_set(key, token, self.ttl_ms, self.poll_ms)
        yield Record("ok", "acquire", (token, None, self.ttl_ms))
        return Held(key, token)

    def release(self, held: Held) -> Program:
        yield Record("invoke", "release", held.token)
        reply = yield Call(("DEL", held.key))
        if reply is TIMED_OUT:
            yield Record("info", "release", "timeout")
            return
        yield Record("ok", "release", (held.token, as_int(reply)))


@dataclass(frozen=True, slots=True)
class GetCompareDel:
    """``GET``, compare in the application, then ``DEL``: two commands, a gap between them.

    redis-py #1031: the release did WATCH without MULTI, so the key expired
    between the GET and the DEL and the DEL removed the successor's lock.
    Without MULTI in the model the gap is the plain two-command one.
    """

    ttl_ms: int = 5000
    poll_ms: float = 100.0
    name: str = "zoo-get-compare-del"

    def acquire(self, key: str) -> Program:
        return (yield from UnconditionalDel(self.ttl_ms, self.poll_ms).acquire(key))

    def release(self, held: Held) -> Program:
        yield Record("invoke", "release", held.token)
        value = yield Call(("GET", held.key))
        if value is TIMED_OUT:
            yield Record("info", "release", "timeout")
            return
        if value != held.token.encode():
            yield Record("ok", "release", (held.token, 0))
            return
        reply = yield Call(("DEL", held.key))
        if reply is TIMED_OUT:
            yield Record("info", "release", "timeout")
            return
        yield Record("ok", "release", (held.token, as_int(reply)))
