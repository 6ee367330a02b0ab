"""Ground-truth properties: judged from what Redis did to each key, not from a design's records.

The input is the Redis model's command log (``KeyEffect``: who changed which
key, from which value to which, with what TTL) and each request's life
(``RequestSpan``). Identity is the request that issued the command, never the
token, since tokens are what buggy designs get wrong. ``sim.world.redis_node``
records the log (``RunResult.effects``/``requests``); ``models.checkers.check_all``
judges it when given one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter

from models.checkers._common import Verdict
from models.checkers.liveness import _Paused
from models.history import format_ms as _ms

EFFECTS = ("set", "del", "expire", "expired", "lost", "read", "count", "refused")
# "count": an INCR-family write (a fence counter): shared by design, owned by nobody


@dataclass(frozen=True, slots=True)
class KeyEffect:
    """One change (or read) of one key by Redis, attributed to the request that caused it."""

    time: float
    node: str
    request: str | None  # None: the server itself (TTL expiry, restart)
    command: str
    key: str
    before: bytes | None
    after: bytes | None
    ttl_ms: float | None  # remaining TTL after the command; None: no TTL or absent
    effect: str
    wanted: bytes | None = None  # "refused": the value the refused SET asked for


@dataclass(frozen=True, slots=True)
class RequestSpan:
    """One request's life: answered at ``end`` (None: never), or its process crashed."""

    request: str
    node: str
    start: float
    end: float | None
    crashed_at: float | None = None


@dataclass(slots=True)
class _Owner:
    request: str | None
    since: float
    deadline: float  # the value's lease ends by then (inf: no TTL)
    entry: KeyEffect


_TIME = attrgetter("time")
Replayed = tuple[list[tuple[KeyEffect, "_Owner | None"]], dict[tuple[str, str], "_Owner"]]
_LAST: list[tuple[object, Replayed]] = []  # one run's replay, read by several judges


def _replay(effects: Iterable[KeyEffect]) -> Replayed:
    """Each effect with its key's owner just before it (None: absent or expired), and the
    owners left at the end. A tuple of effects (one run's) is replayed once; the judges
    only read the result."""
    if isinstance(effects, tuple):
        if _LAST and _LAST[0][0] is effects:
            return _LAST[0][1]
        out = _replay_all(effects)
        _LAST[:] = [(effects, out)]
        return out
    return _replay_all(effects)


def _replay_all(effects: Iterable[KeyEffect]) -> Replayed:
    owner: dict[tuple[str, str], _Owner] = {}
    counters: set[tuple[str, str]] = set()
    seen: list[tuple[KeyEffect, _Owner | None]] = []
    for e in sorted(effects, key=_TIME):
        slot = (e.node, e.key)
        if e.effect == "count" or slot in counters:
            counters.add(slot)
            owner.pop(slot, None)
            continue
        cur = owner.get(slot)
        if cur is not None and cur.deadline <= e.time:
            cur = None
            owner.pop(slot, None)
        seen.append((e, cur))
        if e.effect in ("read", "refused"):
            continue
        if e.after is None:
            owner.pop(slot, None)
        elif e.effect == "set" or cur is None:
            ttl = math.inf if e.ttl_ms is None else e.ttl_ms
            owner[slot] = _Owner(e.request, e.time, e.time + ttl, e)
        elif e.effect == "expire":
            cur.deadline = math.inf if e.ttl_ms is None else e.time + e.ttl_ms
    return seen, owner


def _lease_text(cur: _Owner) -> str:
    return "no TTL" if cur.deadline == math.inf else f"{_ms(cur.deadline)} ms"


def check_foreign_release(effects: Iterable[KeyEffect]) -> Verdict:
    """No request deletes or overwrites a key another request set while that lease is live."""
    name = "foreign-release"
    judged = 0
    for e, cur in _replay(effects)[0]:
        if e.effect not in ("set", "del") or e.request is None or cur is None:
            continue
        judged += 1
        if cur.request is not None and cur.request != e.request:
            verb = "deleted" if e.effect == "del" else "overwrote"
            story = (f"{cur.request} set {e.key} at {_ms(cur.since)} ms (lease live until "
                     f"{_lease_text(cur)}); at {_ms(e.time)} ms {e.request}'s {e.command} "
                     f"{verb} it while that lease was still live.")
            return Verdict(name, False, f"{e.request}'s {e.command} {verb} {cur.request}'s "
                           f"lock on {e.key}", (), story,
                           "deleted-successor" if e.effect == "del" else "overwrote-successor")
    return Verdict(name, True, f"{judged} writes to held keys, each by the key's own request")


def check_foreign_renewal(effects: Iterable[KeyEffect]) -> Verdict:
    """No request's renewal re-times a live lock another request set (it would extend their
    lease, not its own: a bare PEXPIRE, a watchdog that outlived its lease)."""
    name = "foreign-renewal"
    judged = 0
    for e, cur in _replay(effects)[0]:
        if e.effect != "expire" or e.request is None or cur is None:
            continue
        judged += 1
        if cur.request is not None and cur.request != e.request:
            ttl = "no TTL" if e.ttl_ms is None else f"{_ms(e.ttl_ms)} ms"
            story = (f"{cur.request} set {e.key} at {_ms(cur.since)} ms (lease live until "
                     f"{_lease_text(cur)}); at {_ms(e.time)} ms {e.request}'s {e.command} "
                     f"re-timed it to {ttl}: {e.request}'s renewal extended {cur.request}'s "
                     f"lock, not its own.")
            return Verdict(name, False, f"{e.request}'s renewal ({e.command}) extended "
                           f"{cur.request}'s lock on {e.key}", (), story, "re-timed-successor")
    return Verdict(name, True, f"{judged} TTL changes of held keys, each by the key's own "
                   "request")


def check_immortal_lock(effects: Iterable[KeyEffect], requests: Iterable[RequestSpan],
                        horizon: float) -> Verdict:
    """No key with no TTL outlives every request that could release it."""
    name = "immortal-lock"
    spans = {r.request: r for r in requests}
    _, final = _replay(effects)
    for (node, key), o in sorted(final.items()):
        if o.deadline != math.inf or o.request is None:
            continue
        span = spans.get(o.request)
        gone = span is not None and (span.end is not None or span.crashed_at is not None)
        if gone:
            assert span is not None
            how = (f"crashed at {_ms(span.crashed_at)} ms" if span.crashed_at is not None
                   else f"was answered at {_ms(span.end or 0.0)} ms")
            return Verdict(name, False, f"{key} on {node} has no TTL and its setter is gone", (),
                           f"{o.request} set {key} at {_ms(o.since)} ms with no TTL and {how}; "
                           f"the key was still there at the horizon ({_ms(horizon)} ms).",
                           "no-ttl-after-crash" if span.crashed_at is not None
                           else "no-ttl-after-answer")
    return Verdict(name, True, "every key left without a TTL still has a live setter")


def check_request_answered(requests: Iterable[RequestSpan], horizon: float,
                           healed_at: float = 0.0, bound_ms: float | None = None,
                           working: Iterable[tuple[float, float]] = ()) -> Verdict:
    """Every request not lost to a crash is answered within ``bound_ms`` of the later of its
    start and the last fault's healing (``healed_at``), and by the horizon at the latest.

    ``working``: stretches in which some request was inside its critical
    section. They do not count against the bound: a queue of slow but
    progressing requests is not a liveness failure, a lock nobody holds or uses
    is. A request still open at the horizon but inside its bound proves
    nothing (None bound: the horizon alone is the deadline).
    """
    name = "request-answered"
    busy = _Paused(list(working))
    n = 0
    for r in sorted(requests, key=attrgetter("start")):
        if r.crashed_at is not None:
            continue
        since = max(r.start, healed_at)
        until = r.end if r.end is not None else horizon
        idle = (until - since) - busy.within(since, until) if until > since else 0.0
        late = r.end is None if bound_ms is None else idle > bound_ms
        if not late:
            if r.end is not None:
                n += 1
            continue
        n += 1
        said = "never answered" if r.end is None else f"answered only at {_ms(r.end)} ms"
        healed = f"; the last fault healed at {_ms(healed_at)} ms" if healed_at > r.start else ""
        bound = ("" if bound_ms is None else
                 f": {_ms(idle)} ms after {_ms(since)} ms with no request at work in its "
                 f"critical section, bound {_ms(bound_ms)} ms")
        return Verdict(name, False, f"{r.request} was {said}", (),
                       f"{r.request} started at {_ms(r.start)} ms on {r.node}{healed} and was "
                       f"{said}{bound} (horizon {_ms(horizon)} ms).",
                       "never-answered" if r.end is None else "answered-late")
    return Verdict(name, True, f"{n} requests answered, each within its bound")


__all__ = ["EFFECTS", "KeyEffect", "RequestSpan", "check_foreign_release", "check_foreign_renewal",
           "check_immortal_lock", "check_request_answered"]
