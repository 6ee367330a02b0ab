"""The public quality corpus: one design per bug class real lock code shipped, and twins.

Each design changes one step of a correct lock; its docstring names the bug
class and the library that shipped it (lock-zoo.md section 8). Importing
this module registers them all, so ``locksim check --import models.locks.zoo
--lock zoo-no-ttl`` and the tests see the same designs. Only commands the
Redis model has today are used: SETNX is ``SET NX`` (no PX), MULTI is absent
(the two-command gap is kept).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from models.locks import register
from models.locks.zoo import correct, expiry, release, tokens
from models.locks.zoo._base import SCRIPTS
from models.redis.scripting import trust

BUGGY: dict[str, tuple[str, Callable[..., Any]]] = {
    "zoo-unconditional-del": ("release deletes a successor's lock (plain DEL)",
                              release.UnconditionalDel),
    "zoo-get-compare-del": ("GET-compare-DEL in the application", release.GetCompareDel),
    "zoo-setnx-pexpire": ("SETNX then PEXPIRE (two commands)", expiry.SetnxPexpire),
    "zoo-no-ttl": ("no TTL", expiry.NoTtl),
    "zoo-bare-pexpire": ("renewal by bare PEXPIRE (no token check)", expiry.bare_pexpire),
    "zoo-shared-token": ("one token per process, reused across requests", tokens.SharedToken),
    "zoo-fence-before": ("fence drawn before the lock", tokens.FenceBefore),
    "zoo-extend-recreates": ("extend re-creates an expired key", expiry.extend_recreates),
    "zoo-fixed-lease": ("fixed lease, no renewal, work outlasts it", expiry.FixedLease),
    "zoo-local-clock": ("validity judged on the local clock", expiry.LocalClockValidity),
    "zoo-retry-new-token": ("retry after a timeout draws a new token", tokens.RetryNewToken),
}
"""name -> (bug class, factory)."""

CORRECT: dict[str, tuple[str, Callable[..., Any]]] = {
    "zoo-correct": ("twin: SET NX PX + token-checked release", correct.CorrectLock),
    "zoo-correct-renewed": ("twin: + token-checked renewal",
                            lambda **kw: correct.CorrectLock(renew=True, **kw)),
    "zoo-correct-fenced": ("twin: fence drawn after the lock",
                           lambda **kw: correct.CorrectLock(fenced=True, **kw)),
    "zoo-correct-retry": ("twin: retry keeps its token", correct.CorrectRetryLock),
}

EXPECTED: dict[str, str] = {
    "release deletes a successor's lock (plain DEL)": "foreign-release",
    "GET-compare-DEL in the application": "foreign-release",
    "SETNX then PEXPIRE (two commands)": "immortal-lock",
    "no TTL": "immortal-lock",
    "renewal by bare PEXPIRE (no token check)": "foreign-renewal",
    "one token per process, reused across requests": "foreign-release",
    "fence drawn before the lock": "fence-grant-order",
    "extend re-creates an expired key": "resurrected-lock",
    "fixed lease, no renewal, work outlasts it": "lease-lapsed",
    "validity judged on the local clock": "lease-lapsed",
    "retry after a timeout draws a new token": "orphaned-lock",
}
"""bug class -> the property that names it: what ``check`` must report for any
implementation of the class (the corpus's, a second one, a user's)."""

BUG_CLASS_PROPERTIES = frozenset(EXPECTED.values()) | {"fenced-out-holder"}
"""The properties that name a design's own bug; the rest (overlap, lost updates,
liveness) are harm that a pause longer than any TTL causes to every unfenced lock."""

NO_RENEWAL = frozenset({"zoo-correct", "zoo-correct-fenced", "zoo-correct-retry", "polling"})
"""Correct designs without a renewal: they promise their lease only to work shorter
than its TTL, so ``lease-lapsed`` under work that outlasts it is their class, not a
false alarm (the fix is ``zoo-correct-renewed``'s watchdog)."""


ENVIRONMENT_CAUSES = frozenset({"fence-counter-lost"})
"""Causes that are Redis losing data (a restart without persistence took the fence
counter), not a design's order: true findings about the deployment, never a design's
false alarm."""


def claims(name: str) -> frozenset[str]:
    """The bug-class properties a correct design promises never to violate."""
    return BUG_CLASS_PROPERTIES - ({"lease-lapsed"} if name in NO_RENEWAL else set())


CORPUS = {**BUGGY, **CORRECT}

trust(*SCRIPTS, expiry.BARE_PEXPIRE, expiry.SET_IF_MINE)
for _name, (_cls, _factory) in CORPUS.items():
    register(_name, _factory)

__all__ = [
    "BUGGY",
    "BUG_CLASS_PROPERTIES",
    "CORPUS",
    "CORRECT",
    "ENVIRONMENT_CAUSES",
    "EXPECTED",
    "NO_RENEWAL",
    "claims",
]
