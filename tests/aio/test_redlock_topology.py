"""pottery's AIORedlock over ``redlock:3``: one client per master, every master written,
judged by the same checkers as over one node. Every scenario passes the self-check."""

from __future__ import annotations

from typing import Any

import pytest

from models.faults import parse_fault
from models.scenario import Scenario
from sim.aio import check_determinism, run_handler
from sim.aio.runner import judge

pytest.importorskip("pottery")

HANDLER = "examples.coupon_handler:handle_redlock"
BASE = Scenario(servers=2, vus=5, requests=30, topology="redlock:3")


def judged(scenario: Scenario) -> tuple[Any, dict[str, Any]]:
    run, same = check_determinism(scenario, HANDLER)
    assert same.same, str(same)
    return run, {v.property: v for v in judge(run)}


def test_every_master_takes_every_lock_and_every_property_holds() -> None:
    run, v = judged(BASE)
    assert [p for p, x in v.items() if x.valid is False] == []
    assert run.result.completed == 30 and run.result.stock_left == 1000 - 30
    by_node: dict[str, int] = {}
    for e in run.result.effects:
        by_node[e.node] = by_node.get(e.node, 0) + 1
    assert sorted(by_node) == ["redis1", "redis2", "redis3"]
    assert len(set(by_node.values())) == 1  # a SET and a release on each, for every request
    # the three SET NX of one round are one attempt, not two retries of the first
    attempts = [o for o in run.result.history if o.f == "attempt"]
    assert not any(o.type == "info" for o in attempts)


def test_a_pause_longer_than_the_ttl_lets_a_second_holder_in_as_on_one_node() -> None:
    pause = parse_fault("pause:20:6000:holder")
    _run, v = judged(BASE.with_(faults=(pause,)))
    one = {x.property: x for x in judge(run_handler(
        Scenario(servers=2, vus=5, requests=30, faults=(pause,)), HANDLER))}
    for prop in ("mutual-exclusion", "held-until-release", "foreign-release",
                 "owner-only-release"):
        assert v[prop].valid is one[prop].valid, prop
    assert v["mutual-exclusion"].valid is False
    assert "ReleaseUnlockedLock" in v["mutual-exclusion"].story


def test_one_master_restarting_empty_leaves_a_quorum() -> None:
    # redis2 loses every key mid-run; two of three masters still hold each lock
    run, v = judged(BASE.with_(faults=(parse_fault("redis-restart:300:0:redis2"),)))
    assert any(o.f == "crash" and o.node == "redis2" for o in run.result.history)
    assert v["mutual-exclusion"].valid is True
    assert run.result.completed == 30  # the clients of redis2 reconnected


def test_each_master_listens_on_its_own_host_and_port(request: pytest.FixtureRequest) -> None:
    from sim.aio.runner import AioWorld

    world = AioWorld(BASE.with_(handler=HANDLER), lambda *a: None)  # type: ignore[arg-type,return-value]
    request.addfinalizer(world.close)
    routes = {addr: name for addr, (name, _node) in world.directory.addresses.items()}
    assert routes[("redis2", 6379)] == "redis2" and routes[("127.0.0.1", 6381)] == "redis3"
    assert routes[("redis", 6379)] == "redis1" and routes[("localhost", 6379)] == "redis1"
    assert world.directory.clients == (("redis1", 6379), ("redis2", 6379), ("redis3", 6379))
