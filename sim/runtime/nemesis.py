"""Which node a fault strikes, and when: one policy for the simulated and the real world.

A fault aimed at ``holder`` strikes the app server whose request most
recently acquired the lock and has not started releasing it; with no holder,
it waits for the next successful acquire. A crashed node's open operations
end as ``info`` (outcome unknown), never silently as failures. The worlds
only apply a resolved fault (``apply(node, fault)``), each its own way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from models.faults import Fault

Apply = Callable[[str, Fault], None]
Record = Callable[[str, str, str, object, str], None]
"""(process, type, f, value, node): how a world records an op."""


class Nemesis:
    """Holders, deferred faults, and the crash bookkeeping of one run."""

    __slots__ = ("_apply", "deferred", "holders")

    def __init__(self, apply: Apply) -> None:
        self._apply = apply
        self.holders: dict[str, str] = {}  # request process -> node, while it holds
        self.deferred: list[Fault] = []

    def target(self, fault: Fault) -> str | None:
        """The node ``fault`` strikes now; None when it aims at a holder and there is none."""
        if fault.node != "holder":
            return fault.node
        if not self.holders:
            return None
        return next(reversed(self.holders.values()))

    def strike(self, fault: Fault) -> None:
        """Apply ``fault`` now, or, aimed at a holder that does not exist yet, at its acquire."""
        node = self.target(fault)
        if node is None:
            self.deferred.append(fault)
            return
        self._apply(node, fault)

    def acquired(self, process: str, node: str) -> None:
        """``process`` on ``node`` holds the lock: deferred faults strike it now."""
        self.holders[process] = node
        if self.deferred:
            pending, self.deferred = self.deferred, []
            for fault in pending:
                self.strike(fault)

    def released(self, process: str) -> None:
        self.holders.pop(process, None)

    def lost(self, process: str, open_fs: Iterable[str], why: str, node: str,
             record: Record) -> None:
        """``process`` died with ``open_fs`` in flight: each ends as info; it holds nothing."""
        for f in list(open_fs):
            record(process, "info", f, why, node)
        self.holders.pop(process, None)
