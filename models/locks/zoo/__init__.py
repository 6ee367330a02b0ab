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

CORPUS = {**BUGGY, **CORRECT}

trust(*SCRIPTS, expiry.BARE_PEXPIRE, expiry.SET_IF_MINE)
for _name, (_cls, _factory) in CORPUS.items():
    register(_name, _factory)

__all__ = ["BUGGY", "CORPUS", "CORRECT"]
