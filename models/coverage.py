"""Coverage goals ("sometimes" properties): did a run reach the situations bugs live in?

A search that never lets a lease expire under a live holder, never crashes a
process between the commands of its acquire, never renews, cannot find the
bugs that live there, however many schedules pass. Each goal is judged from
what happened, never from a design's own claims alone: the ground-truth key
log (``KeyEffect``: which request's command did what to which key), each
request's life (``RequestSpan``) and the nemesis ops of the history. Pure: a
run's result in, the goals it reached out; the explorer counts them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from models.history import NEMESIS, History, Op

LOCK_PREFIX = "lock:"  # the keys a lock owns (as the ground-truth checkers read them)


class Truth(Protocol):
    """What a run's result offers (a ``RunResult``): the key log and the requests' lives."""

    @property
    def effects(self) -> tuple[Any, ...]: ...
    @property
    def requests(self) -> tuple[Any, ...]: ...


@dataclass(frozen=True, slots=True)
class Goal:
    """One situation worth reaching, and how to see that a run reached it."""

    name: str
    about: str
    reached: Callable[[History, Truth], bool]


def _lock_effects(truth: Truth) -> list[Any]:
    return [e for e in truth.effects if e.key.startswith(LOCK_PREFIX)]


def _spans(truth: Truth) -> dict[str, Any]:
    return {r.request: r for r in truth.requests}


def _alive(span: Any, t: float) -> bool:
    """The request was still being served at ``t``: started, unanswered, not crashed."""
    if span is None or span.start > t:
        return False
    if span.crashed_at is not None and span.crashed_at <= t:
        return False
    return span.end is None or span.end > t


def _lease_expired_holder_alive(_h: History, truth: Truth) -> bool:
    """A lock key expired (Redis's own TTL) while the request that set it still ran."""
    spans = _spans(truth)
    setter: dict[str, str | None] = {}
    for e in _lock_effects(truth):
        if e.effect == "set" and e.request is not None:
            setter[e.key] = e.request
        elif e.effect == "expired":
            holder = setter.pop(e.key, None)
            if holder is not None and _alive(spans.get(holder), e.time):
                return True
        elif e.effect in ("del", "lost"):
            setter.pop(e.key, None)
    return False


def _release_answered_0(h: History, _t: Truth) -> bool:
    """A release came back saying it removed nothing (the lock was gone or not ours)."""
    for op in h.ops:
        if op.f != "release" or op.type not in ("ok", "fail"):
            continue
        value = op.value
        result = value[1] if isinstance(value, tuple) and len(value) >= 2 else value
        if op.type == "fail" or (result in (0, False) and not isinstance(result, float)):
            return True
    return False


def _renewal_ran(h: History, truth: Truth) -> bool:
    """A holder re-timed its lease: an ``extend`` op, or a TTL change on a lock key by
    the request that set it, after its acquire completed (a bare-PEXPIRE renewal too)."""
    if any(op.f == "extend" and op.type == "invoke" for op in h.ops):
        return True
    acquired = {op.process: op.time for op in h.ops if op.f == "acquire" and op.type == "ok"}
    for e in _lock_effects(truth):
        if e.effect == "expire" and e.request is not None:
            t = acquired.get(e.request)
            if t is not None and e.time > t:
                return True
    return False


def _crash_between_acquire_commands(h: History, truth: Truth) -> bool:
    """A crash struck a server while one of its requests was inside an acquire that had
    already changed a lock key (between the acquire's commands, or before its reply)."""
    crashes = [(op.time, op.node) for op in h.ops
               if op.process == NEMESIS and op.f == "crash"]
    if not crashes:
        return False
    opened: dict[str, float] = {}
    # process, node, start, end (an acquire the crash cut short ends "info" at the crash)
    windows: list[tuple[str, str, float, float]] = []
    for op in h.ops:
        if op.f != "acquire":
            continue
        if op.type == "invoke":
            opened[op.process] = op.time
        elif op.process in opened:
            end = op.time + (1e-9 if op.type == "info" else 0.0)
            windows.append((op.process, op.node, opened.pop(op.process), end))
    inf = float("inf")
    nodes = {op.process: op.node for op in h.ops if op.node}
    windows += [(p, nodes.get(p, ""), t, inf) for p, t in opened.items()]
    touched: dict[str, list[float]] = {}
    for e in _lock_effects(truth):
        if e.request is not None and e.effect in ("set", "expire", "count"):
            touched.setdefault(e.request, []).append(e.time)
    for at, node in crashes:
        for process, where, start, end in windows:
            if where == node and start <= at < end and any(
                    start <= t <= at for t in touched.get(process, ())):
                return True
    return False


def _waiter_woken_by_release(_h: History, truth: Truth) -> bool:
    """The lock passed from a release to a request already waiting for it: a request's
    set of a lock key right after another request deleted it, the waiter having
    arrived before that delete (pub/sub, polling or BLPOP, all alike)."""
    spans = _spans(truth)
    last: dict[str, Any] = {}
    for e in _lock_effects(truth):
        previous = last.get(e.key)
        if (e.effect == "set" and e.request is not None and previous is not None
                and previous.effect == "del" and previous.request not in (None, e.request)):
            span = spans.get(e.request)
            if span is not None and span.start < previous.time:
                return True
        if e.effect != "read":
            last[e.key] = e
    return False


GOALS: tuple[Goal, ...] = (
    Goal("lease-expired-holder-alive",
         "a lock key expired while the request holding it was still running",
         _lease_expired_holder_alive),
    Goal("release-answered-0", "a release was told it removed nothing", _release_answered_0),
    Goal("renewal-ran", "a holder renewed its lease (extend, or a TTL change by the setter)",
         _renewal_ran),
    Goal("crash-between-acquire-commands",
         "a crash fell inside an acquire after its first command changed the key",
         _crash_between_acquire_commands),
    Goal("waiter-woken-by-release",
         "a waiting request took the lock right after another request released it",
         _waiter_woken_by_release),
)
NAMES: tuple[str, ...] = tuple(g.name for g in GOALS)


def reached(history: History | Iterable[Op], truth: Truth) -> tuple[str, ...]:
    """The names of the goals this run reached, in ``GOALS`` order."""
    h = history if isinstance(history, History) else History(history)
    return tuple(g.name for g in GOALS if g.reached(h, truth))


def tally(runs: Iterable[tuple[str, ...]]) -> dict[str, int]:
    """Per goal, how many runs reached it (every goal present, zero when never)."""
    counts = dict.fromkeys(NAMES, 0)
    for names in runs:
        for name in names:
            if name in counts:
                counts[name] += 1
    return counts


def unreached(counts: dict[str, int]) -> list[str]:
    """The goals no run reached: each is a warning (the search never went there)."""
    return [name for name in NAMES if counts.get(name, 0) == 0]


__all__ = ["GOALS", "NAMES", "Goal", "reached", "tally", "unreached"]
