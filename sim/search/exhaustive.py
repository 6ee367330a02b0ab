"""Bounded exhaustive exploration of a tiny configuration, with networkx holding the graph.

Random schedules sample; for a tiny world (two requests, a handful of choice
points) every schedule can be run. The choice points are the run's first
``depth`` draws from the chooser (message latencies, mostly): each is tried
at every one of ``levels`` (0 = the distribution's low end, 1000 = its high
end), depth first, re-running from the start each time (stateless model
checking: nothing is snapshotted). Token draws are not branched on: their
value never changes what happens. A run that makes fewer draws than
``depth`` stands for every sequence that differs only past its last draw,
so each distinct run is executed once.

The graph: a node is what the world has observably done when a choice is
made (the untimed history and Redis command log so far), an edge is a
choice, a leaf is a finished run with its verdicts. Different choices that
lead to the same observable prefix meet in one node, so ``states`` counts
distinct behaviours reached, not runs. ``covered`` is True when the search
finished within ``max_runs``: every combination of the choice points ran.
Every violation is a plain Scenario (its ``choices`` fixed), so it replays.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from models.dist import Dist
from models.faults import Fault
from models.scenario import Scenario
from sim.runtime.chooser import Chooser

LEVELS = (0, 1000)


def tiny(lock: str = "seed", lock_params: tuple[tuple[str, Any], ...] = (),
         gap_ms: float = 0.0, faults: tuple[Fault, ...] = ()) -> Scenario:
    """Two requests on two servers, ``gap_ms`` apart; only Redis latencies vary.

    Client and database latencies are constants (no draws), so every choice
    point is a message between an app server and Redis: their order is what
    exhaustive search permutes. ``faults`` draw nothing either: a fault aimed
    at a protocol event (``crash:0@cmd=2``) strikes in every interleaving, at
    the same point of the protocol, so the search permutes around it."""
    return Scenario(faults=faults,
        servers=2, requests=2, vus=2, load="scheduled", arrivals_ms=(0.0, gap_ms),
        lock=lock, lock_params=lock_params, stock=10, seed=1, horizon_ms=60_000.0,
        client_latency=Dist("const", 0.5), storage_latency=Dist("const", 0.3),
        redis_latency=Dist("uniform", 0.05, 2.0),
    )


class _Probe(Chooser):
    """A chooser that notes, at each of the first ``depth`` draws, what the world has done."""

    def __init__(self, seed: int, choices: tuple[int, ...], depth: int) -> None:
        super().__init__(seed, choices)
        self.depth = depth
        self.world: Any = None
        self.points: list[tuple[str, bool]] = []  # (state fingerprint, branchable)
        self._in_token = False
        self._hash = hashlib.blake2b(digest_size=12)
        self._seen_ops = 0
        self._seen_cmds = 0

    def _unit(self) -> float | None:
        if self._next < self.depth:
            self.points.append((self.fingerprint(), not self._in_token))
        return super()._unit()

    def token(self) -> str:
        self._in_token = True
        try:
            return super().token()
        finally:
            self._in_token = False

    def fingerprint(self) -> str:
        """The untimed history and Redis command log so far, as one digest."""
        world = self.world
        if world is None:
            return "start"
        ops = world.recorder._ops
        for op in ops[self._seen_ops:]:
            self._hash.update(f"{op.process}|{op.type}|{op.f}|{op.value!r}\n".encode())
        self._seen_ops = len(ops)
        log = world.redis.monitor or ()
        for entry in log[self._seen_cmds:]:
            client, argv = entry[1], entry[-1]
            self._hash.update(f"{client}|{argv!r}\n".encode())
        self._seen_cmds = len(log)
        return self._hash.hexdigest()


@dataclass(frozen=True)
class Finding:
    """A violating run: its choices make it a plain, replayable scenario."""

    scenario: Scenario
    violated: tuple[str, ...]
    trace_hash: str


@dataclass(frozen=True)
class Exhaustion:
    """What a bounded exhaustive search did and found."""

    lock: str
    depth: int
    levels: tuple[int, ...]
    runs: int
    states: int
    edges: int
    outcomes: int
    covered: bool
    choice_points: int
    violations: dict[str, int]
    findings: tuple[Finding, ...]
    graph: nx.DiGraph = field(repr=False, compare=False)
    seconds: float = 0.0  # wall time, measured by the caller (search reads no clock)

    def as_dict(self) -> dict[str, Any]:
        return {
            "lock": self.lock, "depth": self.depth, "levels": list(self.levels),
            "runs": self.runs, "states": self.states, "edges": self.edges,
            "outcomes": self.outcomes, "covered": self.covered,
            "choice_points": self.choice_points, "seconds": round(self.seconds, 3),
            "violations": dict(sorted(self.violations.items())),
        }


def _run(scenario: Scenario, depth: int,
         properties: Sequence[str] | None) -> tuple[_Probe, Any, tuple[str, ...]]:
    from models.checkers import check_all
    from sim.world import World

    probe = _Probe(scenario.seed, scenario.choices, depth)
    world = World(scenario, monitor=True, chooser=probe)
    probe.world = world
    result = world.run()
    verdicts = check_all(result.history, list(properties) if properties else None,
                         truth=result)  # ground truth: what Redis did, as explore judges
    return probe, result, tuple(v.property for v in verdicts if v.valid is False)


def exhaust(scenario: Scenario, depth: int = 8, levels: Sequence[int] = LEVELS,
            max_runs: int = 5000, properties: Sequence[str] | None = None,
            progress: Callable[[int], None] | None = None) -> Exhaustion:
    """Run every combination of the first ``depth`` choice points at ``levels``."""
    levels = tuple(levels)
    if depth < 0 or not levels or any(not 0 <= v <= 1000 for v in levels):
        raise ValueError("depth must be >= 0 and levels within 0..1000")
    graph = nx.DiGraph()
    graph.add_node("start", depth=0)
    stack: list[tuple[int, ...]] = [()]
    runs = 0
    deepest = 0
    findings: list[Finding] = []
    violations: dict[str, int] = {}
    outcomes: set[str] = set()
    while stack and runs < max_runs:
        prefix = stack.pop()
        choices = prefix + (levels[0],) * (depth - len(prefix))
        probe, result, violated = _run(scenario.with_(choices=choices), depth, properties)
        runs += 1
        if progress:
            progress(1)
        points = probe.points
        deepest = max(deepest, len(points))
        previous = "start"
        for i, (state, _branchable) in enumerate(points):
            node = f"s:{state}"
            graph.add_node(node, depth=i)
            if previous != node:
                graph.add_edge(previous, node)
            previous = node
        leaf = f"end:{result.trace_hash[:24]}"
        graph.add_node(leaf, violated=",".join(violated), depth=len(points))
        graph.add_edge(previous, leaf, choice=choices[len(points) - 1] if points else -1)
        outcomes.add(leaf)
        if violated:
            for prop in violated:
                violations[prop] = violations.get(prop, 0) + 1
            used = choices[:len(points)]
            findings.append(Finding(scenario.with_(choices=used), violated, result.trace_hash))
        # Branch on every choice point this run reached past the prefix; later
        # points first on the stack's top, so the search goes depth first.
        for i in range(len(prefix), len(points)):
            if points[i][1]:
                for value in reversed(levels[1:]):
                    stack.append((*choices[:i], value))
    return Exhaustion(
        lock=scenario.lock, depth=depth, levels=levels, runs=runs,
        states=graph.number_of_nodes() - len(outcomes) - 1, edges=graph.number_of_edges(),
        outcomes=len(outcomes), covered=not stack, choice_points=deepest,
        violations=violations,
        findings=tuple(findings), graph=graph,
    )
