"""Named properties judged over a recorded history, each with a witness and a story.

Every checker is a pure function ``check_<name>(history, **params) -> Verdict``
over ``models.history`` ops, so the same judges read simulated and real-Redis
runs. A verdict is ``valid`` True (holds), False (violated: ``witness`` holds
the ops that prove it, ``story`` tells it with times and processes) or None
(not applicable, or the history cannot tell).

The judges use only what clients observed. An operation took effect somewhere
between its invocation and its completion, so every rule that says "X
happened before Y" uses X's completion and Y's invocation: a violation is
reported only when no placement of the operations inside their windows could
explain the history. Each checker is O(n log n) in the number of ops.

One module per family of properties (``exclusion``, ``coupons``, ``fencing``,
``ownership``, ``liveness``) over shared helpers (``_common``); this module is
the registry and ``Verdicts``, the composed judgement of one history.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from models.checkers._common import Checker, Verdict, _events_of, _history
from models.checkers.coupons import (
    check_no_duplicate_issue,
    check_no_over_issue,
    check_stock_conservation,
)
from models.checkers.exclusion import check_mutual_exclusion
from models.checkers.fencing import (
    check_fence_grant_order,
    check_fenced_out_holder,
    check_fencing_monotonic,
)
from models.checkers.ground_truth import (
    KeyEffect,
    RequestSpan,
    check_foreign_release,
    check_foreign_renewal,
    check_immortal_lock,
    check_request_answered,
)
from models.checkers.lifetimes import (
    check_lease_lapsed,
    check_no_stuck_waiter,
    check_orphaned_lock,
    check_resurrected_lock,
)
from models.checkers.liveness import check_no_lost_wakeup
from models.checkers.ownership import check_owner_only_release
from models.checkers.tenure import faults_of
from models.checkers.validity import check_belief_exclusion, check_validity_exclusion
from models.history import NEMESIS, History, Op

# -- registry -------------------------------------------------------------------------------------
# The order verdicts are reported and shrunk in. Ground-truth bug classes first
# (what the design did wrong to the key: a foreign delete or renewal, a lock come
# back to life, a lock nobody can free, fences out of grant order, a lease let
# lapse), then the harm they cause downstream (a refused rightful holder, the
# coupon rules, the lock's own records, overlap), then liveness (a waiter stuck
# on a free lock before the unanswered request it leaves behind), so a shrunk
# counterexample names the bug itself.
PRIORITY = ("foreign-release", "foreign-renewal", "resurrected-lock", "immortal-lock",
            "orphaned-lock", "fence-grant-order", "lease-lapsed", "fenced-out-holder",
            "stock-conservation", "no-over-issue", "no-duplicate-issue", "fencing-monotonic",
            "owner-only-release", "validity-exclusion", "mutual-exclusion", "belief-exclusion",
            "no-stuck-waiter", "no-lost-wakeup",
            "request-answered", "determinism")


class Truth(Protocol):
    """What Redis did in a run: a ``RunResult`` is one (``effects``, ``requests``, ``end_ms``)."""

    @property
    def effects(self) -> tuple[KeyEffect, ...]: ...
    @property
    def requests(self) -> tuple[RequestSpan, ...]: ...
    @property
    def end_ms(self) -> float: ...


@dataclass(frozen=True, slots=True)
class GroundTruth:
    """A log built by hand or by another world (the real-Redis one, later)."""

    effects: tuple[KeyEffect, ...]
    requests: tuple[RequestSpan, ...]
    end_ms: float


LOCK_PREFIX = "lock:"  # the keys a lock owns; sessions and queues are not leases


def _no_evidence(name: str) -> Verdict:
    return Verdict(name, None, "no Redis log for this run (no evidence)")


_LOCK_EFFECTS: list[tuple[object, str, tuple[KeyEffect, ...]]] = []  # the last run's, once


def _lock_effects(truth: Truth, prefix: str) -> tuple[KeyEffect, ...]:
    """The log's effects on lock keys: one tuple per run, read by several judges."""
    effects = truth.effects
    if _LOCK_EFFECTS and _LOCK_EFFECTS[0][0] is effects and _LOCK_EFFECTS[0][1] == prefix:
        return _LOCK_EFFECTS[0][2]
    out = tuple(e for e in effects if e.key.startswith(prefix))
    _LOCK_EFFECTS[:] = [(effects, prefix, out)]
    return out


def _foreign_release(_h: History, truth: Truth | None = None,
                     prefix: str = LOCK_PREFIX) -> Verdict:
    """No request's command deletes or overwrites a live lock another request set.

    Judged from what Redis did (the command log), by request, not by token.
    """
    if truth is None:
        return _no_evidence("foreign-release")
    return check_foreign_release(_lock_effects(truth, prefix))


def _immortal_lock(_h: History, truth: Truth | None = None,
                   prefix: str = LOCK_PREFIX) -> Verdict:
    """No lock key without a TTL outlives every request that could release it."""
    if truth is None:
        return _no_evidence("immortal-lock")
    return check_immortal_lock(_lock_effects(truth, prefix), truth.requests, truth.end_ms)


def _request_answered(h: History, truth: Truth | None = None,
                      bound_ms: float = 20_000.0) -> Verdict:
    """Every request not lost to a crash is answered within 20 s of its start or the last heal.

    The later of its start and the last fault's healing starts the bound
    (``bound_ms``), time some request spent in its critical section does not
    count (a slow queue is progress), and the end of the run is the deadline
    at the latest. A request still open at the horizon but inside its bound
    proves nothing.
    """
    if truth is None:
        return _no_evidence("request-answered")
    return check_request_answered(truth.requests, truth.end_ms, faults_of(h).last_heal, bound_ms,
                                  _working(h, truth.end_ms))


def _working(h: History, end: float) -> list[tuple[float, float]]:
    """When some request was inside its critical section (enter to leave, crash or end)."""
    crashes: dict[str, list[float]] = {}
    for op in h.events("crash"):
        if op.process == NEMESIS:
            crashes.setdefault(op.node, []).append(op.time)
    inside: dict[str, Op] = {}
    out: list[tuple[float, float]] = []
    for op in _events_of(h, "enter", "leave"):  # always events, never paired
        if op.f == "enter" and op.type == "ok":
            inside[op.process] = op
        elif op.f == "leave" and op.process in inside:
            out.append((inside.pop(op.process).time, op.time))
    for enter in inside.values():
        stop = min((t for t in crashes.get(enter.node, ()) if t >= enter.time), default=end)
        out.append((enter.time, stop))
    return out


def _foreign_renewal(_h: History, truth: Truth | None = None,
                     prefix: str = LOCK_PREFIX) -> Verdict:
    """No request's renewal re-times another request's live lock (it extended someone else's).

    A bare PEXPIRE, a watchdog that outlived its lease.
    """
    if truth is None:
        return _no_evidence("foreign-renewal")
    return check_foreign_renewal(_lock_effects(truth, prefix))


def _resurrected_lock(h: History, truth: Truth | None = None,
                      prefix: str = LOCK_PREFIX) -> Verdict:
    """No request re-creates its lock, while not asking for it, after its lease ended.

    An extend that re-creates an expired key (aioredlock, redlock-rb#36).
    """
    if truth is None:
        return _no_evidence("resurrected-lock")
    return check_resurrected_lock(h, truth.effects, truth.requests, truth.end_ms, prefix)


def _orphaned_lock(h: History, truth: Truth | None = None,
                   prefix: str = LOCK_PREFIX) -> Verdict:
    """No lock is left holding a value its own request abandoned, blocking all until its TTL.

    A retry that drew a new token after a lost reply; an answer without a release.
    """
    if truth is None:
        return _no_evidence("orphaned-lock")
    return check_orphaned_lock(h, truth.effects, truth.requests, truth.end_ms, prefix)


def _lease_lapsed(h: History, truth: Truth | None = None,
                  prefix: str = LOCK_PREFIX) -> Verdict:
    """No lease expires under a holder at work in its critical section with no fault on it.

    A fixed lease shorter than the work, a renewal skipped; a pause excuses it (K1).
    """
    if truth is None:
        return _no_evidence("lease-lapsed")
    return check_lease_lapsed(h, truth.effects, truth.requests, truth.end_ms, prefix)


def _fence_grant_order(h: History, truth: Truth | None = None,
                       prefix: str = LOCK_PREFIX) -> Verdict:
    """Fences rise in the order Redis granted the lock, whether or not the storage checks them.

    A fence drawn before the lock is held breaks it.
    """
    if truth is None:
        return _no_evidence("fence-grant-order")
    return check_fence_grant_order(h, truth.effects, truth.requests, truth.end_ms, prefix)


def _fenced_out_holder(h: History, truth: Truth | None = None,
                       prefix: str = LOCK_PREFIX) -> Verdict:
    """The storage never refuses the work of a holder whose lease nobody else's overlapped.

    An availability failure of fencing: the rightful holder's work is lost.
    """
    if truth is None:
        return _no_evidence("fenced-out-holder")
    return check_fenced_out_holder(h, truth.effects, truth.requests, truth.end_ms, prefix)


def _no_stuck_waiter(h: History, truth: Truth | None = None, bound_ms: float | None = None,
                     prefix: str = LOCK_PREFIX) -> Verdict:
    """No waiter of any kind waits on a free lock past the longest TTL + 1 s (pauses aside).

    Pub/sub, polling, BLPOP alike: judged from Redis, not from ``wait`` records;
    its own node's pauses, partitions and delays do not count.
    """
    if truth is None:
        return _no_evidence("no-stuck-waiter")
    return check_no_stuck_waiter(h, truth.effects, truth.requests, truth.end_ms, bound_ms,
                                 prefix)


GROUND_TRUTH = ("foreign-release", "foreign-renewal", "resurrected-lock", "immortal-lock",
                "orphaned-lock", "fence-grant-order", "lease-lapsed", "fenced-out-holder",
                "no-stuck-waiter", "request-answered")



class Verdicts(tuple[Verdict, ...]):
    """All verdicts on one history, composed: still a tuple, so old callers keep working."""

    __slots__ = ()

    @property
    def valid(self) -> bool | None:
        """False if any property is violated, else None if any cannot tell, else True."""
        values = [v.valid for v in self]
        if False in values:
            return False
        return None if None in values else True

    @property
    def violated(self) -> tuple[Verdict, ...]:
        """The violated properties, most harmful first (``PRIORITY``)."""
        return tuple(v for v in self.by_priority() if v.valid is False)

    def first(self, prop: str) -> Verdict | None:
        """The verdict on ``prop``, or None when it was not judged."""
        return next((v for v in self if v.property == prop), None)

    def by_priority(self) -> tuple[Verdict, ...]:
        """Verdicts in reporting order: ``PRIORITY`` first, the rest as judged."""
        rank = {p: i for i, p in enumerate(PRIORITY)}
        order = sorted(range(len(self)), key=lambda i: (rank.get(self[i].property, len(rank)), i))
        return tuple(self[i] for i in order)


CHECKERS: dict[str, Checker] = {
    "mutual-exclusion": check_mutual_exclusion,
    "no-over-issue": check_no_over_issue,
    "stock-conservation": check_stock_conservation,
    "no-duplicate-issue": check_no_duplicate_issue,
    "owner-only-release": check_owner_only_release,
    "fencing-monotonic": check_fencing_monotonic,
    "no-lost-wakeup": check_no_lost_wakeup,
    "foreign-release": _foreign_release,
    "foreign-renewal": _foreign_renewal,
    "resurrected-lock": _resurrected_lock,
    "immortal-lock": _immortal_lock,
    "orphaned-lock": _orphaned_lock,
    "fence-grant-order": _fence_grant_order,
    "lease-lapsed": _lease_lapsed,
    "fenced-out-holder": _fenced_out_holder,
    "no-stuck-waiter": _no_stuck_waiter,
    "request-answered": _request_answered,
    "belief-exclusion": check_belief_exclusion,
    "validity-exclusion": check_validity_exclusion,
}


@functools.lru_cache(maxsize=64)
def _plan(chosen: tuple[str, ...]) -> tuple[tuple[str, Checker, bool], ...]:
    """Each chosen checker with whether it reads Redis's log (a search asks the same list
    for every schedule)."""
    return tuple((n, CHECKERS[n], n in GROUND_TRUTH) for n in chosen)


def check_all(history: History | Iterable[Op], names: Iterable[str] | None = None,
              params: Mapping[str, Mapping[str, Any]] | None = None,
              truth: Truth | None = None) -> Verdicts:
    """Run the named checkers (all by default) in registry order of ``names``.

    ``params`` maps a checker name to its keyword arguments, e.g.
    ``{"no-lost-wakeup": {"bound_ms": 500}}``. ``truth`` is Redis's own log (pass
    the ``RunResult``); without it the ground-truth checkers say None, no evidence.
    """
    chosen = tuple(CHECKERS) if names is None else tuple(names)
    unknown = [n for n in chosen if n not in CHECKERS]
    if unknown:
        raise ValueError(f"unknown checker{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(map(repr, unknown))}; valid: {', '.join(CHECKERS)}")
    params = params or {}
    bad = [n for n in params if n not in CHECKERS]
    if bad:
        raise ValueError(f"parameters for unknown checker(s) {', '.join(map(repr, bad))}; "
                         f"valid: {', '.join(CHECKERS)}")
    h = _history(history)
    done: dict[str, Verdict] = {}
    for n, fn, grounded in _plan(chosen):
        given = params.get(n)
        if given:
            done[n] = fn(h, truth=truth, **given) if grounded else fn(h, **given)
        elif n == "belief-exclusion" and "mutual-exclusion" in chosen:
            continue  # the same judgement under its Redlock name: derived below, once
        else:
            done[n] = fn(h, truth=truth) if grounded else fn(h)
    if "belief-exclusion" in chosen and "belief-exclusion" not in done:
        v = done.get("mutual-exclusion") or check_mutual_exclusion(h)
        done["belief-exclusion"] = Verdict("belief-exclusion", v.valid, v.summary, v.witness,
                                           v.story, cause=v.cause)
    return Verdicts(done[n] for n in chosen)



__all__ = [
    "CHECKERS", "GROUND_TRUTH", "PRIORITY", "Checker", "GroundTruth", "Truth", "Verdict",
    "Verdicts", "check_all",
    "check_fencing_monotonic", "check_mutual_exclusion", "check_no_duplicate_issue",
    "check_no_lost_wakeup", "check_no_over_issue", "check_owner_only_release",
    "check_stock_conservation",
]
