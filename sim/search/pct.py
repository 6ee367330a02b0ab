"""A prioritised search in the spirit of PCT: priorities steer latencies, faults hit events.

PCT (Burckhardt et al., ASPLOS 2010) gives each process a random priority, lets
the highest run first, and demotes the top one at d-1 random change points; a
bug of depth d is then hit with probability at least 1/(n k^(d-1)) per run.
Here the processes are the requests (``models.priorities``: a request's rank
picks the band of Redis latency its commands draw from), and the "steps" where
depth is spent are faults, few of them (a small budget, as in ByzzFuzz), each
placed inside a protocol window of the run rather than uniformly in time: a
pilot run of the schedule so far shows where the windows are (between two
commands of one request, inside a critical section, late in a lease, while a
release or a renewal is in flight), and the fault is put there. A later fault
is placed from a pilot that includes the earlier ones, so every fault lands in
the window it was aimed at.

Schedule ``i`` of seed ``s`` draws its workload, priorities and change points
from (kinds, seed, index) alone, like a swarm schedule; where its faults land
depends on the design's own protocol (that is the point). The result is a plain
scenario: priorities and timed faults are scenario data, so it replays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from models.faults import Fault
from models.faults import kind as fault_kind
from models.history import NEMESIS
from models.scenario import Scenario
from sim.runtime.chooser import swarm_source
from sim.search.explore import _base, seed_text, workload

LOCK_PREFIX = "lock:"
WINDOWS_MS = (50.0, 500.0, 5000.0)
"""Arrival windows: tight contention, some, spread out (one is drawn per schedule)."""
MAX_DEPTH = 3
"""Priority change points are 0..MAX_DEPTH-1 (PCT's d-1)."""
MAX_FAULTS = 2
"""The fault budget: 1..MAX_FAULTS faults per schedule (when kinds are allowed)."""
GAP_MS = 1000.0
"""Two commands of one request further apart than this are not one protocol step."""


@dataclass(frozen=True, slots=True)
class Window:
    """A protocol window of a pilot run: where a fault is worth placing."""

    event: str  # between-commands, critical-section, lease, release, renewal, attempt
    start: float
    span: float
    node: str  # the app server whose request is in the window
    request: str


def windows(history: Any, effects: Sequence[Any], spans: Sequence[Any]) -> list[Window]:
    """Every protocol window of one run (``RunResult``'s history, effects and requests)."""
    node_of = {s.request: s.node for s in spans}
    found: list[Window] = []
    pairs = {"enter": "critical-section", "release": "release", "extend": "renewal",
             "attempt": "attempt"}
    opened: dict[tuple[str, str], float] = {}
    for op in history.ops:
        if op.process == NEMESIS or not op.node:
            continue
        if op.f == "enter":  # an event: the critical section runs from enter to leave
            opened[(op.process, "enter")] = op.time
        elif op.f == "leave":
            start = opened.pop((op.process, "enter"), None)
            if start is not None:
                found.append(Window("critical-section", start, op.time - start, op.node,
                                    op.process))
        elif op.f in pairs:
            if op.type == "invoke":
                opened[(op.process, op.f)] = op.time
            else:
                start = opened.pop((op.process, op.f), None)
                if start is not None:
                    found.append(Window(pairs[op.f], start, op.time - start, op.node,
                                        op.process))
    last: dict[str, float] = {}
    for e in effects:
        if e.request is None or not e.key.startswith(LOCK_PREFIX):
            continue
        node = node_of.get(e.request, "")
        if not node:
            continue
        before = last.get(e.request)
        if before is not None and 0.0 < e.time - before <= GAP_MS:
            found.append(Window("between-commands", before, e.time - before, node, e.request))
        last[e.request] = e.time
        if e.effect == "set" and e.ttl_ms:
            found.append(Window("lease", e.time, float(e.ttl_ms), node, e.request))
    found.sort(key=lambda w: (w.start, w.event, w.request))
    return found


def anchored(kind: str, window: Window, at: float, rng: Any) -> Fault:
    """The fault of ``kind`` aimed at ``window``, starting at ``at`` on its server.

    The one place a fault is made from a protocol event: a timed fault of the
    kind's own swarm ranges today; an event-triggered kind (fire "between two
    commands", "during a renewal") would be built here from ``window.event``."""
    return fault_kind(kind).swarm(round(at, 3), rng, window.node)  # type: ignore[no-any-return]


def schedule(lock: str, kinds: Sequence[str], seed: int, index: int,
             template: Scenario | None = None) -> Scenario:
    """PCT schedule ``index`` of exploration ``seed`` (see the module docstring)."""
    from sim.world import run

    base = _base(lock, template)
    rng = swarm_source(seed_text("pct", kinds, seed, index))
    window_ms = rng.choice(WINDOWS_MS)
    shape = workload(rng, base, window_ms)
    names = [f"req{i}" for i in range(shape["requests"])]
    rng.shuffle(names)
    depth = rng.randint(1, MAX_DEPTH)
    changes = tuple(sorted(round(rng.uniform(0.0, window_ms + 50.0), 3)
                           for _ in range(depth - 1)))
    budget = rng.randint(1, MAX_FAULTS) if kinds else 0
    plan = base.with_(priorities=tuple(names), priority_changes_ms=changes,
                      seed=rng.getrandbits(32), **shape)
    placed: list[Fault] = []
    after = 0.0
    for _ in range(budget):
        kind = rng.choice(list(kinds))
        pilot = run(plan.with_(faults=tuple(sorted((*base.faults, *placed),
                                                   key=lambda f: f.at_ms))))
        open_ = [w for w in windows(pilot.history, pilot.effects, pilot.requests)
                 if w.start + w.span >= after]
        if not open_:
            break
        # an event kind first, then one of its windows: a polling design's hundred
        # attempts must not drown its one renewal or its one gap between commands
        events = sorted({w.event for w in open_})
        event = rng.choice(events)
        window = rng.choice([w for w in open_ if w.event == event])
        at = max(after, window.start + window.span * rng.random())
        placed.append(anchored(kind, window, at, rng))
        after = at
    faults = tuple(sorted((*base.faults, *placed), key=lambda f: f.at_ms))
    return plan.with_(faults=faults)


def describe(scenario: Scenario) -> str:
    """One line: the priorities and change points a PCT schedule steers by."""
    order = " > ".join(scenario.priorities) or "none"
    changes = ", ".join(f"{t:g}" for t in scenario.priority_changes_ms) or "none"
    return f"priorities {order}; the top one drops to the bottom at {changes} ms"


__all__ = ["MAX_DEPTH", "MAX_FAULTS", "Window", "anchored", "describe", "schedule", "windows"]
