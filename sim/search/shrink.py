"""From a violation to a small one: greedy delta debugging, and find-then-shrink.

``find`` is what ``locksim check``, the property suite and the benchmarks all
do with a random exploration: take the first schedule violating a property
(schedules by id, so the first is the same on any machine), then shrink it.
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


def violates(scenario: Scenario, prop: str) -> bool:
    """Whether one run of ``scenario`` violates ``prop`` (an invalid scenario does not)."""
    from models.checkers import check_all
    from sim.world import run

    try:
        result = run(scenario)
        verdicts = check_all(result.history, [prop], truth=result)
    except ScenarioError:
        return False
    return any(v.valid is False for v in verdicts)


def candidates(sc: Scenario) -> Iterable[Scenario]:
    """Smaller variants, biggest cut first: fewer faults, fewer requests, shorter faults."""
    for i in range(len(sc.faults)):
        yield sc.with_(faults=sc.faults[:i] + sc.faults[i + 1:])
    if sc.requests > 1:
        for i in range(sc.requests):
            arrivals = sc.arrivals_ms[:i] + sc.arrivals_ms[i + 1:]
            if arrivals and arrivals[0] > 0.0:
                arrivals = (0.0, *arrivals[1:])
            yield sc.with_(requests=sc.requests - 1, vus=sc.requests - 1, arrivals_ms=arrivals)
    for i, f in enumerate(sc.faults):
        duration = getattr(f, "duration_ms", None)
        if duration and duration > 100.0:
            yield sc.with_(faults=(*sc.faults[:i], _halved(f, duration), *sc.faults[i + 1:]))


def _halved(f: Fault, duration: float) -> Fault:
    return type(f)(**{**asdict(f), "duration_ms": round(duration / 2, 3)})


def shrink(scenario: Scenario, prop: str, budget: int = BUDGET) -> Scenario:
    """Greedy delta debugging: keep any smaller variant that still violates ``prop``."""
    current = scenario
    runs = 0
    improved = True
    while improved and runs < budget:
        improved = False
        for candidate in candidates(current):
            runs += 1
            if violates(candidate, prop):
                current = candidate
                improved = True
                break
            if runs >= budget:
                break
    return current


def first_violation(lock: str, kinds: Sequence[str], seed: int, n: int,
                    props: str | Sequence[str]) -> tuple[int, str]:
    """(id, property) of the first of schedules 0..n-1 violating one of ``props``.

    One process, stopping at the first: schedules are judged by id, so this is
    the id a full exploration on any number of workers would report first."""
    from sim.search.explore import Job, run_schedule

    wanted = (props,) if isinstance(props, str) else tuple(props)
    for index in range(n):
        outcome = run_schedule(Job(lock, tuple(kinds), seed, index, wanted))
        if outcome.violated:
            return index, outcome.violated[0]
    raise NotFound(f"none of {n} schedules of {lock} (seed {seed}) violates "
                   f"{', '.join(wanted)}")


def shrink_schedule(lock: str, kinds: Sequence[str], seed: int, index: int, prop: str,
                    budget: int = BUDGET) -> Scenario:
    """Schedule ``index`` of an exploration, shrunk against ``prop``."""
    from sim.search.explore import schedule

    return shrink(schedule(lock, tuple(kinds), seed, index), prop, budget)


def find(lock: str, kinds: Sequence[str], seed: int, n: int, prop: str | Sequence[str],
         budget: int = BUDGET) -> Scenario:
    """The first of schedules 0..n-1 violating ``prop`` (or any of several), shrunk
    against the property it violates. Raises ``NotFound``."""
    index, violated = first_violation(lock, kinds, seed, n, prop)
    return shrink_schedule(lock, kinds, seed, index, violated, budget)


__all__ = ["BUDGET", "NotFound", "candidates", "find", "first_violation", "shrink",
           "shrink_schedule",
           "violates"]
