"""Hypothesis strategies for scenarios and fault schedules, for users' own tests.

Everything a run decides is a draw: the requests' arrival times, the fault
schedule (kinds, nodes, times, durations), the run's first 64 choices
(latencies and tokens, as ``Scenario.choices``) and the seed behind the rest,
so Hypothesis shrinks the schedule itself towards fewer requests, fewer and
shorter faults and minimal latencies, and the result is a plain Scenario that
replays exactly.

    from hypothesis import given
    from sim.search.strategies import scenarios, judged

    @given(scenarios("seed-fenced", faults=("gc-pause",)))
    def test_fenced_keeps_the_stock(scenario):
        assert judged(scenario).holds("stock-conservation")
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import strategies as st

from models.faults import Fault, kind_of
from models.faults import kind as fault_kind
from models.scenario import Scenario

NODES = ("holder", "app1", "app2")
SENTINEL_LINKS = ("redis1", "redis1/sentinel", "app1/sentinel", "app2/sentinel",
                  "redis1/redis2", "redis1/sentinel1", "redis1/sentinel2", "sentinel3")
"""What a partition or delay may also strike on ``sentinel:N``: the deposed-master shapes,
and one Sentinel's view (two of three cut from the master make a quorum)."""


def fault(kind: str, max_at_ms: float = 3000.0, anchors: Sequence[float] = (),
          links: Sequence[str] = ()) -> st.SearchStrategy[Fault]:
    """One fault of ``kind`` (any name in ``models.faults.FAULTS``, or an old spelling).

    ``anchors`` (request arrival times): a fault may also strike up to 20 ms
    after one, in the few milliseconds a request holds the lock, which a
    uniform time over seconds almost never hits. ``links``: more targets for a
    partition or a delay (``SENTINEL_LINKS`` on a sentinel topology)."""
    declared = fault_kind(kind)  # unknown: a FaultError (a ValueError) naming the known
    at = st.integers(0, int(max_at_ms)).map(float)
    if anchors:
        near = st.tuples(st.sampled_from(tuple(anchors)), st.integers(0, 20_000)).map(
            lambda p: round(p[0] + p[1] / 1000.0, 3))
        at = st.one_of(at, near)
    nodes = (*NODES, *links) if declared.name in ("partition", "delay") else NODES
    return declared.strategy(st, at, st.sampled_from(nodes))  # type: ignore[no-any-return]


def fault_schedules(kinds: Sequence[str], max_faults: int = 3, anchors: Sequence[float] = (),
                    links: Sequence[str] = ()) -> st.SearchStrategy[tuple]:
    """Up to ``max_faults`` faults of the given kinds, in time order."""
    if not kinds:
        return st.just(())
    one = st.one_of(*(fault(k, anchors=anchors, links=links) for k in kinds))
    return st.lists(one, max_size=max_faults).map(
        lambda fs: tuple(sorted(fs, key=lambda f: f.at_ms)))


@st.composite
def scenarios(draw: Any, lock: str = "seed", faults: Sequence[str] = ("gc-pause",),
              max_requests: int = 4, max_faults: int = 3,
              lock_params: tuple[tuple[str, Any], ...] = (), topology: str = "single",
              world: tuple[tuple[str, Any], ...] = ()) -> Scenario:
    """A small coupon world: 1..max_requests arrivals, a fault schedule, and the
    run's first choices (latencies, tokens) drawn too, then a drawn seed.

    ``topology`` and ``world`` (more Scenario fields, e.g. ``down_after_ms``) shape
    the Redis side; on ``sentinel:N`` partitions and delays may cut single links."""
    # The later arrivals are one list (not a count, then a list of that size), so
    # the shrinker removes a request by deleting one element: always reachable.
    later = draw(st.lists(st.integers(0, 9000), max_size=max_requests - 1))
    arrivals = tuple(float(t) for t in sorted([0, *later]))
    n = len(arrivals)
    links = SENTINEL_LINKS if topology.startswith("sentinel:") else ()
    schedule = draw(fault_schedules(faults, max_faults, anchors=arrivals, links=links))
    if topology != "single":  # "redis" is the master of several (failover, lag keep it)
        schedule = tuple(f if f.node != "redis" or kind_of(f).ha else replace(f, node="redis1")
                         for f in schedule)
    choices = tuple(draw(st.lists(st.integers(0, 1000), max_size=64)))
    return Scenario(
        servers=2, requests=n, vus=n, load="scheduled", arrivals_ms=arrivals, lock=lock,
        lock_params=lock_params, stock=10, faults=schedule, seed=draw(st.integers(0, 2**16)),
        choices=choices, horizon_ms=60_000.0, topology=topology, **dict(world),
    )


@dataclass(frozen=True)
class Judged:
    """A run and its verdicts, with helpers for assertions."""

    scenario: Scenario
    result: Any
    verdicts: tuple[Any, ...]

    def violated(self) -> set[str]:
        return {v.property for v in self.verdicts if v.valid is False}

    def holds(self, *props: str) -> bool:
        return not (set(props) & self.violated())


def judged(scenario: Scenario, properties: Sequence[str] | None = None) -> Judged:
    """Run ``scenario`` and check it."""
    from models.checkers import check_all
    from sim.world import run

    result = run(scenario)
    return Judged(scenario, result,
                  check_all(result.history, list(properties) if properties else None))


def assert_holds(scenario: Scenario, *props: str, out: str = ".locksim/counterexamples") -> None:
    """Fail with a story, the replay command and the code to paste when ``props`` break.

    The failing scenario is also written as a counterexample file, so the
    exact run can be replayed (``locksim replay``) and kept as a regression seed.
    """
    from pathlib import Path

    from sim.search.counterexample import Counterexample, save

    j = judged(scenario)
    broken = [v for v in j.verdicts if v.property in props and v.valid is False]
    if not broken:
        return
    v = broken[0]
    cx = Counterexample(scenario, v.property, j.result.trace_hash, v.story, tuple(v.witness),
                        {"source": "hypothesis"})
    path = save(cx, Path(out))
    raise AssertionError(
        f"{v.property} violated: {v.summary}\n{cx.tell()}\n\n"
        f"replay it:  locksim replay {path}\n\nor paste this:\n{cx.to_code()}"
    )
