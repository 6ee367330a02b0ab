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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from models.checkers._common import Checker, Verdict, _history
from models.checkers.coupons import (
    check_no_duplicate_issue,
    check_no_over_issue,
    check_stock_conservation,
)
from models.checkers.exclusion import check_mutual_exclusion
from models.checkers.fencing import check_fencing_monotonic
from models.checkers.ground_truth import (
    KeyEffect,
    RequestSpan,
    check_foreign_release,
    check_immortal_lock,
    check_request_answered,
)
from models.checkers.liveness import check_no_lost_wakeup
from models.checkers.ownership import check_owner_only_release
from models.checkers.validity import check_belief_exclusion, check_validity_exclusion
from models.history import History, Op

# -- registry -------------------------------------------------------------------------------------
# The order verdicts are reported and shrunk in: coupon rules first (the harm a
# user sees), then the lock's own promises, then liveness.
# Ground-truth bug classes (foreign-release, immortal-lock) rank before the
# harm they cause downstream, so a shrunk counterexample names the bug itself.
PRIORITY = ("foreign-release", "immortal-lock", "stock-conservation", "no-over-issue",
            "no-duplicate-issue", "fencing-monotonic", "owner-only-release", "mutual-exclusion",
            "request-answered", "no-lost-wakeup", "determinism")


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


def _lock_effects(truth: Truth, prefix: str) -> list[KeyEffect]:
    return [e for e in truth.effects if e.key.startswith(prefix)]


def _foreign_release(_h: History, truth: Truth | None = None,
                     prefix: str = LOCK_PREFIX) -> Verdict:
    """No request's command deletes, overwrites or re-times a live lock another request set.

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


def _request_answered(_h: History, truth: Truth | None = None,
                      grace_ms: float = 20_000.0) -> Verdict:
    """Every request not lost to a crash is answered (granted or refused) by the run's end.

    Only requests that started ``grace_ms`` before the end are judged: one still
    queued behind a fault at the horizon proves nothing.
    """
    if truth is None:
        return _no_evidence("request-answered")
    cut = truth.end_ms - grace_ms
    judged = [r for r in truth.requests if r.end is not None or r.start <= cut]
    return check_request_answered(judged, truth.end_ms)


GROUND_TRUTH = ("foreign-release", "immortal-lock", "request-answered")



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
    "immortal-lock": _immortal_lock,
    "request-answered": _request_answered,
    "belief-exclusion": check_belief_exclusion,
    "validity-exclusion": check_validity_exclusion,
}


def check_all(history: History | Iterable[Op], names: Iterable[str] | None = None,
              params: Mapping[str, Mapping[str, Any]] | None = None,
              truth: Truth | None = None) -> Verdicts:
    """Run the named checkers (all by default) in registry order of ``names``.

    ``params`` maps a checker name to its keyword arguments, e.g.
    ``{"no-lost-wakeup": {"bound_ms": 500}}``. ``truth`` is Redis's own log (pass
    the ``RunResult``); without it the ground-truth checkers say None, no evidence.
    """
    chosen = list(CHECKERS) if names is None else list(names)
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
    return Verdicts(CHECKERS[n](h, truth=truth, **params.get(n, {})) if n in GROUND_TRUTH
                    else CHECKERS[n](h, **params.get(n, {})) for n in chosen)



__all__ = [
    "CHECKERS", "GROUND_TRUTH", "PRIORITY", "Checker", "GroundTruth", "Truth", "Verdict",
    "Verdicts", "check_all",
    "check_fencing_monotonic", "check_mutual_exclusion", "check_no_duplicate_issue",
    "check_no_lost_wakeup", "check_no_over_issue", "check_owner_only_release",
    "check_stock_conservation",
]
