"""Leases as Redis kept them, and the faults that touched each node: what ground truth joins.

``leases`` replays the command log (``KeyEffect``) into one ``Lease`` per
stretch during which a key held one request's value: who set it, when, how
it ended (expired, released by its request, deleted or overwritten by
another, lost in a restart) and which commands renewed it. Whether the key
was live when a command ran is taken from the log's own ``before`` value,
never recomputed from TTLs, so the judges agree with Redis to the last
millisecond. ``Faults`` reads the history's nemesis ops: the windows in which
a pause, partition, delay, clock jump or crash touched a node; a fault on
Redis touches every node.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import attrgetter

from models.checkers.ground_truth import KeyEffect, RequestSpan
from models.checkers.liveness import _Paused
from models.history import NEMESIS, History, Op

OPEN = "open"  # still live at the horizon
_START = attrgetter("start")
_FREEZING = ("pause", "partition", "delay")  # what ``Faults.frozen`` counts by default


@dataclass(slots=True)
class Lease:
    """One request's value on one key, from the command that set it to the moment it ended."""

    node: str
    key: str
    request: str | None
    value: bytes
    start: float
    deadline: float  # when its TTL runs out as last set (inf: no TTL)
    set_by: KeyEffect
    end: float = math.inf
    ended: str = OPEN  # "expired" | "released" | "deleted" | "overwritten" | "lost" | OPEN
    end_by: KeyEffect | None = None  # the effect that ended it (None: expired unobserved)
    renewals: list[KeyEffect] = field(default_factory=list)  # TTL changes by any request
    refused: list[KeyEffect] = field(default_factory=list)  # SETs refused by this lease


_LAST: list[tuple[object, float, list[Lease]]] = []  # one run's leases, read by every judge


def leases(effects: Iterable[KeyEffect], horizon: float) -> list[Lease]:
    """Every lease on every non-counter key, in start order (see the module docstring).

    A run's log is a tuple: its leases are computed once for all the judges
    that read it (they only read them).
    """
    if isinstance(effects, tuple):
        if _LAST and _LAST[0][0] is effects and _LAST[0][1] == horizon:
            return _LAST[0][2]
        out = _leases(effects, horizon)
        _LAST[:] = [(effects, horizon, out)]
        return out
    return _leases(effects, horizon)


def _leases(effects: Iterable[KeyEffect], horizon: float) -> list[Lease]:
    cur: dict[tuple[str, str], Lease] = {}
    counters: set[tuple[str, str]] = set()
    done: list[Lease] = []

    def close(slot: tuple[str, str], t: float, how: str, by: KeyEffect | None) -> None:
        lease = cur.pop(slot)
        lease.end, lease.ended, lease.end_by = t, how, by
        done.append(lease)

    for e in sorted(effects, key=attrgetter("time")):
        slot = (e.node, e.key)
        if e.effect == "count" or slot in counters:
            counters.add(slot)
            cur.pop(slot, None)
            continue
        lease = cur.get(slot)
        if lease is not None and e.effect not in ("expired", "lost") and e.before != lease.value:
            # Redis saw the key absent (or changed unlogged): the lease ran out before e
            close(slot, min(lease.deadline, e.time), "expired", None)
            lease = None
        if e.effect == "refused":
            if lease is not None:
                lease.refused.append(e)
            continue
        if e.effect == "read":
            continue
        if e.after is None:
            if lease is not None:
                how = ("expired" if e.effect == "expired" else "lost" if e.effect == "lost"
                       else "released" if e.request == lease.request else "deleted")
                close(slot, e.time, how, e)
            continue
        ttl = math.inf if e.ttl_ms is None else e.ttl_ms
        if lease is not None and lease.request == e.request:
            if e.after != lease.value:
                lease.value = e.after  # a re-entrant count in a hash: the same holder
            if e.effect == "expire" or lease.deadline != e.time + ttl:
                lease.renewals.append(e)
            lease.deadline = e.time + ttl
            continue
        if lease is not None and e.effect == "expire":
            lease.renewals.append(e)  # another request re-timed it: foreign-renewal's case
            lease.deadline = e.time + ttl
            continue
        if lease is not None:
            close(slot, e.time, "overwritten", e)
        cur[slot] = Lease(e.node, e.key, e.request, e.after, e.time, e.time + ttl, e)
    for slot, lease in list(cur.items()):
        if lease.deadline <= horizon:
            close(slot, lease.deadline, "expired", None)
        else:
            close(slot, horizon, OPEN, None)
    return sorted(done, key=attrgetter("start", "key"))


def request_of(process: str, requests: Iterable[str]) -> str | None:
    """The request a history process acts for: itself, or the parent of a spawned task."""
    known = requests if isinstance(requests, set | frozenset | dict) else set(requests)
    p = process
    while p:
        if p in known:
            return p
        if "/" not in p:
            return None
        p = p.rsplit("/", 1)[0]
    return None


@dataclass(frozen=True, slots=True)
class Window:
    """A fault's reach on one node: from ``start`` to ``end`` (inf: for the rest of the run)."""

    start: float
    end: float
    kind: str
    op: Op


def faults_of(h: History) -> Faults:
    """``Faults(h)``, built once per history for all the judges that read it."""
    if _FAULTS and _FAULTS[0][0] is h:
        return _FAULTS[0][1]
    f = Faults(h)
    _FAULTS[:] = [(h, f)]
    return f


class Faults:
    """Which pause, partition, delay, slowing clock or crash touched which node, and when.

    Only these kinds excuse a holder or a waiter: a slow storage call or a
    slow critical section is the design's to survive, not a fault on its node;
    so is a clock jump (timers and TTLs do not read the wall clock) or a drift
    that speeds the node's timers up.
    """

    KINDS = ("pause", "partition", "delay", "clock", "crash")

    def __init__(self, h: History) -> None:
        self._reach: dict[str, tuple[Window, ...]] = {}  # windows(node), once per node
        self._frozen: dict[tuple[str, bool], _Paused] = {}  # frozen(node) with default kinds
        self.by_node: dict[str, list[Window]] = defaultdict(list)
        open_: dict[tuple[str, str], list[Op]] = defaultdict(list)
        closer = {"resume": "pause", "heal": "partition", "restart": "crash"}
        jumps: list[float] = []
        for op in h.events():
            if op.process != NEMESIS or not op.node:
                continue
            if op.f in ("pause", "partition") and isinstance(op.value, int | float):
                # its own length: a "resume" may end a shorter pause while a longer one runs
                self.by_node[op.node].append(Window(op.time, op.time + float(op.value), op.f, op))
            elif op.f in ("pause", "partition", "crash"):
                open_[op.node, op.f].append(op)
            elif op.f in closer:
                for start in open_.pop((op.node, closer[op.f]), []):
                    self.by_node[op.node].append(Window(start.time, op.time, start.f, start))
            elif op.f == "delay":
                v = op.value
                extra, dur = (v if isinstance(v, tuple) and len(v) == 2 else (0.0, math.inf))
                self.by_node[op.node].append(
                    Window(op.time, op.time + float(dur) + float(extra), "delay", op))
            elif op.f == "clock":
                # a jump moves only what the node reads as the time: Redis's TTLs and the
                # node's timers do not see it, so only a design that trusts it suffers
                # (the local-clock class). A negative drift slows its timers: that excuses.
                v = op.value
                drift = v[1] if isinstance(v, tuple) and len(v) == 2 else -1.0
                if isinstance(drift, int | float) and drift < 0:
                    self.by_node[op.node].append(Window(op.time, math.inf, "clock", op))
                else:
                    jumps.append(op.time)
        for (node, f), ops in open_.items():
            for start in ops:
                d = start.value
                end = (start.time + float(d) if f != "crash" and isinstance(d, int | float)
                       else math.inf)
                self.by_node[node].append(Window(start.time, end, f, start))
        for ws in self.by_node.values():
            ws.sort(key=_START)
        # while a Redis node is dead, until it restarts or Sentinel promotes another
        failovers = sorted(op.time for op in h.events("failover") if op.process == NEMESIS)
        self.outages = [(w.start, min([w.end, *(t for t in failovers if t >= w.start)]))
                        for node, ws in self.by_node.items() if node.startswith("redis")
                        for w in ws if w.kind == "crash"]
        # a clock jump stays and a crash with no restart leaves the node dead: both are
        # over (nothing more will heal) the moment they strike
        self.last_heal = max([w.end if w.end != math.inf else w.start
                              for ws in self.by_node.values() for w in ws] + jumps, default=0.0)

    def windows(self, node: str) -> list[Window]:
        """Faults that reach ``node``: its own and Redis's (a copy: the judges ask often)."""
        return list(self._windows(node))

    def _windows(self, node: str) -> tuple[Window, ...]:
        ws = self._reach.get(node)
        if ws is None:
            ws = self._reach[node] = tuple(sorted(
                self.by_node.get(node, []) + self.by_node.get("redis", []), key=_START))
        return ws

    def touching(self, node: str, start: float, end: float) -> Window | None:
        """The first fault that reached ``node`` during [start, end], if any."""
        for w in self._windows(node):
            if w.start <= end and w.end >= start:
                return w
        return None

    def frozen(self, node: str, kinds: tuple[str, ...] = _FREEZING,
               held: Iterable[tuple[float, float]] = (), outages: bool = False) -> _Paused:
        """The time ``node`` could not act or hear Redis: its pauses, partitions, delays.

        ``held``: (sent, answered) of calls; one sent inside such a window is
        held by it until answered, however long the network takes to recover.
        ``outages``: also while a Redis node was dead (until it restarted or another
        was promoted): nobody could have been granted the lock then.
        """
        plain = kinds == _FREEZING and not held
        if plain and (node, outages) in self._frozen:
            return self._frozen[node, outages]  # read-only: the judges only ask it how long
        spans = [(w.start, w.end) for w in self._windows(node) if w.kind in kinds]
        if outages:
            spans += self.outages
        if held:
            inside = _Paused(spans)
            spans += [(s, e) for s, e in held if e > s and inside.within(s - 1e-9, s + 1e-9) > 0]
        paused = _Paused(spans)
        if plain:
            self._frozen[node, outages] = paused
        return paused


_FAULTS: list[tuple[History, Faults]] = []


_SPANS: list[tuple[object, dict[str, RequestSpan]]] = []  # one run's, read by four judges


def spans_by_request(requests: Iterable[RequestSpan]) -> dict[str, RequestSpan]:
    """Each request's span by its name; a run's (a tuple) built once for the judges
    that read it (they only read it)."""
    if isinstance(requests, tuple):
        if _SPANS and _SPANS[0][0] is requests:
            return _SPANS[0][1]
        out = {r.request: r for r in requests}
        _SPANS[:] = [(requests, out)]
        return out
    return {r.request: r for r in requests}


__all__ = ["OPEN", "Faults", "Lease", "Window", "faults_of", "leases", "request_of",
           "spans_by_request"]
