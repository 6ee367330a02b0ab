"""Which node a fault strikes, and when: one policy for the simulated and the real world.

A fault aimed at ``holder`` strikes the app server whose request most
recently acquired the lock and has not started releasing it; with no holder,
it waits for the next successful acquire. A crashed node's open operations
end as ``info`` (outcome unknown), never silently as failures. The worlds
only apply a resolved fault (``apply(node, fault)``), each its own way.

A fault with a ``Trigger`` is armed at its time and then waits for its
protocol event, which the world reports as it happens: a Redis command
about to leave or just sent (``sent``), a storage operation about to leave
(``stored``), an acquire, a release. A delay, partition or lost reply
catches the event's command itself (it strikes before the command leaves);
a crash, pause or slow storage strikes right after it is sent, before the
request's next command. ``lease=F`` needs the world's ``Lease`` (Redis's TTL
of the holder's key): only the simulator gives one; the real cluster refuses
triggered faults before they get here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from models.faults import Delay, Fault, LostReply, Partition, Reconnect, Trigger

Apply = Callable[[str, Fault], None]
Record = Callable[[str, str, str, object, str], None]
"""(process, type, f, value, node): how a world records an op."""

FIRST_COMMAND = Trigger("cmd", n=1)
"""A lost reply or a reconnect with no trigger: the target's first Redis command after its
time."""

LEASE_RECHECKS = 64
"""How often a lease trigger follows renewals before it strikes anyway."""


class Lease(Protocol):
    """What a ``lease=F`` trigger needs from its world."""

    @property
    def now(self) -> float: ...

    def at(self, when: float, fn: Callable[..., Any], *args: Any) -> None: ...

    def lease(self, process: str) -> tuple[float, float] | None:
        """The deadline and full TTL of the key ``process`` last set or renewed (None: no TTL)."""


def catches(fault: Fault) -> bool:
    """True: it strikes before the event's command leaves (the command is in the fault)."""
    return isinstance(fault, Delay | Partition | LostReply | Reconnect)


class _Watch:
    """One armed fault waiting for its event."""

    __slots__ = ("count", "fault", "node", "process", "trigger")

    def __init__(self, fault: Fault, trigger: Trigger, node: str | None,
                 process: str | None) -> None:
        self.fault = fault
        self.trigger = trigger
        self.node = node  # None: any node (aimed at the holder)
        self.process = process  # cmd: the request whose commands are counted, once bound
        self.count = 0


class Nemesis:
    """Holders, deferred faults, armed triggers, and the crash bookkeeping of one run."""

    __slots__ = ("_apply", "_world", "deferred", "holders", "releasing", "watches")

    def __init__(self, apply: Apply, world: Lease | None = None) -> None:
        self._apply = apply
        self._world = world
        self.holders: dict[str, str] = {}  # request process -> node, while it holds
        self.releasing: dict[str, str] = {}  # request process -> node, release not answered
        self.deferred: list[Fault] = []
        self.watches: list[_Watch] = []  # empty unless a triggered fault is armed

    def target(self, fault: Fault) -> str | None:
        """The node ``fault`` strikes now; None when it aims at a holder and there is none."""
        if fault.node != "holder":
            return fault.node
        if not self.holders:
            return None
        return next(reversed(self.holders.values()))

    def strike(self, fault: Fault) -> None:
        """Apply ``fault`` now, or, aimed at a holder that does not exist yet, at its acquire;
        a triggered fault is armed instead."""
        trigger = getattr(fault, "trigger", None)
        if trigger is None and isinstance(fault, LostReply | Reconnect):
            trigger = FIRST_COMMAND
        if trigger is not None:
            self.arm(fault, trigger)
            return
        node = self.target(fault)
        if node is None:
            self.deferred.append(fault)
            return
        self._apply(node, fault)

    # -- triggers ------------------------------------------------------------------------
    def arm(self, fault: Fault, trigger: Trigger) -> None:
        """Start waiting for ``trigger``: from now on its event makes ``fault`` strike."""
        only = None if fault.node == "holder" else fault.node
        process = None
        if trigger.event == "cmd" and only is None and self.holders:
            process = next(reversed(self.holders))  # the holder's own commands
        watch = _Watch(fault, trigger, only, process)
        if trigger.event == "lease":
            for held, node in reversed(self.holders.items()):
                if only is None or node == only:
                    self._lease(watch, held, 0)
                    return
        self.watches.append(watch)

    def _fire(self, watch: _Watch, node: str, fired: list[Fault] | None = None) -> None:
        if watch in self.watches:
            self.watches.remove(watch)
        if fired is not None:
            fired.append(watch.fault)
        self._apply(node, watch.fault)

    def sent(self, process: str | None, node: str, before: bool) -> list[Fault]:
        """A Redis command of ``process`` on ``node`` is about to leave (``before``) or has
        just left: the faults that struck at it."""
        fired: list[Fault] = []
        if process is None:
            return fired
        for watch in list(self.watches):
            if watch.node is not None and watch.node != node:
                continue
            event = watch.trigger.event
            if event == "cmd":
                if watch.process is None:
                    if not before:
                        continue
                    watch.process = process  # the first request to act after the time
                if watch.process != process:
                    continue
                if before:
                    watch.count += 1
                if watch.count == watch.trigger.n and before == catches(watch.fault):
                    self._fire(watch, node, fired)
            elif event in ("renewal", "release"):
                among = self.holders if event == "renewal" else self.releasing
                if process in among and before == catches(watch.fault):
                    self._fire(watch, node, fired)
        return fired

    def stored(self, process: str | None, node: str, op: str) -> list[Fault]:
        """A storage operation ``op`` of ``process`` is about to leave: the faults that struck."""
        fired: list[Fault] = []
        if op != "commit" or process not in self.holders:
            return fired
        for watch in list(self.watches):
            if watch.trigger.event == "write" and (watch.node is None or watch.node == node):
                self._fire(watch, node, fired)
        return fired

    def _lease(self, watch: _Watch, process: str, rechecks: int) -> None:
        """Strike when ``process``'s key has the trigger's fraction of its TTL left."""
        world = self._world
        node = self.holders.get(process)
        if node is None:  # it let go before the lease ran down: the next holder's lease
            for held, where in reversed(self.holders.items()):
                if watch.node is None or where == watch.node:
                    self._lease(watch, held, rechecks + 1)
                    return
            self.watches.append(watch)
            return
        got = world.lease(process) if world is not None else None
        if got is None or world is None:  # no TTL runs down: strike now
            self._fire(watch, node)
            return
        deadline, total = got
        when = deadline - watch.trigger.fraction * total
        if when <= world.now + 1e-9 or rechecks >= LEASE_RECHECKS:
            self._fire(watch, node)
            return
        world.at(when, self._lease, watch, process, rechecks + 1)

    # -- holders ---------------------------------------------------------------------------
    def acquired(self, process: str, node: str) -> None:
        """``process`` on ``node`` holds the lock: deferred faults strike it now."""
        self.holders[process] = node
        if self.deferred:
            pending, self.deferred = self.deferred, []
            for fault in pending:
                self.strike(fault)
        if self.watches:
            for watch in list(self.watches):
                if (watch.trigger.event == "lease"
                        and (watch.node is None or watch.node == node)):
                    self.watches.remove(watch)
                    self._lease(watch, process, 0)

    def released(self, process: str) -> None:
        node = self.holders.pop(process, None)
        if node is not None:
            self.releasing[process] = node

    def release_answered(self, process: str) -> None:
        self.releasing.pop(process, None)

    def lost(self, process: str, open_fs: Iterable[str], why: str, node: str,
             record: Record) -> None:
        """``process`` died with ``open_fs`` in flight: each ends as info; it holds nothing."""
        for f in list(open_fs):
            record(process, "info", f, why, node)
        self.holders.pop(process, None)
        self.releasing.pop(process, None)
