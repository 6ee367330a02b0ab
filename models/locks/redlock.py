"""Redlock over N independent masters, as pottery and node-redlock implement it.

One attempt: note the local clock, send ``SET key token NX PX ttl`` to every
master at once (``Parallel``), wait for every reply or ``request_timeout_ms``;
the lock is held when a quorum (N/2 + 1) said OK and the validity left,
``ttl - elapsed - drift`` with ``drift = ttl * drift_factor + 2`` ms, is
positive. Otherwise the token-checked delete goes to every master (a partial
acquisition must not block others until it expires) and the client retries
after ``retry_delay_ms`` plus a uniform jitter of +/- ``retry_jitter_ms``,
drawn from the run's seed (through a ``Token``, the one seeded draw a design
can make).

The acquire reports ``(token, None, validity_ms)``: the lease the client
believes it holds, measured on its own clock from the end of the attempt.
A holder that respects it stops by then (``models.checkers.validity``).
Release is the token-checked delete on every master, in parallel; it reports
``(token, 1 if a quorum of keys was still ours else 0, keys deleted)``.

``request_timeout_ms``: node-redlock waits for every reply (ioredis has no
command timeout); pottery's thread pool likewise. With a partition that
holds messages until it heals, that wait is unbounded, so the model bounds
one attempt's wait (default 50 ms, a socket timeout); a reply still missing
then counts as a failure on that master.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from models.locks.effect import TIMED_OUT, Call, Now, Parallel, Program, Record, Sleep, Token
from models.locks.held import Held
from models.validation import ValueProblem, positive

RELEASE_SCRIPT = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
    "else return 0 end"
)


def unit_of(token: str) -> float:
    """A number in [0, 1) from a seeded token (blake2b: the same in every process)."""
    digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


@dataclass(frozen=True, slots=True)
class RedlockLock:
    """Redlock over ``masters`` nodes named ``redis1`` .. ``redisN``."""

    ttl_ms: int = 5000
    masters: int = 3
    drift_factor: float = 0.01
    retry_delay_ms: float = 200.0
    retry_jitter_ms: float = 200.0
    request_timeout_ms: float = 50.0

    def __post_init__(self) -> None:
        positive("ttl_ms", self.ttl_ms)
        positive("request_timeout_ms", self.request_timeout_ms)
        if not isinstance(self.masters, int) or not 1 <= self.masters <= 15:
            raise ValueProblem(f"masters must be 1..15, not {self.masters!r}")
        if not 0 <= self.drift_factor < 1:
            raise ValueProblem(f"drift_factor must be in [0, 1), not {self.drift_factor!r}")
        if self.retry_delay_ms < 0 or not 0 <= self.retry_jitter_ms <= max(self.retry_delay_ms,
                                                                           0.0) + 1e-9:
            raise ValueProblem("retry_delay_ms must be >= 0 and retry_jitter_ms in "
                               "0..retry_delay_ms")

    @property
    def name(self) -> str:
        return "redlock"

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(f"redis{i + 1}" for i in range(self.masters))

    @property
    def quorum(self) -> int:
        return self.masters // 2 + 1

    @property
    def drift_ms(self) -> float:
        return self.ttl_ms * self.drift_factor + 2

    def acquire(self, key: str) -> Program:
        token = yield Token()
        yield Record("invoke", "acquire", key)
        while True:
            yield Record("invoke", "attempt", token)
            start = yield Now()
            replies = yield Parallel(tuple(
                Call(("SET", key, token, "NX", "PX", self.ttl_ms), node=n) for n in self.nodes),
                self.request_timeout_ms)
            elapsed = (yield Now()) - start
            granted = sum(1 for r in replies if r == b"OK" and r is not TIMED_OUT)
            validity = self.ttl_ms - elapsed - self.drift_ms
            if granted >= self.quorum and validity > 0:
                yield Record("ok", "attempt", token)
                break
            yield Record("fail", "attempt", (granted, round(validity, 3)))
            yield from self._unlock(key, token)
            draw = unit_of((yield Token()))
            yield Sleep(max(0.0, self.retry_delay_ms + (2 * draw - 1) * self.retry_jitter_ms))
        yield Record("ok", "acquire", (token, None, round(validity, 6)))
        return Held(key, token)

    def _unlock(self, key: str, token: str) -> Program:
        return (yield Parallel(tuple(Call(("EVAL", RELEASE_SCRIPT, 1, key, token), node=n)
                                     for n in self.nodes), self.request_timeout_ms))

    def release(self, held: Held) -> Program:
        yield Record("invoke", "release", held.token)
        replies = yield from self._unlock(held.key, held.token)
        freed = sum(1 for r in replies if r == 1)
        # 1 as a single-key release says it: the lock (a quorum of its keys) was still ours
        yield Record("ok", "release", (held.token, int(freed >= self.quorum), freed))
