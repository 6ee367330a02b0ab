"""Lock algorithms as effect-yielding generators, and their registry by name.

A lock design is any object with ``name``, ``acquire(key) -> Program``
(returning a ``Held``) and ``release(held) -> Program``; see ``effect``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from models.locks.held import Held
from models.locks.seed import SeedLock


class LockDesign(Protocol):
    """What the simulator and the real driver need from a lock algorithm."""

    @property
    def name(self) -> str: ...

    def acquire(self, key: str) -> Any: ...

    def release(self, held: Held) -> Any: ...


LOCKS: dict[str, Callable[..., LockDesign]] = {
    "seed": lambda **kw: SeedLock(**kw),
    "seed-fenced": lambda **kw: SeedLock(fenced=True, **kw),
}


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


__all__ = ["LOCKS", "Held", "LockDesign", "SeedLock", "UnknownLock", "make_lock", "register"]
