"""Redlock's two readings of exclusion: what a holder believes versus what it may use.

- ``belief-exclusion``: no two processes *believe* they hold the lock at once,
  a section running from ``enter`` to ``leave`` (the same judgement as
  ``mutual-exclusion``, under the name the Redlock literature gives it). A
  holder paused past its lease still believes: the TLA+ Redlock spec's
  violation.
- ``validity-exclusion``: no two processes hold at once when each stops at
  its own validity deadline: the lease its acquire reported (the third item
  of the ``ok acquire`` value: TTL for single-key designs, the remaining
  validity for ``redlock``), counted on the holder's own local clock from
  the instant the acquire completed, and moved by every successful renewal
  (``ok extend`` of the same token with result 1: its TTL counted from the
  renewal's invocation, the latest instant the holder knows it was still
  set). The holder's clock follows the
  ``clock`` nemesis events of its node (step and drift), so a holder whose
  clock runs slow overstays in true time and is judged for it. This is the
  property Redlock promises; it fails only when the servers break the
  assumption (a node's clock jumps, a node restarts without its keys).

Both are O(n log n) sweeps over sections; sections that only touch never
count (equal times prove no order).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

from models.checkers._common import Verdict, _history, _is_num, _ms, _ops, _short
from models.checkers.exclusion import check_mutual_exclusion
from models.history import NEMESIS, History, Op

Why = tuple[str, float | None]  # why a section ends: ("left at", 5.0) reads "left at 5.0 ms"
Section = tuple[float, float, Op, Op | None, Why]  # start, end, enter, acquire op, why it ends


def _why(why: Why) -> str:
    """Rendered only for a story: a section's end is formatted only if it is told."""
    text, at = why
    return text if at is None else f"{text} {_ms(at)} ms"


def check_belief_exclusion(history: History | Iterable[Op]) -> Verdict:
    """No two processes believe they hold the lock at once (enter to leave)."""
    v = check_mutual_exclusion(history)
    return Verdict("belief-exclusion", v.valid, v.summary, v.witness, v.story, cause=v.cause)


def _clock_events(h: History) -> dict[str, list[tuple[float, float, float]]]:
    events: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for op in h.events("clock"):
        if op.process == NEMESIS and op.node:
            value = op.value
            if isinstance(value, tuple) and len(value) >= 2 and all(map(_is_num, value[:2])):
                events[op.node].append((op.time, float(value[0]), float(value[1])))
    return events


def lease_end(at: float, lease_ms: float, clocks: list[tuple[float, float, float]]) -> float:
    """The true instant a local clock reads ``lease_ms`` more than it read at ``at``."""
    drift = 0.0
    for t, _offset, d in clocks:
        if t <= at:
            drift = d
    remaining, t = lease_ms, at
    for te, offset, d in clocks:
        if te <= at:
            continue
        span = (te - t) * (1.0 + drift)
        if span >= remaining:
            break
        remaining -= span + offset
        t, drift = te, d
        if remaining <= 0:
            return te
    return t + remaining / (1.0 + drift)


def _lease(acquire: Op | None) -> float | None:
    value = acquire.value if acquire is not None else None
    if isinstance(value, tuple) and len(value) >= 3 and _is_num(value[2]):
        return float(value[2])
    return None


def check_validity_exclusion(history: History | Iterable[Op]) -> Verdict:
    """No two holders overlap when each stops at its own validity deadline."""
    name = "validity-exclusion"
    h = _history(history)
    clocks = _clock_events(h)
    crashes: dict[str, list[float]] = defaultdict(list)
    last_acquire: dict[str, Op] = {}
    inside: dict[str, tuple[Op, Op | None]] = {}
    sections: list[Section] = []

    extend_at: dict[str, float] = {}  # process -> its pending extend's invocation
    extended: dict[object, list[tuple[float, float, str]]] = defaultdict(list)

    def close(enter: Op, acquire: Op | None, end: float, why: Why) -> None:
        lease = _lease(acquire)
        if lease is not None and acquire is not None:
            deadline = lease_end(acquire.time, lease, clocks.get(enter.node, []))
            for at, ttl, node in extended.get(_token(acquire), ()):
                if acquire.time <= at <= end:  # a watchdog's renewal moves the deadline
                    deadline = max(deadline, lease_end(at, ttl, clocks.get(node, [])))
            if deadline < end:
                end, why = deadline, ("its validity ended at", deadline)
        sections.append((enter.time, max(end, enter.time), enter, acquire, why))

    for op in h:  # acquires are paired ops: every op, in history order
        if op.process == NEMESIS:
            if op.f == "crash" and op.node:
                crashes[op.node].append(op.time)
            continue
        if op.f == "extend":
            if op.type == "invoke":
                extend_at[op.process] = op.time
            elif op.type == "ok" and op.process in extend_at:
                value = op.value
                at = extend_at.pop(op.process)
                if isinstance(value, tuple) and len(value) >= 3 and value[1] == 1 \
                        and _is_num(value[2]):
                    extended[value[0]].append((at, float(value[2]), op.node))
            continue
        if op.f == "acquire" and op.type == "ok":
            last_acquire[op.process] = op
        elif op.f == "enter" and op.type == "ok":
            if op.process in inside:
                first, acq = inside.pop(op.process)
                close(first, acq, op.time, ("re-entered at", op.time))
            inside[op.process] = (op, last_acquire.pop(op.process, None))
        elif op.f == "leave" and op.type == "ok" and op.process in inside:
            enter, acq = inside.pop(op.process)
            close(enter, acq, op.time, ("left at", op.time))
    for enter, acq in inside.values():
        later = [t for t in crashes.get(enter.node, []) if t >= enter.time]
        if later:
            close(enter, acq, min(later), ("its node crashed at", min(later)))
        else:
            close(enter, acq, h.end_time, ("never left", None))
    sections.sort(key=lambda s: (s[0], s[1], s[2].index))
    # the farthest-reaching section so far, and the farthest of any other process
    best: Section | None = None
    other: Section | None = None
    for sec in sections:
        start, end, enter = sec[0], sec[1], sec[2]
        for cand in (best, other):
            if cand is not None and cand[2].process != enter.process and start < cand[1]:
                return _verdict(name, cand, sec, len(sections))
        if best is None or end > best[1]:
            if best is not None and best[2].process != enter.process:
                other = best
            best = sec
        elif enter.process != best[2].process and (other is None or end > other[1]):
            other = sec
    return Verdict(name, True, f"{len(sections)} sections cut at their validity, none "
                   "overlapping")


def _verdict(name: str, a: Section, b: Section, n: int) -> Verdict:
    a_start, a_end, a_enter, a_acq, a_why = a
    b_start, b_end, b_enter, b_acq, _ = b
    lease = _lease(a_acq)
    said = (f" with a validity of {_ms(lease)} ms" if lease is not None and not math.isinf(lease)
            else "")
    story = (f"{a_enter.process} acquired{said} and entered at {_ms(a_start)} ms; "
             f"{_why(a_why)}. {b_enter.process} entered at {_ms(b_start)} ms, before that: both "
             f"were inside, each within its own validity, for {_ms(min(a_end, b_end) - b_start)}"
             f" ms.\ntokens: {a_enter.process} {_short(_token(a_enter))}, "
             f"{b_enter.process} {_short(_token(b_enter))}.")
    return Verdict(name, False, f"{a_enter.process} and {b_enter.process} both held a valid "
                   f"lock at {_ms(b_start)} ms", _ops(a_acq, a_enter, b_acq, b_enter), story)


def _token(op: Op) -> object:
    return op.value[0] if isinstance(op.value, tuple) and op.value else op.value


__all__ = ["check_belief_exclusion", "check_validity_exclusion", "lease_end"]
