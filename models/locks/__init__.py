"""Lock algorithms as effect-yielding generators, and their registry by name.

A lock design is any object with ``name``, ``acquire(key) -> Program``
(returning a ``Held``) and ``release(held) -> Program``; see ``effect``. A
design may also define ``handle(service, user, session) -> Program`` to
serve whole requests itself (``lua-atomic``: no lock at all).

Registered designs, each taking ``ttl_ms`` (default 5000, the report's):

- ``seed``, ``seed-fenced``: the report's pub/sub lock (every waiter wakes).
- ``polling``: redis-py's Lock, ``SET NX`` every 100 ms.
- ``blpop``: python-redis-lock, one waiter woken per release via ``BLPOP``.
- ``redisson``: Redisson's RLock, one waiter per process, waits bounded by PTTL.
- ``lua-atomic``: no lock; one script checks the user and takes the stock.
- ``redlock``: Redlock over N masters (needs ``topology`` ``redlock:N``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from models.locks import blpop, lua_atomic, polling, redisson, redlock, seed
from models.locks.blpop import BlpopLock
from models.locks.held import Held
from models.locks.lua_atomic import LuaAtomic
from models.locks.polling import PollingLock
from models.locks.redisson import RedissonLock
from models.locks.redlock import RedlockLock
from models.locks.seed import SeedLock
from models.redis.scripting import native, trust

# The built-in designs' scripts only read KEYS/ARGV and call Redis: a Lua
# engine that ran them can serve the next run (models/redis/scripting.py).
trust(seed.RELEASE_SCRIPT, seed.WATCHDOG_SCRIPT, polling.RELEASE_SCRIPT,
      blpop.UNLOCK_SCRIPT, blpop.EXTEND_SCRIPT, redisson.ACQUIRE_SCRIPT,
      redisson.RENEW_SCRIPT, redisson.UNLOCK_SCRIPT, redisson.UNDO_SCRIPT, lua_atomic.ISSUE_SCRIPT,
      redlock.RELEASE_SCRIPT)
# The exploration's two hot scripts, run by their Python twins (the same calls and replies).
native(seed.RELEASE_SCRIPT, seed.release_twin, keys=1, args=2)
native(seed.WATCHDOG_SCRIPT, seed.watchdog_twin, keys=1, args=2)


class LockDesign(Protocol):
    """What the simulator and the real driver need from a lock algorithm."""

    @property
    def name(self) -> str: ...

    def acquire(self, key: str) -> Any: ...

    def release(self, held: Held) -> Any: ...


LOCKS: dict[str, Callable[..., LockDesign]] = {
    "seed": lambda **kw: SeedLock(**kw),
    "seed-fenced": lambda **kw: SeedLock(fenced=True, **kw),
    "polling": lambda **kw: PollingLock(**kw),
    "blpop": lambda **kw: BlpopLock(**kw),
    "redisson": lambda **kw: RedissonLock(**kw),
    "lua-atomic": lambda **kw: LuaAtomic(**kw),
    "redlock": lambda **kw: RedlockLock(**kw),
}

WAIT_STRATEGIES = ("seed", "polling", "blpop", "redisson", "lua-atomic")
"""The five designs the sweep compares: how a waiter learns the lock is free."""


class UnknownLock(ValueError):
    """A lock name nobody registered: says which names exist."""


def make_lock(name: str, **params: Any) -> LockDesign:
    """The lock design registered as ``name``, with its parameters."""
    try:
        factory = LOCKS[name]
    except KeyError:
        raise UnknownLock(f"unknown lock {name!r}; known: {', '.join(sorted(LOCKS))}") from None
    return factory(**params)


def register(name: str, factory: Callable[..., LockDesign]) -> None:
    """Plug in a user's own lock design under ``name``."""
    LOCKS[name] = factory


__all__ = [
    "LOCKS", "WAIT_STRATEGIES", "BlpopLock", "Held", "LockDesign", "LuaAtomic", "PollingLock",
    "RedissonLock", "RedlockLock", "SeedLock", "UnknownLock", "make_lock", "register",
]
