"""Ownership: a successful release or extend acted on its own token's lock."""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter

from models.checkers._common import (
    Verdict,
    _history,
    _is_num,
    _ms,
    _ops,
    _short,
    _tuple,
)
from models.history import History, Op, Pair


@dataclass(slots=True)
class _Grant:
    """One token's acquisition of a key, with bounds on when its ``SET`` ran."""

    token: object
    key: object
    process: str
    set_lo: float  # the SET ran no earlier (successful attempt's invoke, else acquire's)
    set_hi: float  # and no later (successful attempt's ok, else acquire's ok)
    ok_op: Op  # the op proving it (acquire ok, else attempt ok; for a maybe: the attempt)
    certain: bool = True  # False: an attempt of unknown outcome that may have set the key
    ttl: int | float | None = None
    renew_hi: float = 0.0  # latest time any grant/extension of the lease may have run
    renew_op: Op | None = None
    end_hi: float = math.inf  # the lease certainly ended by then
    end_op: Op | None = None


_GRANT_ORDER = attrgetter("set_lo", "ok_op.index")
_INVOKED_AT = attrgetter("invoke.index")


def _grants(h: History) -> dict[tuple[str, object], _Grant]:
    """Every (request, token) that set (or, ``certain=False``, may have set) a lock key.

    Keyed by the request as well as the token: a design that reuses one token for
    many requests (the shared-token bug) gives each request a grant of its own, so
    a legitimate release of a later grant is not mistaken for the first one's."""
    grants: dict[tuple[str, object], _Grant] = {}
    maybe: dict[tuple[str, object], _Grant] = {}
    acquire_key: dict[str, object] = {}
    acquire_start: dict[str, float] = {}
    attempt_inv: dict[str, Op] = {}

    def possible(inv: Op, hi: float, op: Op) -> None:
        tok = inv.value
        if tok is not None and (inv.process, tok) not in grants:
            m = maybe.get((inv.process, tok))
            if m is None or hi > m.set_hi:
                maybe[(inv.process, tok)] = _Grant(
                    tok, acquire_key.get(inv.process), inv.process, inv.time,
                    hi, op, certain=False, renew_hi=hi, renew_op=op)

    for op in h:
        f = op.f
        if f == "acquire":
            if op.type == "invoke":
                acquire_key[op.process] = op.value
                acquire_start[op.process] = op.time
            elif op.type == "ok" and (v := _tuple(op.value, 1)) is not None:
                g = grants.get((op.process, v[0]))
                ttl = v[2] if len(v) >= 3 and _is_num(v[2]) else None
                if g is None:
                    start = acquire_start.get(op.process, op.time)
                    g = _Grant(v[0], acquire_key.get(op.process), op.process, start, op.time,
                               op, renew_hi=op.time, renew_op=op)
                    grants[(op.process, v[0])] = g
                g.ok_op, g.ttl = op, ttl
        elif f == "attempt":
            if op.type == "invoke":
                attempt_inv[op.process] = op
                continue
            inv = attempt_inv.pop(op.process, None)
            if (op.type == "ok" and op.value is not None
                    and (op.process, op.value) not in grants):
                lo = inv.time if inv is not None else acquire_start.get(op.process, op.time)
                grants[(op.process, op.value)] = _Grant(
                    op.value, acquire_key.get(op.process), op.process,
                    lo, op.time, op, renew_hi=op.time, renew_op=op)
            elif op.type == "info" and inv is not None:
                possible(inv, op.time, op)
    for inv in attempt_inv.values():  # never completed: may run until the end
        possible(inv, h.end_time, inv)
    for who, m in maybe.items():
        if who not in grants:
            grants[who] = m
    return grants


def _own_grant(grants: dict[tuple[str, object], _Grant], process: str, token: object,
               before: float) -> _Grant | None:
    """The grant a release or extend by ``process`` of ``token`` speaks for: the one of
    its own request (a watchdog ``app1/req0/watchdog`` speaks for ``app1/req0``), else,
    for histories that name tasks otherwise, the latest grant of the token before it."""
    own = grants.get((process, token))
    if own is not None:
        return own
    mine = [g for (who, tok), g in grants.items()
            if tok == token and process.startswith(who + "/")]
    pool = mine or [g for (_who, tok), g in grants.items() if tok == token]
    earlier = [g for g in pool if g.set_lo <= before] or pool
    return max(earlier, key=lambda g: (g.set_lo, g.ok_op.index), default=None)


def _sets(h: History) -> dict[tuple[str, object], list[tuple[float, float]]]:
    """Every window in which a request's successful ``SET`` of a token ran: each successful
    attempt (invoke to ok), and each acquire that recorded none (invoke to ok)."""
    out: dict[tuple[str, object], list[tuple[float, float]]] = defaultdict(list)
    tried: set[str] = set()
    for pair in h.pairs("attempt"):
        if pair.type == "ok" and pair.completion is not None and pair.completion.value is not None:
            out[(pair.process, pair.completion.value)].append(
                (pair.start, pair.completion.time))
            tried.add(pair.process)
    for pair in h.pairs("acquire"):
        v = _tuple(pair.completion.value, 1) if pair.completion is not None else None
        if pair.type == "ok" and v is not None and pair.process not in tried:
            assert pair.completion is not None
            out[(pair.process, v[0])].append((pair.start, pair.completion.time))
    return out


def _result(op: Op | None) -> tuple[object, int] | None:
    """``(token, result)`` of an ok release/extend, None otherwise."""
    if op is None or op.type != "ok":
        return None
    v = _tuple(op.value, 2)
    if v is None or not isinstance(v[1], int):
        return None
    return v[0], v[1]


def check_owner_only_release(history: History | Iterable[Op]) -> Verdict:
    """A release or extend that succeeded (result 1) never acted on another token's lock.

    Exact rule, judged from client-side observations only. A ``release`` or
    ``extend`` of token A that completed ``ok`` with result 1 is a violation
    when some other token B of the same key certainly set the key after A's
    ``SET`` and before the release/extend ran:

        A.set_hi < B.set_lo   and   B.set_hi < R.invoke.time

    where ``set_lo``/``set_hi`` bound when a token's ``SET NX`` ran (the
    successful ``attempt``'s invoke/ok, or the ``acquire``'s when no attempts
    were recorded) and R is the release/extend. B's ``SET NX`` succeeding
    proves the key was absent then, so A's lease had ended (expired, or
    lost to a Redis restart); unless A's request set its key again after B
    (its latest ``SET`` before R is what counts), at R the key was not A's,
    and result 1 means R deleted or extended someone else's lock.

    Why these bounds, not the TTL arithmetic "A's last grant invoke + ttl <
    R.invoke and B acquired before R completed": an extension may run as late
    as its *completion*, so an invoke-based expiry can be too early, and B's
    acquisition may land after R ran if R has only *completed* by then; both
    would raise false alarms. With the bounds above every placement of the
    operations inside their observed windows violates the property, so a
    token-checked release (whose result 1 proves the key was still A's) can
    never be flagged, while a plain ``DEL`` that removes B's key is. Tokens
    with a ``SET`` attempt of unknown outcome are not judged: that late SET
    could have made the key A's again. The first violation by invocation wins.
    """
    name = "owner-only-release"
    h = _history(history)
    grants = {t: g for t, g in _grants(h).items() if g.certain}
    by_key: dict[object, list[_Grant]] = defaultdict(list)
    for g in grants.values():
        by_key[g.key].append(g)
    index: dict[object, tuple[list[float], list[tuple[float, int]]]] = {}
    for key, gs in by_key.items():
        gs.sort(key=_GRANT_ORDER)
        suffix: list[tuple[float, int]] = [(math.inf, -1)] * (len(gs) + 1)
        for i in range(len(gs) - 1, -1, -1):
            suffix[i] = min(suffix[i + 1], (gs[i].set_hi, i))
        index[key] = ([g.set_lo for g in gs], suffix)
    # a token with a SET of unknown outcome might set its key again later: not judged
    resettable = {(p.invoke.process, p.invoke.value) for p in h.pairs("attempt")
                  if p.completion is None or p.completion.type in ("info", None)}
    again = _sets(h)
    judged = 0
    acts = sorted(h.pairs("release") + h.pairs("extend"), key=_INVOKED_AT)
    for p in acts:
        res = _result(p.completion)
        if res is None or res[1] != 1:
            continue
        judged += 1
        a = _own_grant(grants, p.process, res[0], p.start)
        if a is None or (a.process, a.token) in resettable:
            continue
        los, suffix = index[a.key]
        # the token's latest SET before R: a request that took its key again with the same
        # token (Redisson after an undo, a retry loop) owns it again from then on
        last = max((hi for lo, hi in again.get((a.process, a.token), ()) if lo <= p.start),
                   default=a.set_hi)
        k = bisect.bisect_right(los, max(a.set_hi, last))
        b_hi, b_i = suffix[k]
        if b_hi < p.start:
            return _foreign_verdict(name, p, a, by_key[a.key][b_i])
    return Verdict(name, True, f"{judged} successful releases/extensions, each on its own lock")


def _foreign_verdict(name: str, p: Pair, a: _Grant, b: _Grant) -> Verdict:
    assert p.completion is not None
    verb = "release" if p.f == "release" else "extension"
    expiry = (f"; its lease ran out by {_ms(a.set_hi + a.ttl)} ms at the latest unless extended"
              if a.ttl is not None else "")
    story = (
        f"{a.process} took the lock with token {_short(a.token)} by {_ms(a.set_hi)} ms{expiry}.\n"
        f"{b.process} then took it with token {_short(b.token)} "
        f"(SET between {_ms(b.set_lo)} and {_ms(b.set_hi)} ms), so {a.process}'s lease had ended.\n"
        f"{p.process}'s {verb} of {_short(a.token)} ran between {_ms(p.start)} and "
        f"{_ms(p.completion.time)} ms and returned 1: it acted on {b.process}'s lock."
    )
    return Verdict(name, False,
                   f"{p.process}'s {verb} of token {_short(a.token)} hit {b.process}'s lock",
                   _ops(a.ok_op, b.ok_op, p.invoke, p.completion), story,
                   "released-another-lock" if p.f == "release" else "extended-another-lock")
