"""What each lock design promises on each Redis topology: ``pytest properties/``.

Each design is judged on the property it promises (``sim.world.stories.DESIGNS``:
mutual exclusion for the locks, the coupon rules for ``seed-fenced`` and
``lua-atomic``, validity-respecting exclusion for Redlock) under each
topology's failure story and under its remedy (``sim.world.stories.STORIES``).
``MATRIX`` is the README's table "What each design promises on each
topology", cell for cell; the tests below it show why the n/a cells mean
nothing, the fence counter that failed over with the lock, and Redlock's
results over bounded exhaustive exploration.
"""

from __future__ import annotations

import re
import time
from itertools import pairwise
from pathlib import Path

import pytest

from models.checkers import check_all
from models.faults import Clock, Crash
from models.scenario import ScenarioError
from sim.search.exhaustive import exhaust
from sim.world import World, run
from sim.world.stories import (
    CUT,
    DESIGNS,
    FROZEN,
    INSIDE,
    STORIES,
    TOPOLOGIES,
    TTL_MS,
    cell,
    redlock,
    trial,
)

ME, SC, VE = "fails (mutual-exclusion)", "fails (stock-conservation)", "fails (validity-exclusion)"
SINGLE, NEVER, MASTERS = ("n/a (one node: as single)", "n/a (no replica acks: never enters)",
                          "n/a (needs N masters)")
MATRIX: dict[str, tuple[str, str, str, str]] = {  # single, replicas:2, sentinel:2, redlock:3
    "seed": (f"{ME} / holds", f"{ME} / holds", f"{ME} / holds", SINGLE),
    "seed-fenced": (f"{SC} / holds", f"{SC} / holds", f"{SC} / holds", SINGLE),
    "polling": (f"{ME} / holds", f"{ME} / holds", f"{ME} / holds", SINGLE),
    "blpop": (f"{ME} / holds", f"{ME} / holds", f"{ME} / holds", SINGLE),
    "redisson": (f"{ME} / holds", f"{ME} / holds", f"{ME} / holds", SINGLE),
    "redisson wait_replicas=1": (NEVER, f"{ME} / holds", "holds / holds", NEVER),
    "lua-atomic": (f"{SC} / holds", f"{SC} / holds", f"{SC} / holds", SINGLE),
    "redlock": (MASTERS, MASTERS, MASTERS, f"{VE} / holds"),
}
README = Path(__file__).resolve().parents[1] / "README.md"
HEADER = "| design (promises) | single | replicas:2 | sentinel:2 | redlock:3 |"


@pytest.mark.parametrize("topology", TOPOLOGIES)
@pytest.mark.parametrize("design", list(MATRIX))
def test_each_design_keeps_or_breaks_its_promise_on_each_topology(design, topology):
    assert cell(design, topology) == MATRIX[design][TOPOLOGIES.index(topology)]


def test_the_matrix_covers_every_design_and_the_readme_prints_it():
    assert list(MATRIX) == list(DESIGNS) and list(STORIES) == list(TOPOLOGIES)
    text = README.read_text()
    section = text[text.index("## High availability"):]
    table = section[section.index(HEADER):].split("\n\n")[0].splitlines()[2:]
    rows = {m[1]: tuple(c.strip() for c in m[2].split("|"))
            for m in (re.match(r"^\| `([^`]+)`[^|]*\|(.*)\|$", line) for line in table) if m}
    assert rows == {d: tuple(_short(c) for c in cells) for d, cells in MATRIX.items()}


def _short(cell_text: str) -> str:
    """The README's spelling of a cell: ME / SC / VE for the properties."""
    for name, tag in (("mutual-exclusion", "ME"), ("stock-conservation", "SC"),
                      ("validity-exclusion", "VE")):
        cell_text = cell_text.replace(name, tag)
    return cell_text


# -- the n/a cells, shown ---------------------------------------------------------------------
def test_redlock_off_its_masters_is_refused_or_answered_readonly():
    with pytest.raises(ScenarioError, match="needs Redis node"):
        trial("redlock", "single").validate()
    for topology in ("replicas:2", "sentinel:2"):  # redis2, redis3 are replicas there
        result = run(trial("redlock", topology))
        assert not [op for op in result.history if op.f == "enter"]
        assert any("READONLY" in repr(reply) for *_, reply in result.redis_log)


def test_redisson_waiting_for_a_replica_that_is_not_there_never_enters():
    for topology in ("single", "redlock:3"):
        scenario = trial("redisson wait_replicas=1", topology).with_(horizon_ms=4000.0)
        result = run(scenario)
        assert not [op for op in result.history if op.f == "enter"]
        tries = [op for op in result.history if op.f == "attempt" and op.type == "ok"]
        assert len(tries) >= 3  # locked, no replica acknowledged, undone: again, for ever
        for process in {op.process for op in tries}:  # each WAIT 1 blocked its whole timeout
            mine = [op.time for op in tries if op.process == process]
            assert all(b - a >= 1000.0 for a, b in pairwise(mine)), mine


@pytest.mark.parametrize("design", [d for d in MATRIX if MATRIX[d][3] == SINGLE])
def test_a_one_node_design_on_redlock_masters_talks_to_redis1_only(design):
    world = World(trial(design, "redlock:3"))
    world.run()
    assert [n for n, node in world.nodes.items() if node.commands] == ["redis1"]


# -- the fence counter fails over with the lock ------------------------------------------------
@pytest.mark.parametrize("topology", ["single", "replicas:2", "sentinel:2"])
def test_fenced_storage_breaks_only_where_the_fence_counter_regressed(topology):
    def fences(remedy: bool) -> list[object]:
        result = run(trial("seed-fenced", topology, remedy))
        return [op.value[1] for op in result.history if op.f == "enter" and op.type == "ok"]

    assert fences(False) == [1, 1]  # the INCR was lost with the key: both write with fence 1
    assert fences(True) == [1, 2]  # the counter survived: the second holder's fence is newer


# -- Redlock, 3 masters, 2 clients, TTL 3 units: bounded exhaustive ----------------------------
BOTH = ("belief-exclusion", "validity-exclusion")
JUMP = Clock(500.0, float(TTL_MS), 0.0, "redis2")  # redis2's clock jumps forward by the TTL
RESTART = Crash(500.0, 10.0, "redis2")
REDLOCK = [  # story, faults, settings, app2's arrival, (belief-exclusion, validity-exclusion)
    ("frozen past validity", (FROZEN,), {}, 100.0, (False, True)),
    ("cut, frozen within validity", (CUT, INSIDE), {}, 100.0, (True, True)),
    ("+ clock jump by the TTL", (CUT, INSIDE, JUMP), {}, 600.0, (False, False)),
    ("+ restart, no persistence", (CUT, INSIDE, RESTART), {}, 600.0, (False, False)),
    ("+ restart, aof-always", (CUT, INSIDE, RESTART), {"persistence": "aof-always"}, 600.0,
     (True, True)),
    ("+ restart later than the TTL", (CUT, INSIDE, RESTART),
     {"restart_delay_ms": float(TTL_MS + 100)}, 600.0, (True, True)),
]


@pytest.mark.parametrize(("story", "faults", "settings", "second_at", "expected"), REDLOCK,
                         ids=[r[0] for r in REDLOCK])
def test_redlock_over_every_explored_schedule(story, faults, settings, second_at, expected,
                                              capsys):
    """Every combination of the first 10 latency draws at both ends: the verdict is the same
    in every run, and the explorer says it covered the space."""
    scenario = redlock(faults, second_at, **settings)
    result = run(scenario)
    once = tuple(v.valid for v in check_all(result.history, list(BOTH), truth=result))
    assert once == expected
    start = time.perf_counter()
    found = exhaust(scenario, depth=10, properties=BOTH)
    took = time.perf_counter() - start
    assert found.covered and found.runs >= 256 and found.states > 0
    for prop, holds in zip(BOTH, expected, strict=True):
        assert found.violations.get(prop, 0) == (0 if holds else found.runs), (prop, found)
    with capsys.disabled():
        print(f"\n  redlock:3 {story}: {found.runs} runs, {found.states} states, covered, "
              f"belief-exclusion violated in {found.violations.get(BOTH[0], 0)}, "
              f"validity-exclusion in {found.violations.get(BOTH[1], 0)} ({took:.1f} s)")
