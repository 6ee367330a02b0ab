"""The coupon rules a user sees: no over-issue, no duplicate, stock conserved."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from operator import attrgetter

from models.checkers._common import (
    Verdict,
    _history,
    _initial_stock,
    _ms,
    _ops,
    _tuple,
)
from models.history import History, Op, Pair


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
                    key=_COMPLETED_AT)  # ok: completed
    if len(issued) <= stock:
        return Verdict(name, True, f"{len(issued)} issued of a stock of {stock}")
    extra = issued[stock]
    assert extra.completion is not None
    story = (f"the stock was {stock} at {_ms(init.time)} ms but {len(issued)} issues were "
             f"accepted; issue number {stock + 1}: {extra.process} for user "
             f"{_issue_user(extra)!r}, accepted at {_ms(extra.completion.time)} ms.")
    return Verdict(name, False, f"{len(issued)} coupons issued from a stock of {stock}",
                   _ops(init, extra.invoke, extra.completion), story, "over-issued")


def check_no_duplicate_issue(history: History | Iterable[Op]) -> Verdict:
    """At most one accepted issue per user (the user is the issue invocation's value[0])."""
    name = "no-duplicate-issue"
    h = _history(history)
    first: dict[object, Pair] = {}
    issued = sorted((p for p in h.pairs("issue") if p.ok),
                    key=_COMPLETED_AT)  # ok: completed
    for p in issued:
        user = _issue_user(p)
        if user in first:
            a = first[user]
            assert a.completion is not None and p.completion is not None
            story = (f"user {user!r} got a coupon from {a.process} (accepted at "
                     f"{_ms(a.completion.time)} ms) and another from {p.process} "
                     f"(invoked at {_ms(p.start)} ms, accepted at {_ms(p.completion.time)} ms).")
            return Verdict(name, False, f"user {user!r} was issued two coupons",
                           _ops(a.invoke, a.completion, p.invoke, p.completion), story,
                           "second-coupon")
        first[user] = p
    return Verdict(name, True, f"{len(issued)} issues to {len(first)} distinct users")


_COMPLETED_AT = attrgetter("completion.index")


def _new_stock(p: Pair) -> int | None:
    """A stock write's new stock: its invocation's value, else its completion's."""
    for value in (p.invoke.value, p.completion.value if p.completion else None):
        v = _tuple(value, 1)
        x = v[0] if v is not None else value
        if isinstance(x, int) and not isinstance(x, bool):
            return x
    return None


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
    # one pass over each kind of pair (this judge runs on every explored schedule)
    ok_issues: list[Pair] = []
    maybe_issues = 0
    for p in h.pairs("issue"):
        kind = p.completion.type if p.completion is not None else None
        if kind == "ok":
            ok_issues.append(p)
        elif kind in ("info", None):
            maybe_issues += 1
    ok_writes: list[Pair] = []
    maybe_writes: list[Pair] = []
    for p in h.pairs("stock"):
        kind = p.completion.type if p.completion is not None else None
        if kind == "ok":
            ok_writes.append(p)
        elif kind in ("info", None):
            maybe_writes.append(p)
    ok_writes.sort(key=_COMPLETED_AT)  # by completion order
    new_stock = _new_stock
    last = ok_writes[-1] if ok_writes else None
    final = new_stock(last) if last is not None else initial
    if final is None:
        return Verdict(name, None, "the last stock write carries no integer stock value")
    # Any ok write that no other write certainly followed may have been the last one
    # to take effect (concurrent writes, e.g. atomic decrements on Redis).
    latest_start = max([p.invoke.time for p in ok_writes], default=0.0)
    finals = {final}
    for p in ok_writes:
        if p.completion.time >= latest_start:  # type: ignore[union-attr]  # ok: completed
            v = new_stock(p)
            if v is not None:
                finals.add(v)
    for p in maybe_writes:
        v = new_stock(p)
        if v is not None:
            finals.add(v)
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
                            wa.invoke, wa.completion, wb.invoke, wb.completion), story,
                       "lost-update")
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
                       story, "issue-without-stock-write")
    story = (f"initial stock {initial} at {_ms(init.time)} ms; {lo} accepted issues; the last "
             f"accepted stock write"
             + (f" ({last.process} at {_ms(last.end or 0.0)} ms) left {final}"
                if last else " never happened, so the stock stayed at the initial value")
             + f" (expected {initial - lo}).")
    return Verdict(name, False, summary,
                   _ops(init, *((last.invoke, last.completion) if last else ())), story,
                   "stock-mismatch")


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
