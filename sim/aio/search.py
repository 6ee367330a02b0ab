"""Swarm exploration and shrinking for a handler: ``sim.search``'s schedules, run in the tier.

A schedule is the one ``sim.search.explore.schedule`` draws for its id
(a small world, a swarm fault mix), with the handler in place of the lock
design; shrinking is ``sim.search.shrink``'s greedy cuts, judged by a handler
run. Every run is a library run, so an escape stops the search with an error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from models.scenario import Scenario, ScenarioError
from sim.aio.runner import LibraryRun, judge, run_handler
from sim.search.explore import Job, plan
from sim.search.shrink import BUDGET, candidates


def handler_schedule(handler: str, kinds: Sequence[str], seed: int, index: int,
                     servers: int | None = None, template: Scenario | None = None
                     ) -> Scenario:
    """Schedule ``index`` of exploration ``seed``, for ``handler`` (on ``servers``).

    ``template`` shapes the world as for a design (``check --scenario``, ``--redis``):
    the same swarm draw, placed on its nodes the way ``sim.search.explore.plan`` does."""
    job = Job("seed", tuple(kinds), seed, index, template=template)
    sc = plan(job).with_(handler=handler)
    if servers is not None and servers != sc.servers:
        last = f"app{servers}"
        faults = tuple(replace(f, node=last) if _app_beyond(f.node, servers) else f
                       for f in sc.faults)
        sc = sc.with_(servers=servers, faults=faults)
    return sc.validate()


def _app_beyond(node: str, servers: int) -> bool:
    """``app3`` on a two-server world (holder, redis, storage and links are kept)."""
    return node[3:].isdigit() and node.startswith("app") and int(node[3:]) > servers


def violated(run: LibraryRun) -> dict[str, Any]:
    return {v.property: v for v in judge(run).violated}


def shrink_handler(scenario: Scenario, prop: str, budget: int = BUDGET) -> Scenario:
    """Greedy: keep any smaller variant whose run still violates ``prop``."""
    current, runs, improved = scenario, 0, True
    while improved and runs < budget:
        improved = False
        for candidate in candidates(current):
            runs += 1
            try:
                if prop in violated(run_handler(candidate.validate())):
                    current, improved = candidate, True
                    break
            except ScenarioError:
                pass
            if runs >= budget:
                break
    return current


def explore_handler(handler: str, kinds: Sequence[str], seed: int, schedules: int,
                    servers: int | None = None,
                    progress: Callable[[str], None] | None = None,
                    template: Scenario | None = None
                    ) -> dict[str, tuple[int, Scenario, LibraryRun, Any]]:
    """The first violating schedule of each property, shrunk: {property: (id, scenario,
    its run, its verdict)}."""
    first: dict[str, int] = {}
    for index in range(schedules):
        run = run_handler(handler_schedule(handler, kinds, seed, index, servers, template))
        for prop in violated(run):
            first.setdefault(prop, index)
    found: dict[str, tuple[int, Scenario, LibraryRun, Any]] = {}
    for prop, index in first.items():
        if progress is not None:
            progress(f"shrinking schedule {index} ({prop})")
        small = shrink_handler(
            handler_schedule(handler, kinds, seed, index, servers, template), prop)
        run = run_handler(small)
        found[prop] = (index, small, run, violated(run)[prop])
    return found
