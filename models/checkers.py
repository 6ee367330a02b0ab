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
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from models.history import NEMESIS, History, Op, Pair, format_ms

_ms = format_ms


@dataclass(frozen=True, slots=True)
class Verdict:
    """One property's judgement of one history."""

    property: str
    valid: bool | None
    summary: str
    witness: tuple[Op, ...] = ()
    story: str = ""


Checker = Callable[..., Verdict]


def _history(h: History | Iterable[Op]) -> History:
    return h if isinstance(h, History) else History(h)


def _tuple(value: object, n: int) -> tuple[Any, ...] | None:
    """``value`` if it is a tuple of at least ``n`` items (lenient about extra fields)."""
    return value if isinstance(value, tuple) and len(value) >= n else None


def _ops(*ops: Op | None) -> tuple[Op, ...]:
    """Witness ops in history order, without duplicates or Nones."""
    return tuple(sorted({o.index: o for o in ops if o is not None}.values(),
                        key=lambda o: o.index))


def _short(token: object) -> str:
    text = str(token)
    return text if len(text) <= 12 else text[:8] + "…"


def _initial_stock(h: History) -> Op | None:
    for op in h.events("init"):
        if op.type == "ok" and isinstance(op.value, int) and not isinstance(op.value, bool):
            return op
    return None


# -- mutual exclusion ----------------------------------------------------------------
def check_mutual_exclusion(history: History | Iterable[Op]) -> Verdict:
    """No two processes inside their critical sections at once.

    A section runs from its ``enter`` to the same process's next ``leave``. A
    section never left ends at the first ``crash`` of its node after the enter
    (a crashed process runs no more code), else at the history's last op.
    Two sections overlap when each one starts strictly before the other ends:
    sections that only touch (one leaves at the very instant the other
    enters) do not, since equal times are no proof of an order. Reports the
    overlap whose later ``enter`` comes first.
    """
    name = "mutual-exclusion"
    h = _history(history)
    crashes: dict[str, list[Op]] = defaultdict(list)
    for op in h.events():
        if op.process == NEMESIS and op.f == "crash" and op.node:
            crashes[op.node].append(op)
    crash_at = {node: [c.index for c in ops] for node, ops in crashes.items()}
    inside: dict[str, Op] = {}
    sections: list[tuple[float, int, float, Op, Op | None, Op | None]] = []
    for op in h.events():
        if op.f == "enter" and op.type == "ok":
            if op.process in inside:  # re-entered without leaving: close the first at once
                first = inside.pop(op.process)
                sections.append((first.time, first.index, op.time, first, None, None))
            inside[op.process] = op
        elif op.f == "leave" and op.type == "ok" and op.process in inside:
            enter = inside.pop(op.process)
            sections.append((enter.time, enter.index, op.time, enter, op, None))
    for enter in inside.values():
        end, crash = h.end_time, None
        k = bisect.bisect_left(crash_at.get(enter.node, []), enter.index)
        if k < len(crash_at.get(enter.node, [])):
            crash = crashes[enter.node][k]
            end = crash.time
        sections.append((enter.time, enter.index, end, enter, None, crash))
    # by start, shorter first on ties: then "starts before the other ends" alone proves
    # an overlap (equal times are no proof of order, so instants that touch never count)
    sections.sort(key=lambda s: (s[0], s[2], s[1]))
    # sweep by start; keep the longest-reaching section and the longest of another process
    best: tuple[float, int] | None = None  # (end, section number)
    other: tuple[float, int] | None = None
    for i, (start, _idx, end, enter, _leave, _crash) in enumerate(sections):
        for cand in (best, other):
            if cand is not None and sections[cand[1]][3].process != enter.process \
                    and start < cand[0]:
                a = sections[cand[1]]
                return _overlap_verdict(name, h, a, sections[i], len(sections))
        mine = (end, i)
        if best is None or end > best[0]:
            if best is not None and sections[best[1]][3].process != enter.process:
                other = best
            best = mine
        elif enter.process != sections[best[1]][3].process and (other is None or end > other[0]):
            other = mine
    return Verdict(name, True, f"{len(sections)} critical sections, none overlapping")


def _overlap_verdict(name: str, h: History, a: tuple[Any, ...], b: tuple[Any, ...],
                     n: int) -> Verdict:
    a_start, _, a_end, a_enter, a_leave, a_crash = a
    b_enter = b[3]
    if a_leave is not None:
        a_out = f"left at {_ms(a_end)} ms"
    elif a_crash is not None:
        a_out = f"never left (its node {a_crash.node} crashed at {_ms(a_end)} ms)"
    else:
        a_out = f"never left (still inside at the history's end, {_ms(a_end)} ms)"
    story = (
        f"{a_enter.process} entered at {_ms(a_start)} ms and {a_out}; "
        f"{b_enter.process} entered at {_ms(b_enter.time)} ms while {a_enter.process} "
        f"was still inside.\n"
        f"tokens: {a_enter.process} {_short(_first(a_enter.value))}, "
        f"{b_enter.process} {_short(_first(b_enter.value))}; "
        f"overlap of at least {_ms(min(a_end, b[2]) - b_enter.time)} ms."
    )
    return Verdict(
        name, False,
        f"{a_enter.process} and {b_enter.process} were both inside at {_ms(b_enter.time)} ms",
        _ops(a_enter, a_leave, a_crash, b_enter), story)


def _first(value: object) -> object:
    return value[0] if isinstance(value, tuple) and value else value


# -- coupons -----------------------------------------------------------------------------
def _issue_user(p: Pair) -> object:
    v = p.invoke.value
    return v[0] if isinstance(v, tuple) and v else v


def check_no_over_issue(history: History | Iterable[Op]) -> Verdict:
    """Accepted (``ok``) issues never exceed the initial stock of the ``init`` op."""
    name = "no-over-issue"
    h = _history(history)
    init = _initial_stock(h)
    if init is None:
        return Verdict(name, None, "no init op: initial stock unknown")
    stock = init.value
    assert isinstance(stock, int)
    issued = sorted((p for p in h.pairs("issue") if p.ok),
                    key=lambda p: p.completion.index if p.completion else 0)
    if len(issued) <= stock:
        return Verdict(name, True, f"{len(issued)} issued of a stock of {stock}")
    extra = issued[stock]
    assert extra.completion is not None
    story = (f"the stock was {stock} at {_ms(init.time)} ms but {len(issued)} issues were "
             f"accepted; issue number {stock + 1}: {extra.process} for user "
             f"{_issue_user(extra)!r}, accepted at {_ms(extra.completion.time)} ms.")
    return Verdict(name, False, f"{len(issued)} coupons issued from a stock of {stock}",
                   _ops(init, extra.invoke, extra.completion), story)


def check_no_duplicate_issue(history: History | Iterable[Op]) -> Verdict:
    """At most one accepted issue per user (the user is the issue invocation's value[0])."""
    name = "no-duplicate-issue"
    h = _history(history)
    first: dict[object, Pair] = {}
    issued = sorted((p for p in h.pairs("issue") if p.ok),
                    key=lambda p: p.completion.index if p.completion else 0)
    for p in issued:
        user = _issue_user(p)
        if user in first:
            a = first[user]
            assert a.completion is not None and p.completion is not None
            story = (f"user {user!r} got a coupon from {a.process} (accepted at "
                     f"{_ms(a.completion.time)} ms) and another from {p.process} "
                     f"(invoked at {_ms(p.start)} ms, accepted at {_ms(p.completion.time)} ms).")
            return Verdict(name, False, f"user {user!r} was issued two coupons",
                           _ops(a.invoke, a.completion, p.invoke, p.completion), story)
        first[user] = p
    return Verdict(name, True, f"{len(issued)} issues to {len(first)} distinct users")


def check_stock_conservation(history: History | Iterable[Op]) -> Verdict:
    """Accepted issues + final stock == initial stock.

    The final stock is the value of the last accepted ``stock`` write (by
    completion order; any accepted write that no other one certainly followed
    may have been last), or the initial stock if none. A write's new stock is
    its invocation's value, else its completion's (an atomic decrement on the
    server learns it from the reply). Writes and issues whose
    outcome is unknown (``info`` or never completed) may or may not have
    landed: the property is violated only when no choice of their outcomes
    balances the books. On a violation the story names its cause when the
    history shows one: a lost update (two accepted read-modify-writes from
    reads of the same stock value) or issues never followed by a stock write.
    """
    name = "stock-conservation"
    h = _history(history)
    init = _initial_stock(h)
    if init is None:
        return Verdict(name, None, "no init op: initial stock unknown")
    initial = init.value
    assert isinstance(initial, int)
    issues = h.pairs("issue")
    ok_issues = [p for p in issues if p.ok]
    maybe_issues = sum(1 for p in issues if p.type in ("info", None))
    writes = h.pairs("stock")
    ok_writes = sorted((p for p in writes if p.ok),
                       key=lambda p: p.completion.index if p.completion else 0)

    def new_stock(p: Pair) -> int | None:
        for value in (p.invoke.value, p.completion.value if p.completion else None):
            v = _tuple(value, 1)
            x = v[0] if v is not None else value
            if isinstance(x, int) and not isinstance(x, bool):
                return x
        return None

    last = ok_writes[-1] if ok_writes else None
    final = new_stock(last) if last is not None else initial
    if final is None:
        return Verdict(name, None, "the last stock write carries no integer stock value")
    # Any ok write that no other write certainly followed may have been the last one
    # to take effect (concurrent writes, e.g. atomic decrements on Redis).
    latest_start = max((p.start for p in ok_writes), default=0.0)
    finals = {final} | {v for p in ok_writes if p.end is not None and p.end >= latest_start
                        if (v := new_stock(p)) is not None}
    finals |= {v for p in writes if p.type in ("info", None) if (v := new_stock(p)) is not None}
    lo, hi = len(ok_issues), len(ok_issues) + maybe_issues
    if any(lo <= initial - f <= hi for f in finals):
        note = "" if initial - final == lo else " (given the unknown outcomes)"
        return Verdict(name, True, f"{lo} issued + final stock {final} == initial {initial}{note}")
    summary = f"{lo} issued + final stock {final} != initial stock {initial}"
    lost = _lost_update(h, ok_writes, new_stock)
    if lost is not None:
        (ra, wa), (rb, wb) = lost
        assert wa.completion is not None and wb.completion is not None
        s = _tuple(ra.value, 1)
        ia, ib = h.pair_of(ra), h.pair_of(rb)

        def read_window(read: Op, pair: Pair | None) -> str:
            if pair is None or pair.start == read.time:
                return f"at {_ms(read.time)} ms"
            return f"(invoked at {_ms(pair.start)}, answered at {_ms(read.time)} ms)"

        gap = final - (initial - lo)
        story = (
            f"lost update: {ra.process} read stock {s[0] if s else ra.value!r} "
            f"{read_window(ra, ia)} and {rb.process} read the same value "
            f"{read_window(rb, ib)}; {wa.process} wrote {new_stock(wa)} at "
            f"{_ms(wa.completion.time)} ms and {wb.process} wrote {new_stock(wb)} at "
            f"{_ms(wb.completion.time)} ms, so one decrement was lost"
            + (f" (the first of {gap} lost in all)" if gap > 1 else "") + ".\n"
            f"initial {initial}, issued {lo}, final stock {final} (expected {initial - lo})."
        )
        return Verdict(name, False, summary,
                       _ops(ia.invoke if ia else None, ra, ib.invoke if ib else None, rb,
                            wa.invoke, wa.completion, wb.invoke, wb.completion), story)
    writers = {p.process for p in ok_writes}
    unwritten = [p for p in ok_issues if p.process not in writers]
    if unwritten:
        p = unwritten[0]
        assert p.completion is not None
        story = (f"{len(unwritten)} accepted issue(s) were never followed by an accepted stock "
                 f"write by the same process; first: {p.process} issued to user "
                 f"{_issue_user(p)!r} at {_ms(p.completion.time)} ms.\n"
                 f"initial {initial}, issued {lo}, final stock {final} "
                 f"(expected {initial - lo}).")
        return Verdict(name, False, summary, _ops(init, p.invoke, p.completion,
                                                  *(last.invoke, last.completion) if last else ()),
                       story)
    story = (f"initial stock {initial} at {_ms(init.time)} ms; {lo} accepted issues; the last "
             f"accepted stock write"
             + (f" ({last.process} at {_ms(last.end or 0.0)} ms) left {final}"
                if last else " never happened, so the stock stayed at the initial value")
             + f" (expected {initial - lo}).")
    return Verdict(name, False, summary,
                   _ops(init, *((last.invoke, last.completion) if last else ())), story)


def _lost_update(h: History, ok_writes: list[Pair],
                 new_stock: Callable[[Pair], int | None]) -> tuple[tuple[Op, Pair], ...] | None:
    """Two accepted stock writes whose processes last read the same stock value."""
    last_read: dict[str, Op] = {}
    reads_before: dict[int, Op] = {}  # stock-write invoke index -> its process's last read
    want = {p.invoke.index for p in ok_writes}
    for op in h:
        if op.f == "read" and op.type == "ok":
            last_read[op.process] = op
        elif op.index in want and op.process in last_read:
            reads_before[op.index] = last_read[op.process]
    by_value: dict[object, tuple[Op, Pair]] = {}
    for p in ok_writes:
        read = reads_before.get(p.invoke.index)
        v = _tuple(read.value, 1) if read is not None else None
        if read is None or v is None:
            continue
        if v[0] in by_value and by_value[v[0]][1].process != p.process:
            return (by_value[v[0]], (read, p))
        by_value.setdefault(v[0], (read, p))
    return None


# -- fencing ----------------------------------------------------------------------------
def check_fencing_monotonic(history: History | Iterable[Op]) -> Verdict:
    """Accepted fenced writes (``issue``/``stock``) never go back to a lower fence.

    A write takes effect somewhere between its invocation and its completion,
    so a violation needs certainty: a write with a lower fence that was
    *invoked after* a higher-fenced write had completed (a request sent before
    a pause and answered after it is not stale at the storage, whatever the
    time its reply is read). Equal fences are fine (one holder writes twice).
    Not applicable (None) when no write carried a fence: nothing to judge.
    """
    name = "fencing-monotonic"
    h = _history(history)
    fenced: list[tuple[Pair, int]] = []
    for f in ("issue", "stock"):
        for p in h.pairs(f):
            v = _tuple(p.invoke.value, 2)
            if p.ok and v is not None and isinstance(v[1], int) and not isinstance(v[1], bool):
                assert p.completion is not None
                fenced.append((p, v[1]))
    if not fenced:
        return Verdict(name, None, "no accepted write carried a fence")
    by_end = sorted(fenced, key=lambda x: (x[0].completion.time, x[0].completion.index))
    by_start = sorted(fenced, key=lambda x: (x[0].invoke.time, x[0].invoke.index))
    top: tuple[Pair, int] | None = None  # highest fence among writes completed so far
    i = 0
    for p, fence in by_start:
        while i < len(by_end) and by_end[i][0].completion.time < p.invoke.time:
            a, af = by_end[i]
            if top is None or af > top[1]:
                top = (a, af)
            i += 1
        if top is not None and fence < top[1]:
            a, af = top
            assert a.completion is not None and p.completion is not None
            story = (f"the storage accepted {a.process}'s {a.f} write with fence {af} by "
                     f"{_ms(a.completion.time)} ms; {p.process}'s {p.f} write with the lower "
                     f"fence {fence}, sent only after that, at {_ms(p.start)} ms, was accepted "
                     f"too ({_ms(p.completion.time)} ms): a stale holder's write got through.")
            return Verdict(name, False, f"fence {fence} accepted after fence {af}",
                           _ops(a.invoke, a.completion, p.invoke, p.completion), story)
    return Verdict(name, True, f"{len(fenced)} fenced writes, fences never decreasing")


# -- lock ownership --------------------------------------------------------------------------
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


def _grants(h: History) -> dict[object, _Grant]:
    """Every token that set (or, ``certain=False``, may have set) a lock key, by token."""
    grants: dict[object, _Grant] = {}
    maybe: dict[object, _Grant] = {}
    acquire_key: dict[str, object] = {}
    acquire_start: dict[str, float] = {}
    attempt_inv: dict[str, Op] = {}

    def possible(inv: Op, hi: float, op: Op) -> None:
        tok = inv.value
        if tok is not None and tok not in grants:
            m = maybe.get(tok)
            if m is None or hi > m.set_hi:
                maybe[tok] = _Grant(tok, acquire_key.get(inv.process), inv.process, inv.time,
                                    hi, op, certain=False, renew_hi=hi, renew_op=op)

    for op in h:
        if op.f == "acquire":
            if op.type == "invoke":
                acquire_key[op.process] = op.value
                acquire_start[op.process] = op.time
            elif op.type == "ok" and (v := _tuple(op.value, 1)) is not None:
                g = grants.get(v[0])
                ttl = v[2] if len(v) >= 3 and _is_num(v[2]) else None
                if g is None:
                    start = acquire_start.get(op.process, op.time)
                    g = _Grant(v[0], acquire_key.get(op.process), op.process, start, op.time,
                               op, renew_hi=op.time, renew_op=op)
                    grants[v[0]] = g
                g.ok_op, g.ttl = op, ttl
        elif op.f == "attempt":
            if op.type == "invoke":
                attempt_inv[op.process] = op
                continue
            inv = attempt_inv.pop(op.process, None)
            if op.type == "ok" and op.value is not None and op.value not in grants:
                lo = inv.time if inv is not None else acquire_start.get(op.process, op.time)
                grants[op.value] = _Grant(op.value, acquire_key.get(op.process), op.process,
                                          lo, op.time, op, renew_hi=op.time, renew_op=op)
            elif op.type == "info" and inv is not None:
                possible(inv, op.time, op)
    for inv in attempt_inv.values():  # never completed: may run until the end
        possible(inv, h.end_time, inv)
    for tok, m in maybe.items():
        if tok not in grants:
            grants[tok] = m
    return grants


def _is_num(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


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
    lost to a Redis restart); A never sets its key again, so at R the key was
    not A's, and result 1 means R deleted or extended someone else's lock.

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
        gs.sort(key=lambda g: (g.set_lo, g.ok_op.index))
        suffix: list[tuple[float, int]] = [(math.inf, -1)] * (len(gs) + 1)
        for i in range(len(gs) - 1, -1, -1):
            suffix[i] = min(suffix[i + 1], (gs[i].set_hi, i))
        index[key] = ([g.set_lo for g in gs], suffix)
    # a token with a SET of unknown outcome might set its key again later: not judged
    resettable = {p.invoke.value for p in h.pairs("attempt") if p.type in ("info", None)}
    judged = 0
    acts = sorted(h.pairs("release") + h.pairs("extend"), key=lambda p: p.invoke.index)
    for p in acts:
        res = _result(p.completion)
        if res is None or res[1] != 1:
            continue
        judged += 1
        a = grants.get(res[0])
        if a is None or a.token in resettable:
            continue
        los, suffix = index[a.key]
        k = bisect.bisect_right(los, a.set_hi)
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
                   _ops(a.ok_op, b.ok_op, p.invoke, p.completion), story)


# -- liveness ----------------------------------------------------------------------------------
def _leases(h: History) -> dict[object, list[_Grant]]:
    """Every possible lease by key, with ``end_hi``: the latest it may have been live."""
    grants = _grants(h)
    max_ttl = max((g.ttl for g in grants.values() if g.ttl is not None), default=None)
    for p in h.pairs("extend"):
        g = grants.get(p.invoke.value)
        if g is None:
            continue
        res = _result(p.completion)
        if res is not None and res[1] == 1:
            assert p.completion is not None
            v = _tuple(p.completion.value, 3)
            if v is not None and _is_num(v[2]):
                g.ttl = max(g.ttl or 0, v[2])
            if p.completion.time >= g.renew_hi:
                g.renew_hi, g.renew_op = p.completion.time, p.completion
        elif res is not None:  # result 0: the token no longer held the key
            assert p.completion is not None
            if p.completion.time < g.end_hi:
                g.end_hi, g.end_op = p.completion.time, p.completion
        elif p.type != "fail":  # outcome unknown: it may have extended the lease
            t = p.end if p.end is not None else h.end_time
            if t >= g.renew_hi:
                g.renew_hi, g.renew_op = t, p.completion or p.invoke
    for p in h.pairs("release"):
        res = _result(p.completion)
        g = grants.get(res[0]) if res is not None else None
        if g is not None and p.completion is not None and p.completion.time < g.end_hi:
            g.end_hi, g.end_op = p.completion.time, p.completion
    by_key: dict[object, list[_Grant]] = defaultdict(list)
    for g in grants.values():
        ttl = g.ttl if g.ttl is not None else max_ttl
        expiry = g.renew_hi + ttl if ttl is not None else math.inf
        if expiry < g.end_hi:
            g.end_hi, g.end_op = expiry, g.renew_op
        by_key[g.key].append(g)
    return by_key


_ALL = object()  # a wait naming no known key is judged against every lease


def check_no_lost_wakeup(history: History | Iterable[Op], bound_ms: float = 1000.0) -> Verdict:
    """No waiter stays asleep for ``bound_ms`` while the lock is certainly free.

    A lease of token T may be live from ``set_lo`` (the earliest its ``SET``
    ran) until the earliest of: its ok release (any result: result 0 also
    proves it was gone), its extend answered 0, and its last possible grant
    (acquire ok, extend ok with result 1, or an extend of unknown outcome
    up to its ``info`` time) + ttl. An attempt of unknown outcome counts as
    a possible lease with the largest ttl seen. The lock is *certainly free*
    outside the union of these windows.

    A ``wait`` is outstanding from its invoke until its completion (or the
    history's last op). Violation: a wait overlaps one free stretch for at
    least ``bound_ms``, not counting time its own node was paused (a frozen
    process cannot act on a wake-up; pauses run from a nemesis ``pause`` to
    the node's next ``resume``). Waits that began while the lock was already
    free are judged too, measured from the wait's start: that is the
    waiter who subscribed after the holder's PUBLISH.
    """
    name = "no-lost-wakeup"
    h = _history(history)
    waits = h.pairs("wait")
    if not waits:
        return Verdict(name, True, "no process ever waited")
    leases = _leases(h)
    pauses = _pauses(h)
    raw: dict[object, list[tuple[float, float, _Grant | None]]] = {}
    built: dict[tuple[object, str], _Gaps] = {}
    for p in waits:
        key = p.invoke.value if p.invoke.value in leases else _ALL
        if key not in raw:
            pool = leases[key] if key is not _ALL else [g for gs in leases.values() for g in gs]
            raw[key] = _free_stretches(pool, h.start_time, h.end_time)
        gaps = built.get((key, p.node))
        if gaps is None:
            gaps = built[key, p.node] = _Gaps(raw[key], pauses.get(p.node))
        w_end = p.end if p.end is not None else h.end_time
        found = gaps.longest_overlap(p.start, w_end)
        if found is not None and found[0] >= bound_ms:
            gap = gaps.gaps[found[1]]
            return _lost_wakeup_verdict(name, h, p, found[0], gap[0], gap[2], bound_ms)
    return Verdict(name, True,
                   f"{len(waits)} waits, none asleep {_ms(bound_ms)} ms while the lock was free")


def _free_stretches(leases: list[_Grant], start: float,
                    end: float) -> list[tuple[float, float, _Grant | None]]:
    """(from, to, the lease whose end opened it) for every stretch no lease covers."""
    gaps: list[tuple[float, float, _Grant | None]] = []
    cursor, ender = start, None
    for g in sorted(leases, key=lambda g: g.set_lo):
        if g.set_lo > cursor:
            gaps.append((cursor, g.set_lo, ender))
        if g.end_hi >= cursor:
            cursor, ender = g.end_hi, g
    if cursor < end:
        gaps.append((cursor, end, ender))
    return gaps


class _Paused:
    """One node's paused time, merged, with prefix sums: paused ms in any window in O(log n)."""

    def __init__(self, intervals: list[tuple[float, float]]) -> None:
        merged: list[list[float]] = []
        for s, e in sorted(intervals):
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        self.starts = [m[0] for m in merged]
        self.ends = [m[1] for m in merged]
        self.cum = [0.0]
        for s, e in merged:
            self.cum.append(self.cum[-1] + e - s)

    def _upto(self, x: float) -> float:
        k = bisect.bisect_right(self.starts, x)
        if k == 0:
            return 0.0
        return self.cum[k - 1] + min(x, self.ends[k - 1]) - self.starts[k - 1]

    def within(self, s: float, e: float) -> float:
        return self._upto(e) - self._upto(s) if e > s else 0.0


def _pauses(h: History) -> dict[str, _Paused]:
    """Each node's pauses: from ``pause`` to its next ``resume`` (else its duration, else end)."""
    open_: dict[str, list[Op]] = defaultdict(list)
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for op in h.events():
        if op.process != NEMESIS or not op.node:
            continue
        if op.f == "pause":
            open_[op.node].append(op)
        elif op.f == "resume":
            for pause in open_.pop(op.node, []):
                spans[op.node].append((pause.time, op.time))
    for node, ops in open_.items():
        for pause in ops:
            d = pause.value
            end = pause.time + float(d) if isinstance(d, int | float) and d >= 0 else h.end_time
            spans[node].append((pause.time, max(end, pause.time)))
    return {node: _Paused(iv) for node, iv in spans.items()}


class _Gaps:
    """Free stretches for one waiter's node, with a sparse table of their usable lengths."""

    def __init__(self, gaps: list[tuple[float, float, _Grant | None]],
                 paused: _Paused | None) -> None:
        self.gaps = gaps
        self.paused = paused
        self.starts = [g[0] for g in gaps]
        lengths = [(self._usable(g[0], g[1]), i) for i, g in enumerate(gaps)]
        self.table = [lengths]
        span = 1
        while 2 * span <= len(lengths):
            prev = self.table[-1]
            self.table.append([max(prev[i], prev[i + span])
                               for i in range(len(prev) - span)])
            span *= 2

    def _usable(self, s: float, e: float) -> float:
        """Free time in [s, e] during which the waiter's node was not paused."""
        return (e - s) - (self.paused.within(s, e) if self.paused is not None else 0.0)

    def _range_max(self, lo: int, hi: int) -> tuple[float, int] | None:
        """Longest usable gap among gaps[lo:hi]."""
        if lo >= hi:
            return None
        level = (hi - lo).bit_length() - 1
        row = self.table[level]
        return max(row[lo], row[hi - (1 << level)])

    def longest_overlap(self, w_start: float, w_end: float) -> tuple[float, int] | None:
        """(usable overlap, gap number) of the gap that overlaps the wait the most."""
        gaps = self.gaps
        first = max(bisect.bisect_right(self.starts, w_start) - 1, 0)
        last = bisect.bisect_left(self.starts, w_end)  # gaps[first:last] start before w_end
        best: tuple[float, int] | None = None
        for i in {first, last - 1}:
            if 0 <= i < last:
                s, e = max(gaps[i][0], w_start), min(gaps[i][1], w_end)
                if e > s:
                    cand = (self._usable(s, e), i)
                    best = cand if best is None else max(best, cand)
        inner = self._range_max(first + 1, last - 1)
        if inner is not None:
            best = inner if best is None else max(best, inner)
        return best


def _lost_wakeup_verdict(name: str, h: History, p: Pair, length: float, since: float,
                         g: _Grant | None, bound_ms: float) -> Verdict:
    waited = (f"was woken at {_ms(p.end)} ms" if p.type == "ok" and p.end is not None
              else f"gave up at {_ms(p.end)} ms ({p.value!r})" if p.end is not None
              else f"was still waiting at the history's end, {_ms(h.end_time)} ms")
    if g is None:
        why = "no lease had been granted yet"
    elif g.end_op is not None and g.end_op.f == "release":
        why = (f"{g.process} released token {_short(g.token)} by {_ms(g.end_hi)} ms "
               f"and nobody took the lock after")
    elif g.end_op is not None and g.end_op.f == "extend" and _result(g.end_op) is not None \
            and g.end_op.time == g.end_hi:
        why = (f"{g.process}'s watchdog found token {_short(g.token)} gone at "
               f"{_ms(g.end_hi)} ms and nobody took the lock after")
    else:
        why = (f"token {_short(g.token)} of {g.process} expired by {_ms(g.end_hi)} ms "
               f"without a release, so nothing was published")
    story = (f"{p.process} started waiting at {_ms(p.start)} ms and {waited}.\n"
             f"The lock was certainly free from {_ms(since)} ms, for {_ms(length)} ms of that "
             f"wait (bound {_ms(bound_ms)} ms): {why}.")
    witness = _ops(p.invoke, p.completion, g.ok_op if g else None, g.end_op if g else None)
    return Verdict(name, False,
                   f"{p.process} waited {_ms(length)} ms while the lock was free "
                   f"(since {_ms(since)} ms)", witness, story)


# -- registry -------------------------------------------------------------------------------------
# The order verdicts are reported and shrunk in: coupon rules first (the harm a
# user sees), then the lock's own promises, then liveness.
PRIORITY = ("stock-conservation", "no-over-issue", "no-duplicate-issue", "fencing-monotonic",
            "owner-only-release", "mutual-exclusion", "no-lost-wakeup", "determinism")

CHECKERS: dict[str, Checker] = {
    "mutual-exclusion": check_mutual_exclusion,
    "no-over-issue": check_no_over_issue,
    "stock-conservation": check_stock_conservation,
    "no-duplicate-issue": check_no_duplicate_issue,
    "owner-only-release": check_owner_only_release,
    "fencing-monotonic": check_fencing_monotonic,
    "no-lost-wakeup": check_no_lost_wakeup,
}


def check_all(history: History | Iterable[Op], names: Iterable[str] | None = None,
              params: Mapping[str, Mapping[str, Any]] | None = None) -> tuple[Verdict, ...]:
    """Run the named checkers (all by default) in registry order of ``names``.

    ``params`` maps a checker name to its keyword arguments, e.g.
    ``{"no-lost-wakeup": {"bound_ms": 500}}``.
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
    return tuple(CHECKERS[n](h, **params.get(n, {})) for n in chosen)


__all__ = [
    "CHECKERS", "Checker", "Verdict", "check_all", "check_fencing_monotonic",
    "check_mutual_exclusion", "check_no_duplicate_issue", "check_no_lost_wakeup",
    "check_no_over_issue", "check_owner_only_release", "check_stock_conservation",
]
