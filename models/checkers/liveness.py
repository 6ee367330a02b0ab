"""Liveness: no waiter sleeps long while the lock is certainly free."""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable
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
from models.checkers.ownership import _Grant, _grants, _own_grant, _result
from models.history import NEMESIS, History, Op, Pair


def _leases(h: History) -> dict[object, list[_Grant]]:
    """Every possible lease by key, with ``end_hi``: the latest it may have been live."""
    grants = _grants(h)
    max_ttl = max((g.ttl for g in grants.values() if g.ttl is not None), default=None)
    for p in h.pairs("extend"):
        g = _own_grant(grants, p.process, p.invoke.value, p.start)
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
        g = _own_grant(grants, p.process, res[0], p.start) if res is not None else None
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
    for g in sorted(leases, key=attrgetter("set_lo")):
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
                   f"(since {_ms(since)} ms)", witness, story, "slept-on-free-lock")
