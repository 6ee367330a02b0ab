"""Ground-truth lease lifetimes: locks that come back, lapse under a working holder, are
orphaned, or stay free while someone waits.

Each judge reads the leases Redis kept (``tenure.leases`` over the command
log) and joins the history only for intent: when a request was asking for the
lock (its ``acquire`` ops, else from its start to its ``enter``), when it was
inside its critical section (``enter``..``leave``), and which faults touched
its node (``tenure.Faults``). Identity is the request that issued the
command, never the token.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable
from operator import attrgetter

from models.checkers._common import Verdict, _ops
from models.checkers.ground_truth import KeyEffect, RequestSpan
from models.checkers.tenure import OPEN, Lease, faults_of, leases, request_of, spans_by_request
from models.history import History, Op
from models.history import format_ms as _ms

_INTENT = frozenset({"acquire", "enter", "leave"})  # the ops intent is read from
_WAITING = frozenset({"request", "acquire", "wait"})  # the waiting itself, not a call held
_BY_REQUEST: list[tuple[History, frozenset[str], dict[str, list[Op]], object]] = []  # one history's


def _per_request(h: History, names: Iterable[str]) -> dict[str, list[Op]]:
    """Each request's acquire/enter/leave ops (its spawned tasks' included), in order.

    Built once per history for every judge that reads it (they only read it).
    """
    if _BY_REQUEST and _BY_REQUEST[0][0] is h and _BY_REQUEST[0][3] is names:
        return _BY_REQUEST[0][2]  # the same spans (``spans_by_request`` keeps a run's)
    known = frozenset(names)
    if _BY_REQUEST and _BY_REQUEST[0][0] is h and _BY_REQUEST[0][1] == known:
        return _BY_REQUEST[0][2]
    out = _group(h, known)
    _BY_REQUEST[:] = [(h, known, out, names)]
    return out


def _group(h: History, known: frozenset[str]) -> dict[str, list[Op]]:
    cache: dict[str, str | None] = {}
    out: dict[str, list[Op]] = defaultdict(list)
    for op in h:
        if op.f not in _INTENT:
            continue
        r = cache.get(op.process, "")
        if r == "":
            r = cache[op.process] = request_of(op.process, known)
        if r is not None:
            out[r].append(op)
    return out


def _asking(ops: list[Op], span: RequestSpan | None, end: float) -> list[tuple[float, float]]:
    """When the request was asking for the lock: its acquire ops, else start..first enter.

    An acquire that ended ``info`` (its process crashed, its outcome unknown) may have
    left commands in flight: Redis runs them later, and they were still asking."""
    windows: list[tuple[float, float]] = []
    opened: float | None = None
    for op in ops:
        if op.f != "acquire":
            continue
        if op.type == "invoke":
            opened = op.time
        elif opened is not None:
            windows.append((opened, math.inf if op.type == "info" else op.time))
            opened = None
    if opened is not None:
        windows.append((opened, end))
    if windows or span is None:
        return windows
    enter = next((op.time for op in ops if op.f == "enter"), None)
    stop = enter if enter is not None else span.end if span.end is not None else end
    return [(span.start, stop)]


def _sections(ops: list[Op], end: float) -> list[tuple[Op, float, Op | None]]:
    """(enter op, leave time or end, leave op) per critical section."""
    out: list[tuple[Op, float, Op | None]] = []
    inside: Op | None = None
    for op in ops:
        if op.f == "enter" and op.type == "ok":
            inside = op
        elif op.f == "leave" and inside is not None:
            out.append((inside, op.time, op))
            inside = None
    if inside is not None:
        out.append((inside, end, None))
    return out


_LOCK_LEASES: list[tuple[list[Lease], str, list[Lease]]] = []  # the last run's, per prefix


def _lock_leases(effects: Iterable[KeyEffect], horizon: float, prefix: str) -> list[Lease]:
    """The leases on lock keys; a run's leases (one list, ``leases``' cache) are filtered
    once for the four judges that read them (they only read them)."""
    every = leases(effects, horizon)
    if _LOCK_LEASES and _LOCK_LEASES[0][0] is every and _LOCK_LEASES[0][1] == prefix:
        return _LOCK_LEASES[0][2]
    out = [g for g in every if g.key.startswith(prefix)]
    _LOCK_LEASES[:] = [(every, prefix, out)]
    return out


def _ended(g: Lease) -> str:
    """How a lease ended, for a story: "expired at 5001.0 ms", "was taken by app2/req1 ..."."""
    at = f"at {_ms(g.end)} ms"
    by = g.end_by.request if g.end_by is not None else "?"
    if g.ended == "expired":
        return f"expired {at}"
    if g.ended == "released":
        return f"was released {at}"
    if g.ended == "deleted":
        return f"was deleted by {by} {at}"
    if g.ended == "overwritten":
        return f"was taken by {by} {at}"
    if g.ended == "lost":
        return f"was lost in a Redis restart {at}"
    return "was still live at the horizon"


def check_resurrected_lock(h: History, effects: Iterable[KeyEffect],
                           requests: Iterable[RequestSpan], horizon: float,
                           prefix: str = "lock:") -> Verdict:
    """No request's command sets a lock again outside its acquire, after its lease on it ended.

    A renewal that re-creates an expired key (aioredlock's one acquire/extend
    script, redlock-rb#36) hands the holder a lock it never asked for, after
    someone else may have taken and released it: the holder believes it held
    the lock all along. Intent is the request's ``acquire`` window (else from
    its start to its ``enter``).
    """
    name = "resurrected-lock"
    effects = tuple(effects)  # a run's log is one already (its leases are cached)
    spans = spans_by_request(requests)
    ops = _per_request(h, spans)
    earlier: dict[tuple[str, str, str | None], Lease] = {}
    judged = 0
    for g in _lock_leases(effects, horizon, prefix):
        slot = (g.node, g.key, g.request)
        prev = earlier.get(slot)
        earlier[slot] = g
        if prev is None or g.request is None or prev.end > g.start:
            continue
        judged += 1
        asking = _asking(ops.get(g.request, []), spans.get(g.request), horizon)
        if any(s <= g.start <= e for s, e in asking):
            continue
        between = [o for o in _lock_leases(effects, horizon, prefix)
                   if o.key == g.key and o.node == g.node and o.request != g.request
                   and prev.end <= o.start < g.start]
        meanwhile = (f"; meanwhile {', '.join(sorted({str(o.request) for o in between}))} "
                     f"held it" if between else "")
        asked = ", ".join(f"{_ms(s)}-{_ms(e)} ms" for s, e in asking) or "never"
        story = (f"{g.request} held {g.key} from {_ms(prev.start)} ms; that lease {_ended(prev)}"
                 f"{meanwhile}. At {_ms(g.start)} ms {g.request}'s {g.set_by.command} set the "
                 f"key again, though {g.request} was not asking for the lock (it asked {asked}): "
                 f"the lock came back to life for a holder that believes it never lost it.")
        mine = ops.get(g.request, [])
        witness = _ops(*[o for o in mine if o.f == "acquire" and o.time <= g.start][-2:],
                       *[o for o in mine if o.time >= g.start][:1])
        return Verdict(name, False, f"{g.request}'s {g.set_by.command} re-created {g.key} after "
                       f"its lease {prev.ended}", witness, story,
                       f"re-created-after-{prev.ended}")
    return Verdict(name, True, f"{judged} re-grants of a lock to an earlier holder, each asked for")


def check_lease_lapsed(h: History, effects: Iterable[KeyEffect],
                       requests: Iterable[RequestSpan], horizon: float,
                       prefix: str = "lock:") -> Verdict:
    """No lease expires while its holder, untouched by any fault, is inside its critical section.

    A pause, partition, delay, crash or slowed clock on the holder's node (or
    on Redis) since the lease was last timed (set, or renewed by its holder)
    excuses it (``tenure.Faults``; a clock jump does not): that is a lease
    outlived by a frozen holder, which ``mutual-exclusion`` reports. Without
    one, the design let the lease run out under a live, working holder: a
    fixed lease shorter than the work, a renewal skipped by a local-clock
    check, a watchdog that stopped. A slow storage call is not a fault on the
    holder.
    """
    name = "lease-lapsed"
    effects = tuple(effects)  # a run's log is one already (its leases are cached)
    spans = spans_by_request(requests)
    ops = _per_request(h, spans)
    faults = faults_of(h)
    judged = 0
    for g in _lock_leases(effects, horizon, prefix):
        if g.ended != "expired" or g.request is None or g.request not in spans:
            continue
        span = spans[g.request]
        for enter, out, leave in _sections(ops.get(g.request, []), horizon):
            if not (g.start <= enter.time <= g.end < out):
                continue
            if span.crashed_at is not None and span.crashed_at <= g.end:
                continue
            judged += 1
            # since its last (re)timing: a fault healed before the holder renewed
            # did not make it lapse
            own = [e.time for e in g.renewals if e.request == g.request]
            since = own[-1] if own else g.start
            if faults.touching(span.node, since, g.end) is not None:
                continue
            left = (f"left at {_ms(out)} ms" if leave is not None
                    else "was still inside at the horizon")
            renewed = (f"renewed {len(g.renewals)} time(s), last at "
                       f"{_ms(g.renewals[-1].time)} ms" if g.renewals else "never renewed")
            ttl = g.set_by.ttl_ms
            story = (f"{g.request} took {g.key} at {_ms(g.start)} ms"
                     + (f" with a {_ms(ttl)} ms TTL" if ttl is not None else "")
                     + f" ({renewed}), entered its critical section at {_ms(enter.time)} ms, and"
                     f" the lease expired at {_ms(g.end)} ms while it was still working (it "
                     f"{left}). Nothing that stops a correct holder (a pause, partition, "
                     f"delay, crash or slowed clock on {span.node} or Redis) happened from "
                     f"{_ms(since)} ms to the expiry: the design let it lapse.")
            return Verdict(name, False, f"{g.request}'s lease expired at {_ms(g.end)} ms while "
                           f"it worked, no fault on {span.node}", _ops(enter, leave), story,
                           "expired-while-working")
    return Verdict(name, True, f"{judged} leases expired under a holder, each excused by a fault")


def check_orphaned_lock(h: History, effects: Iterable[KeyEffect],
                        requests: Iterable[RequestSpan], horizon: float,
                        prefix: str = "lock:") -> Verdict:
    """No lock is left holding a value its own request abandoned, blocking others until its TTL.

    Abandoned: the request asked for the lock again with another value while
    Redis held its first (a retry that drew a new token after a lost reply),
    or it was answered while its lease was still live and nobody then
    released it (unless a fault touched its node meanwhile: a lost release).
    ``immortal-lock`` is the same harm without a TTL: forever, not until the TTL.
    """
    name = "orphaned-lock"
    effects = tuple(effects)  # a run's log is one already (its leases are cached)
    spans = spans_by_request(requests)
    faults = faults_of(h)
    judged = 0
    for g in _lock_leases(effects, horizon, prefix):
        if g.request is None:
            continue
        judged += 1
        for e in g.refused:
            if e.request == g.request and e.wanted is not None and e.wanted != g.value:
                story = (f"{g.request}'s {g.set_by.command} at {_ms(g.start)} ms set {g.key} to "
                         f"{_val(g.value)}; at {_ms(e.time)} ms {g.request} asked for the lock "
                         f"again with {_val(e.wanted)}, so it no longer knew it held it. The key "
                         f"{_ended(g)}: until then it blocked every request, its author "
                         f"included.")
                return Verdict(name, False, f"{g.request} abandoned its own lock on {g.key} "
                               f"(asked again with another value)", (), story, "abandoned-token")
        span = spans.get(g.request)
        if span is None or span.end is None or span.crashed_at is not None:
            continue
        if not g.start < span.end < g.end or g.ended not in ("expired", OPEN):
            continue
        if g.deadline == math.inf:
            continue  # no TTL: immortal-lock's case
        if faults.touching(span.node, g.start, span.end) is not None:
            continue
        story = (f"{g.request} set {g.key} at {_ms(g.start)} ms and was answered at "
                 f"{_ms(span.end)} ms without freeing it; no pause, partition, delay or crash "
                 f"touched {span.node}. The key {_ended(g)}, blocking everyone until then.")
        return Verdict(name, False, f"{g.request} was answered still holding {g.key}", (),
                       story, "answered-still-holding")
    return Verdict(name, True, f"{judged} leases, none abandoned by their request")


def _val(v: bytes | None) -> str:
    text = repr(v)
    return text if len(text) <= 14 else text[:10] + "…'"


def check_no_stuck_waiter(h: History, effects: Iterable[KeyEffect],
                          requests: Iterable[RequestSpan], horizon: float,
                          bound_ms: float | None = None, prefix: str = "lock:") -> Verdict:
    """No request waits for the lock while Redis holds no lease on it for longer than a bound.

    Every waiter counts, whatever it waits on (pub/sub, polling, BLPOP): a
    request is waiting from its ``acquire`` invoke (else its start) until it
    gets the lock, is answered or crashes. Time its node (or Redis) was
    paused, partitioned or delayed does not count, nor the rest of a call sent
    while it was (held by the fault until answered), nor a Redis outage (a node
    dead until it restarts or another is promoted). ``bound_ms`` defaults to
    the longest TTL granted plus 1 s: a design may bound its sleep by the
    holder's TTL (BLPOP, Redisson). ``no-lost-wakeup`` is the same rule over
    the design's own ``wait`` records and its own belief about leases.
    """
    name = "no-stuck-waiter"
    effects = tuple(effects)  # a run's log is one already (its leases are cached)
    spans = spans_by_request(requests)
    ops = _per_request(h, spans)
    faults = faults_of(h)
    all_leases = _lock_leases(effects, horizon, prefix)
    by_key: dict[tuple[str, str], list[Lease]] = defaultdict(list)
    for g in all_leases:
        by_key[g.node, g.key].append(g)
    if not by_key:
        return Verdict(name, None, "no lock key was ever set: nothing to judge")
    if bound_ms is None:
        ttls = [e.ttl_ms for g in all_leases for e in (g.set_by, *g.renewals)
                if e.ttl_ms is not None]
        bound_ms = (max(ttls) if ttls else 0.0) + 1000.0
    free: dict[tuple[str, str], list[tuple[float, float, Lease | None]]] = {}
    for slot, gs in by_key.items():
        stretches: list[tuple[float, float, Lease | None]] = []
        cursor, opener = 0.0, None
        for g in sorted(gs, key=attrgetter("start")):
            if g.start > cursor:
                stretches.append((cursor, g.start, opener))
            if g.end >= cursor:
                cursor, opener = g.end, g
        if cursor < horizon:
            stretches.append((cursor, horizon, opener))
        free[slot] = stretches
    starts = {slot: [fs for fs, _, _ in st] for slot, st in free.items()}
    waits = 0
    for r, span in sorted(spans.items(), key=lambda kv: kv[1].start):
        mine = ops.get(r, [])
        key = next((op.value for op in mine if op.f == "acquire" and op.type == "invoke"), None)
        slots = [s for s in free if s[1] == key] or (list(free) if len(free) == 1 else [])
        stop = horizon  # the earliest of its answer, its crash and the horizon
        for x in (span.end, span.crashed_at):
            if x is not None and x < stop:
                stop = x
        frozen = faults.frozen(span.node, outages=True)
        for s, e in _asking(mine, span, stop):
            # a request answered (or crashed) waits no more, whatever it left in flight
            e = min(e, stop)
            waits += 1
            for slot in slots:
                stretches = free[slot]
                first = max(bisect.bisect_right(starts[slot], s) - 1, 0)
                for fs, fe, opener in stretches[first:bisect.bisect_left(starts[slot], e)]:
                    lo, hi = max(s, fs), min(e, fe)
                    if hi <= lo:
                        continue
                    usable = (hi - lo) - frozen.within(lo, hi)
                    if usable > bound_ms:
                        # before blaming it: its calls sent into a fault were held by it
                        calls = [(pr.start, pr.end if pr.end is not None else horizon)
                                 for pr in h.pairs() if pr.f not in _WAITING
                                 and request_of(pr.process, spans) == r]
                        usable = (hi - lo) - faults.frozen(span.node, held=calls,
                                                           outages=True).within(lo, hi)
                    if usable > bound_ms:
                        why = ("no lease had been granted yet" if opener is None
                               else f"{opener.request}'s lease {_ended(opener)}")
                        got = (f"got the lock at {_ms(e)} ms" if e < stop
                               else f"was still waiting at {_ms(min(e, stop))} ms")
                        story = (f"{r} asked for {slot[1]} at {_ms(s)} ms and {got}. Redis held "
                                 f"no lease on it from {_ms(fs)} ms ({why}) to {_ms(fe)} ms: "
                                 f"{_ms(usable)} ms of that wait, outside any pause, partition "
                                 f"or delay of {span.node} and any Redis outage, with the lock "
                                 f"free (bound "
                                 f"{_ms(bound_ms)} ms).")
                        witness = _ops(*[o for o in mine if o.f == "acquire"
                                         and s <= o.time <= e])
                        return Verdict(name, False, f"{r} waited {_ms(usable)} ms while "
                                       f"{slot[1]} was free", witness, story,
                                       "waited-on-free-lock")
    return Verdict(name, True, f"{waits} waits, none on a free lock longer than "
                   f"{_ms(bound_ms)} ms")


__all__ = ["check_lease_lapsed", "check_no_stuck_waiter", "check_orphaned_lock",
           "check_resurrected_lock"]
