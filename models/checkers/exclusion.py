"""Mutual exclusion: no two processes inside their critical sections at once."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from operator import itemgetter
from typing import Any

from models.checkers._common import (
    Verdict,
    _events_of,
    _history,
    _ms,
    _ops,
    _short,
)
from models.history import NEMESIS, History, Op


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
    for op in h.events("crash"):
        if op.process == NEMESIS and op.node:
            crashes[op.node].append(op)
    crash_at = {node: [c.index for c in ops] for node, ops in crashes.items()}
    inside: dict[str, Op] = {}
    sections: list[tuple[float, int, float, Op, Op | None, Op | None]] = []
    for op in _events_of(h, "enter", "leave"):
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
    sections.sort(key=itemgetter(0, 2, 1))
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
        _ops(a_enter, a_leave, a_crash, b_enter), story, "overlap")


def _first(value: object) -> object:
    return value[0] if isinstance(value, tuple) and value else value
