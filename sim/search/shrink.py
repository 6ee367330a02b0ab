"""From a violation to a small one: greedy delta debugging, and find-then-shrink.

``find`` is what ``locksim check``, the property suite and the benchmarks all
do with a random exploration: take the first schedule violating a property
(schedules by id, so the first is the same on any machine), then shrink it.

A shrink keeps the cause: a smaller candidate is kept only if it violates the
same property *with the same witness kind* (the verdict's ``cause``: which kind
of offending command or overlap), so a real counterexample is never shrunk
into a different, perhaps spurious, violation that happens to share the name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict

from models.faults import Fault
from models.scenario import Scenario, ScenarioError

BUDGET = 200
"""Runs a shrink may spend; a shrunk report schedule needs a few dozen."""


class NotFound(LookupError):
    """No schedule of the exploration violated the property."""


def cause_of(scenario: Scenario, prop: str) -> str | None:
    """The cause with which one run of ``scenario`` violates ``prop`` ("" when its
    checker names none), or None when it holds (or the scenario cannot run)."""
    from models.checkers import check_all
    from sim.world import run

    try:
        result = run(scenario)
        verdicts = check_all(result.history, [prop], truth=result)
    except ScenarioError:
        return None
    for v in verdicts:
        if v.valid is False:
            return str(getattr(v, "cause", "") or "")
    return None


def violates(scenario: Scenario, prop: str, cause: str | None = None) -> bool:
    """Whether one run of ``scenario`` violates ``prop`` (an invalid scenario does not);
    with ``cause``, only a violation with that same cause counts."""
    found = cause_of(scenario, prop)
    return found is not None and (cause is None or found == cause)


def candidates(sc: Scenario) -> Iterable[Scenario]:
    """Smaller variants, biggest cut first: fewer faults, fewer requests, no priority
    steering (``sim.search.pct``), shorter faults."""
    for i in range(len(sc.faults)):
        yield sc.with_(faults=sc.faults[:i] + sc.faults[i + 1:])
    if sc.requests > 1:
        for i in range(sc.requests):
            arrivals = sc.arrivals_ms[:i] + sc.arrivals_ms[i + 1:]
            yield sc.with_(requests=sc.requests - 1, vus=sc.requests - 1, arrivals_ms=arrivals)
            if arrivals and arrivals[0] > 0.0:  # and the next one moved to the start
                yield sc.with_(requests=sc.requests - 1, vus=sc.requests - 1,
                               arrivals_ms=(0.0, *arrivals[1:]))
    for i in range(len(sc.priority_changes_ms)):
        yield sc.with_(priority_changes_ms=sc.priority_changes_ms[:i]
                       + sc.priority_changes_ms[i + 1:])
    if sc.priorities:
        yield sc.with_(priorities=(), priority_changes_ms=())
    for i, f in enumerate(sc.faults):
        duration = getattr(f, "duration_ms", None)
        if duration and duration > 100.0:
            yield sc.with_(faults=(*sc.faults[:i], _halved(f, duration), *sc.faults[i + 1:]))


def _halved(f: Fault, duration: float) -> Fault:
    return type(f)(**{**asdict(f), "duration_ms": round(duration / 2, 3)})


def shrink(scenario: Scenario, prop: str, budget: int = BUDGET,
           cause: str | None = None) -> Scenario:
    """Greedy delta debugging: keep any smaller variant that still violates ``prop``
    for the same cause (``cause``: the original's, judged here when not given). A
    scenario that does not violate ``prop`` comes back unchanged."""
    if cause is None:
        cause = cause_of(scenario, prop)
        if cause is None:
            return scenario
    current = scenario
    runs = 0
    improved = True
    while improved and runs < budget:
        improved = False
        for candidate in candidates(current):
            runs += 1
            if violates(candidate, prop, cause):
                current = candidate
                improved = True
                break
            if runs >= budget:
                break
    return current


def first_violation(lock: str, kinds: Sequence[str], seed: int, n: int,
                    props: str | Sequence[str], template: Scenario | None = None,
                    strategy: str = "swarm") -> tuple[int, str]:
    """(id, property) of the first of schedules 0..n-1 violating one of ``props``.

    One process, stopping at the first: schedules are judged by id, so this is
    the id a full exploration on any number of workers would report first."""
    from sim.search.explore import Job, run_schedule

    wanted = (props,) if isinstance(props, str) else tuple(props)
    for index in range(n):
        outcome = run_schedule(Job(lock, tuple(kinds), seed, index, wanted,
                                   template=template, strategy=strategy))
        if outcome.violated:
            return index, outcome.violated[0]
    raise NotFound(f"none of {n} schedules of {lock} (seed {seed}) violates "
                   f"{', '.join(wanted)}")


def shrink_schedule(lock: str, kinds: Sequence[str], seed: int, index: int, prop: str,
                    budget: int = BUDGET, template: Scenario | None = None,
                    strategy: str = "swarm") -> Scenario:
    """Schedule ``index`` of an exploration, shrunk against ``prop`` (and its cause)."""
    from sim.search.explore import Job, plan

    return shrink(plan(Job(lock, tuple(kinds), seed, index, template=template,
                           strategy=strategy)), prop, budget)


def find(lock: str, kinds: Sequence[str], seed: int, n: int, prop: str | Sequence[str],
         budget: int = BUDGET, template: Scenario | None = None,
         strategy: str = "swarm") -> Scenario:
    """The first of schedules 0..n-1 violating ``prop`` (or any of several), shrunk
    against the property it violates. Raises ``NotFound``."""
    index, violated = first_violation(lock, kinds, seed, n, prop, template, strategy)
    return shrink_schedule(lock, kinds, seed, index, violated, budget, template, strategy)


__all__ = ["BUDGET", "NotFound", "candidates", "cause_of", "find", "first_violation",
           "shrink", "shrink_schedule", "violates"]
