"""The coupon database: stock, who holds a coupon, and an optional fencing check.

It is not Redis: it has its own latency, and the lock does not protect it by
itself. A fencing database remembers the highest fence it has seen on any
operation and refuses an operation carrying a lower one (Kleppmann's scheme;
reads count too, so a newer holder's read makes an older holder's write stale).
"""

from __future__ import annotations

from models.locks.effect import Storage


class Database:
    """Stock and issued users; the state changes when an operation arrives."""

    def __init__(self, stock: int, fencing: bool) -> None:
        self.stock = stock
        self.fencing = fencing
        self.holders: set[int] = set()
        self.max_fence = -1
        self.rejected = 0

    def apply(self, op: Storage) -> object:
        """Run one operation; a stale fenced one returns None (read) or False (write)."""
        if self.fencing and op.fence is not None:
            if op.fence < self.max_fence:
                self.rejected += 1
                return None if op.op == "read" else False
            self.max_fence = op.fence
        if op.op == "read":
            return (self.stock, op.user in self.holders)
        if op.op == "commit":  # one transaction: the coupon and the new stock
            self.holders.add(op.user)
            self.stock = op.value
            return True
        raise ValueError(f"unknown storage operation {op.op!r}")
