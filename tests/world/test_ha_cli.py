"""The topology on the command line, routing by node name, and Parallel's semantics."""

from __future__ import annotations

import json

import pytest

from models.faults import Partition, parse_fault
from models.locks.effect import TIMED_OUT, Call, Parallel
from models.redis.clock import NodeClock
from models.scenario import Scenario
from sim.cli.main import main
from sim.world import World

REDLOCK = ["run", "--redis", "redlock:3", "--lock", "redlock", "--ttl", "3000",
           "--users", "50", "--vus", "10", "--fault", "partition:0:10000:app1/redis3",
           "--fault", "pause:0:2000:holder"]


@pytest.mark.parametrize(("argv", "said"), [
    (["--redis", "sentinel:0"], "1..14 replicas"),
    (["--redis", "redlock:0"], "1..15"),
    (["--redis", "ring:3"], "unknown topology"),
    (["--persistence", "rdb:0"], "snapshot period"),
    (["--restart-delay", "-5"], "restart delay"),
    (["--fault", "crash:3000:1000:redis2"], "unknown node"),  # single has no redis2
    (["--lock", "redlock"], "needs Redis node(s)"),
])
def test_a_topology_that_cannot_be_built_is_one_line_and_exit_2(argv, said, capsys):
    assert main(["run", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert said in err and len(err.splitlines()) == 1


def test_redlock_run_reports_both_exclusions(capsys):
    assert main([*REDLOCK, "--json"]) == 0
    verdicts = {v["property"]: v["valid"] for v in json.loads(capsys.readouterr().out)["verdicts"]}
    assert verdicts["validity-exclusion"] is True and verdicts["belief-exclusion"] is True
    assert main([*REDLOCK, "--fault", "clock:500:+3000:redis2", "--json"]) == 1
    verdicts = {v["property"]: v["valid"] for v in json.loads(capsys.readouterr().out)["verdicts"]}
    assert verdicts["validity-exclusion"] is False


def test_list_names_the_topologies(capsys):
    assert main(["list", "--json"]) == 0
    names = [t["name"] for t in json.loads(capsys.readouterr().out)["topologies"]]
    assert names[:2] == ["single", "redlock:N"]


def test_node_faults_spell_as_the_issue_says():
    crash = parse_fault("crash:3000:1000:redis2")
    assert (crash.at_ms, crash.restart_after_ms, crash.node) == (3000.0, 1000.0, "redis2")
    clock = parse_fault("clock:3000:+5000:redis1")
    assert (clock.offset_ms, clock.node) == (5000.0, "redis1")
    assert parse_fault("partition:0:100:app1/redis3").node == "app1/redis3"


def test_parallel_waits_for_every_reply_or_its_timeout():
    scenario = Scenario(servers=1, requests=0, topology="redlock:3",
                        faults=(Partition(0.0, 5000.0, "app1/redis2"),))
    world = World(scenario)
    got: list[object] = []

    def program():
        got.append((yield Parallel(tuple(Call(("SET", "k", "v", "NX"), node=f"redis{i}")
                                         for i in (1, 2, 3)), 50.0)))
        got.append((yield Parallel((Call(("GET", "k"), node="redis3"),
                                    Call(("GET", "k"), node="redis1")))))
        got.append((yield Parallel(())))
        got.append((yield Call(("GET", "k"))))  # no node: the primary, redis1

    world.spawn("app1", "app1/test", program())
    world.run_until(10_000.0)
    assert got[0][0] == b"OK" and got[0][1] is TIMED_OUT and got[0][2] == b"OK"
    assert got[1] == (b"v", b"v") and got[2] == () and got[3] == b"v"
    # the partition held redis2's SET until the heal, then TCP delivered it
    assert world.nodes["redis2"].model.ks.data.get(b"k") == b"v"


def test_a_node_clock_maps_deadlines_back_to_true_time():
    clock = NodeClock(100.0, 0.0)
    assert clock.local(50.0) == 150.0
    clock.jump(1000.0, 5000.0, 0.0)  # at true 1000 it reads 6100
    assert clock.local(1000.0) == 6100.0
    assert clock.true_time(600.0) == 500.0  # passed before the jump
    assert clock.true_time(3000.0) == 1000.0  # skipped over by the jump
    assert clock.true_time(6200.0) == 1100.0
