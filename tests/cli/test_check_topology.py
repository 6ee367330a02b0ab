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
