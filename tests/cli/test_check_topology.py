"""`check --redis`: random swarms over several Redis nodes find Redlock's known failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.cli.main import main
from sim.search.explore import Job, plan


def test_redlock_swarms_find_validity_exclusion_and_replay(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cx"
    code = main(["check", "--redis", "redlock:3", "--lock", "redlock", "--lock-param",
                 "ttl_ms=3000", "--properties", "validity-exclusion", "--schedules", "400",
                 "--workers", "1", "--out", str(out), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 1
    (cx,) = [c for c in summary["counterexamples"] if c["property"] == "validity-exclusion"]
    saved = json.loads(Path(cx["file"]).read_text())
    assert saved["scenario"]["topology"] == "redlock:3"
    # what broke the assumption Redlock rests on: a node's clock or its lost keys
    nodes = {f["node"] for f in saved["scenario"]["faults"]}
    assert nodes & {"redis1", "redis2", "redis3"}
    assert main(["replay", cx["file"]]) == 0
    assert "same trace hash" in capsys.readouterr().out


def test_drawn_redis_faults_land_on_the_templates_nodes() -> None:
    from sim.search.explore import SWARM

    template = SWARM.with_(topology="redlock:3", lock="redlock")
    kinds = ("redis", "clock")
    for index in range(40):
        sc = plan(Job("redlock", kinds, 1, index, template=template))
        assert all(f.node != "redis" for f in sc.faults)
        sc.validate()
    single = plan(Job("seed", kinds, 1, 3))  # one node: the same schedule as ever
    assert single == plan(Job("seed", kinds, 1, 3)) and single.topology == "single"


def test_a_topology_check_cannot_build_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--redis", "redlock:0", "--schedules", "3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "redlock:N" in err[0]


def test_redlock_swarms_find_a_node_clock_counterexample_within_200_schedules(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Budget: 200 schedules, every fault kind (found at schedule 18, about 1 s)."""
    from models.checkers import check_all
    from models.scenario import Scenario
    from sim.world import run

    out = tmp_path / "cx"
    code = main(["check", "--redis", "redlock:3", "--lock", "redlock", "--lock-param",
                 "ttl_ms=3000", "--properties", "validity-exclusion", "--schedules", "200",
                 "--workers", "1", "--out", str(out), "--json"])
    assert code == 1
    (cx,) = json.loads(capsys.readouterr().out)["counterexamples"]
    assert cx["faults"] <= 4 and cx["requests"] <= 3  # a short story
    scenario = Scenario.from_dict(json.loads(Path(cx["file"]).read_text())["scenario"])
    node_clocks = [f for f in scenario.faults if f.kind == "clock" and f.node.startswith("redis")]
    assert node_clocks and not any(f.kind in ("redis-restart", "crash")
                                   and f.node.startswith("redis") for f in scenario.faults)

    def valid(sc: Scenario) -> bool | None:
        result = run(sc)
        return check_all(result.history, ["validity-exclusion"], truth=result)[0].valid

    assert valid(scenario) is False
    # the cause: without the nodes' clock faults the same schedule keeps Redlock's promise
    assert valid(scenario.with_(faults=tuple(f for f in scenario.faults
                                             if f not in node_clocks))) is True
    assert main(["replay", cx["file"]]) == 0
    assert "same trace hash" in capsys.readouterr().out


def test_node_clock_steps_reach_the_ttl_and_app_faults_reach_one_link() -> None:
    from sim.search.explore import SWARM

    template = SWARM.with_(topology="redlock:3", lock="redlock")
    kinds = ("clock", "partition", "delay")
    steps, links = [], 0
    for index in range(300):
        sc = plan(Job("redlock", kinds, 1, index, template=template))
        steps += [f.offset_ms for f in sc.faults
                  if f.kind == "clock" and f.node.startswith("redis")]
        links += sum("/" in f.node for f in sc.faults)
    # an app server's range (+-3000 ms) never expired a 3 s key on a node
    assert sum(s >= 3000 for s in steps) > len(steps) // 5
    assert sum(s > 0 for s in steps) > len(steps) // 2 and min(steps) < 0
    assert links > 30
