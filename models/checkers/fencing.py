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
from models.checkers.ground_truth import KeyEffect, RequestSpan
from models.checkers.tenure import Lease, leases, request_of
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
                           _ops(a.invoke, a.completion, p.invoke, p.completion), story,
                           "stale-fence-accepted")
    return Verdict(name, True, f"{len(fenced)} fenced writes, fences never decreasing")


def _fence_of(value: object) -> int | None:
    v = _tuple(value, 2)
    f = v[1] if v is not None else None
    return f if isinstance(f, int) and not isinstance(f, bool) else None


def _fenced_grants(h: History, effects: Iterable[KeyEffect], requests: Iterable[RequestSpan],
                   horizon: float, prefix: str) -> list[tuple[Lease, int, Op, KeyEffect | None]]:
    """(lease, fence its holder used, the holder's enter op, the INCR that drew the fence)
    for every lease whose holder then entered with a fence, in grant order."""
    names = {r.request for r in requests}
    enters: dict[str, list[Op]] = {}
    for op in h.events("enter"):
        if _fence_of(op.value) is None:
            continue
        r = request_of(op.process, names)
        if r is not None:
            enters.setdefault(r, []).append(op)
    if not enters:
        return []  # no holder entered with a fence (an unfenced design): no grant is one
    draws: dict[tuple[str | None, int], KeyEffect] = {}
    for e in effects:
        if e.effect == "count" and e.after is not None:
            try:
                draws.setdefault((e.request, int(e.after)), e)
            except ValueError:
                continue
    out: list[tuple[Lease, int, Op, KeyEffect | None]] = []
    for g in leases(effects, horizon):
        if not g.key.startswith(prefix) or g.request is None:
            continue
        entry = next((o for o in enters.get(g.request, []) if o.time >= g.start), None)
        fence = _fence_of(entry.value) if entry is not None else None
        if entry is None or fence is None:
            continue
        out.append((g, fence, entry, draws.get((g.request, fence))))
    return out


def _counter_lost(effects: Iterable[KeyEffect], after: float, before: float) -> KeyEffect | None:
    """Redis losing a fence counter between two draws (a restart without persistence, a
    failover that had not replicated it): INCR starts again, so fences regress through
    no fault of the design's."""
    effects = tuple(effects)
    counters = {e.key for e in effects if e.effect == "count"}
    return next((e for e in effects if e.effect == "lost" and e.key in counters
                 and after <= e.time <= before), None)


def _lost_story(e: KeyEffect) -> str:
    return (f" Redis lost the counter {e.key} at {_ms(e.time)} ms ({e.node} restarted without "
            "it), so INCR counted again from zero: the fences regressed with Redis's data, "
            "not through the design's order.")


def _drawn(d: KeyEffect | None) -> str:
    return "" if d is None else f", drawn at {_ms(d.time)} ms"


def check_fence_grant_order(h: History | Iterable[Op], effects: Iterable[KeyEffect],
                            requests: Iterable[RequestSpan], horizon: float,
                            prefix: str = "lock:") -> Verdict:
    """Fences rise in the order Redis granted the lock, whether or not the storage checks them.

    Grants are the leases in the command log; a holder's fence is the one it
    entered its critical section with. A later grant with a fence no higher
    than an earlier one lets the storage refuse the rightful holder, or (with
    no fencing storage) nothing stops the stale one. A fence drawn after its
    holder's lease had already ended (a pause between the grant and the INCR)
    is the pause's harm, reported by ``mutual-exclusion``, and is not judged.
    """
    name = "fence-grant-order"
    effects = tuple(effects)  # a run's log is one already (its leases are cached)
    grants = _fenced_grants(_history(h), effects, requests, horizon, prefix)
    if not grants:
        return Verdict(name, None, "no holder entered with a fence")
    top: tuple[Lease, int, Op, KeyEffect | None] | None = None
    judged = 0
    for item in grants:
        g, fence, enter, draw = item
        if draw is not None and draw.time > g.end:
            continue  # drawn after the lease ended: not a grant's fence
        judged += 1
        if top is not None and top[0].request != g.request and fence <= top[1]:
            a, af, a_enter, a_draw = top
            lost = _counter_lost(effects, a_draw.time if a_draw is not None else a.start,
                                 draw.time if draw is not None else g.start)
            story = (f"Redis granted {a.key} to {a.request} at {_ms(a.start)} ms "
                     f"(fence {af}{_drawn(a_draw)}), then to {g.request} "
                     f"at {_ms(g.start)} ms with fence {fence}{_drawn(draw)}: "
                     f"the later holder carries the "
                     f"{'same' if fence == af else 'lower'} fence, so fences do not follow "
                     + ("grants." + _lost_story(lost) if lost is not None
                        else "grants (a fence drawn before the lock was held)."))
            return Verdict(name, False, f"{g.request} was granted after {a.request} with fence "
                           f"{fence} <= {af}", _ops(a_enter, enter), story,
                           "fence-counter-lost" if lost is not None
                           else "fence-below-earlier-grant")
        if top is None or fence > top[1]:
            top = item
    return Verdict(name, True, f"{judged} fenced grants, fences rising in grant order")


def check_fenced_out_holder(h: History | Iterable[Op], effects: Iterable[KeyEffect],
                            requests: Iterable[RequestSpan], horizon: float,
                            prefix: str = "lock:") -> Verdict:
    """The storage never refuses a holder whose lease overlapped nobody's: an availability
    failure (the lock was rightly held, yet the work was refused as stale).

    Refusals are the ``stale-fence`` failures of ``read``/``issue``; the holder's
    lease is its last grant before the refusal. Excused when every accepted
    operation with a higher fence before it came from a request whose own lease
    had ended (a stale holder that drew its fence late: the pause's harm).
    """
    name = "fenced-out-holder"
    effects = tuple(effects)  # a run's log is one already (its leases are cached)
    hist = _history(h)
    names = {r.request for r in requests}
    refusals = [op for op in hist if op.type == "fail" and op.value == "stale-fence"
                and op.f in ("read", "issue")]
    if not refusals:
        fenced = any(_fence_of(e.value) is not None for e in hist.events("enter"))
        return Verdict(name, True if fenced else None, "no fenced operation was refused")
    entered: dict[str | None, int] = {}  # a read carries its request's fence (enter's)
    for e in hist.events("enter"):
        fe = _fence_of(e.value)
        if fe is not None:
            entered.setdefault(request_of(e.process, names), fe)
    accepted: list[tuple[Op, int, str | None]] = []
    for f in ("read", "issue"):
        for p in hist.pairs(f):
            who = request_of(p.process, names)
            fence = entered.get(who) if f == "read" else _fence_of(p.invoke.value)
            if p.ok and p.completion is not None and fence is not None:
                accepted.append((p.invoke, fence, who))
    all_leases = [g for g in leases(effects, horizon) if g.key.startswith(prefix)]
    by_request: dict[str | None, list[Lease]] = {}
    for g in all_leases:
        by_request.setdefault(g.request, []).append(g)
    enters: dict[str | None, list[Op]] = {}
    for e in hist.events("enter"):
        enters.setdefault(request_of(e.process, names), []).append(e)
    for op in refusals[:100]:  # the first refusals tell; a storm of them repeats one story
        r = request_of(op.process, names)
        mine = [g for g in by_request.get(r, []) if g.start <= op.time]
        if not mine:
            continue
        g = mine[-1]
        others = [o for o in all_leases if o.request != r and o.key == g.key
                  and o.start < op.time and o.end > g.start]
        if others:
            continue
        enter = next((e for e in enters.get(r, []) if e.time >= g.start), None)
        fence = _fence_of(enter.value) if enter is not None else None
        higher = [(inv, f, w) for inv, f, w in accepted
                  if fence is not None and f > fence and inv.time < op.time]
        live = [x for x in higher if any(o.request == x[2] and o.start <= x[0].time <= o.end
                                         for o in all_leases)]
        if higher and not live:
            continue
        story = (f"{r} was granted {g.key} at {_ms(g.start)} ms and no other request held it "
                 f"from then to {_ms(op.time)} ms, yet the storage refused its {op.f} as stale "
                 f"(fence {fence})"
                 + (f"; {live[0][2]} had used fence {live[0][1]} at {_ms(live[0][0].time)} ms "
                    f"while holding its own lease" if live else "")
                 + ": the rightful holder lost its work.")
        lost = (_counter_lost(effects, live[0][0].time, op.time) if live
                else _counter_lost(effects, 0.0, op.time))
        if lost is not None:
            story += _lost_story(lost)
        return Verdict(name, False, f"{r}'s {op.f} refused though it held the lock alone",
                       _ops(enter, op), story,
                       "fence-counter-lost" if lost is not None else "refused-sole-holder")
    return Verdict(name, True, f"{len(refusals)} refusals, each of a holder someone overlapped")
