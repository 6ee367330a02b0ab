"""What of a Redis node's keyspace survives a crash: its persistence policy.

- ``none``: nothing; a restart starts empty.
- ``aof-always``: every write is fsynced before its reply: everything survives.
- ``aof-everysec``: the AOF is fsynced once a second of the node's clock, at
  the instants k * 1000 ms; a crash loses the writes since the last one.
- ``rdb:MS``: a snapshot at the instants k * MS of the node's clock; a crash
  loses the writes since the last one.

The periodic policies are modelled lazily and exactly: the image at an fsync
instant is the keyspace as the last command before that instant left it, so
the image is taken just before the first command (or the crash) that comes
after an instant. No timer events, no per-write log. Keys keep their absolute
deadlines, so TTLs run on across the downtime and a key expired by the time
the node is back is gone.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from models.redis.keyspace import Keyspace
from models.redis.sets import RedisSet

AOF_EVERYSEC_MS = 1000.0


class PersistenceError(ValueError):
    """A persistence spelling that means nothing: one line saying why."""


@dataclass(frozen=True, slots=True)
class Persistence:
    """A node's policy: ``mode`` none/always/periodic, ``period_ms`` for periodic."""

    spec: str = "none"
    mode: str = "none"
    period_ms: float = 0.0

    @staticmethod
    def parse(text: str) -> Persistence:
        if text in ("none", ""):
            return Persistence("none", "none")
        if text == "aof-always":
            return Persistence(text, "always")
        if text == "aof-everysec":
            return Persistence(text, "periodic", AOF_EVERYSEC_MS)
        head, _, ms = text.partition(":")
        if head == "rdb":
            try:
                period = float(ms)
            except ValueError:
                period = math.nan
            if not math.isfinite(period) or period <= 0:
                raise PersistenceError(f"rdb:MS needs a positive snapshot period, not {ms!r}")
            return Persistence(text, "periodic", period)
        raise PersistenceError(f"unknown persistence {text!r}; known: none, aof-always, "
                               "aof-everysec, rdb:MS")


Image = tuple[dict[bytes, object], dict[bytes, int]]


def copy_value(value: object) -> object:
    """A value later commands cannot change (hashes, lists and sets change in place)."""
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, deque):
        return deque(value)
    if isinstance(value, RedisSet):
        return value.copy()
    return value  # bytes: immutable


def snapshot(ks: Keyspace) -> Image:
    """A copy of the keyspace that later commands cannot change."""
    return {k: copy_value(v) for k, v in ks.data.items()}, dict(ks.deadlines)


def restore(ks: Keyspace, image: Image) -> None:
    """Load ``image`` into ``ks`` (a copy: the disk keeps its own)."""
    ks.clear()
    for key, value in image[0].items():
        ks.data[key] = copy_value(value)  # type: ignore[assignment]
    ks.deadlines.update(image[1])


EMPTY: Image = ({}, {})


class Durable:
    """The node's disk: what a crash at a given node-clock instant keeps."""

    __slots__ = ("image", "next_sync", "policy")

    def __init__(self, policy: Persistence) -> None:
        self.policy = policy
        self.image: Image = EMPTY
        self.next_sync = policy.period_ms

    def before_command(self, ks: Keyspace, local_ms: float) -> None:
        """Take the fsync image if an fsync instant passed since the last command."""
        if self.policy.mode == "periodic" and local_ms >= self.next_sync:
            self.image = snapshot(ks)
            period = self.policy.period_ms
            self.next_sync = (math.floor(local_ms / period) + 1) * period

    def crash_image(self, ks: Keyspace, local_ms: float) -> Image:
        """What the disk holds when the node dies at ``local_ms``."""
        mode = self.policy.mode
        if mode == "always":
            return snapshot(ks)
        if mode == "periodic":
            self.before_command(ks, local_ms)
            return self.image
        return EMPTY
