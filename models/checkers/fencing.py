"""Fencing: the storage never accepts a lower fence after a higher one."""

from __future__ import annotations

from collections.abc import Iterable

from models.checkers._common import (
    Verdict,
    _history,
    _ms,
    _ops,
    _tuple,
)
from models.history import History, Op, Pair


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
    done = {id(p): p.completion for p, _ in fenced if p.completion is not None}
    by_end = sorted(fenced, key=lambda x: (done[id(x[0])].time, done[id(x[0])].index))
    by_start = sorted(fenced, key=lambda x: (x[0].invoke.time, x[0].invoke.index))
    top: tuple[Pair, int] | None = None  # highest fence among writes completed so far
    i = 0
    for p, fence in by_start:
        while i < len(by_end) and done[id(by_end[i][0])].time < p.invoke.time:
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
