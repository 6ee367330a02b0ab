"""The keyspace: values with millisecond deadlines.

A key whose deadline has passed (``now > deadline``, Redis's own test) is
invisible to every command. Redis deletes such keys lazily on access and
actively in a background cycle; a client cannot tell the two apart, so the
model deletes on access only. Values: ``bytes`` (string), ``dict`` (hash,
insertion ordered), ``deque`` (list) and ``RedisSet`` (set, insertion ordered).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any, TypeAlias

from models.redis.sets import RedisSet

Value: TypeAlias = bytes | dict[bytes, bytes] | deque[bytes] | RedisSet


class Keyspace:
    """One Redis database: a dict of values and a dict of deadlines (ms)."""

    __slots__ = ("data", "deadlines", "now")

    def __init__(self) -> None:
        self.data: dict[bytes, Value] = {}
        self.deadlines: dict[bytes, int] = {}
        self.now = 0

    def get(self, key: bytes) -> Value | None:
        """The live value of ``key``, expiring it first if its deadline passed."""
        deadline = self.deadlines.get(key)
        if deadline is not None and self.now > deadline:
            del self.data[key]
            del self.deadlines[key]
            return None
        return self.data.get(key)

    def put(self, key: bytes, value: object, keep_ttl: bool = False) -> None:
        """Store a value; like Redis's ``setKey`` this drops the TTL unless told."""
        self.data[key] = value  # type: ignore[assignment]
        if not keep_ttl:
            self.deadlines.pop(key, None)

    def delete(self, key: bytes) -> bool:
        """Remove a live key; True when something was removed."""
        if self.get(key) is None:
            return False
        del self.data[key]
        self.deadlines.pop(key, None)
        return True

    def remove_entries(self, key: bytes, entries: dict[bytes, Any],
                       names: list[bytes]) -> int:
        """HDEL/SREM: drop ``names`` from the hash or set ``entries`` held at ``key``;
        the key goes with its last entry. Returns how many were there."""
        removed = 0
        for name in names:
            if name in entries:
                del entries[name]
                removed += 1
        if not entries:
            self.delete(key)
        return removed

    def deadline(self, key: bytes) -> int | None:
        """Absolute deadline in ms of a live key, None when it has none."""
        return self.deadlines.get(key)

    def expire_at(self, key: bytes, deadline: int) -> None:
        """Set the deadline of an existing key."""
        self.deadlines[key] = deadline

    def persist(self, key: bytes) -> bool:
        return self.deadlines.pop(key, None) is not None

    def clear(self) -> None:
        self.data.clear()
        self.deadlines.clear()

    def live_keys(self) -> Iterator[bytes]:
        """Keys still visible now, in insertion order."""
        for key in list(self.data):
            if self.get(key) is not None:
                yield key
