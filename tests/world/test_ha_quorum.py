"""Three Sentinels and a quorum: each judges the master from its own view, a quorum must
agree, a majority must elect the one that fails over; each result against a control."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from models.faults import Crash, Fault, Partition, Pause, parse_fault
from models.scenario import Scenario, ScenarioError
from models.topology import fault_targets
from sim.search.strategies import scenarios
from sim.world import World, run
from tests.world.test_ha_partitions import FAST, verdicts, world

LATE = (1000.0, 1001.0)  # both requests after a promotion at 500 (down-after 500)


def events(scenario: Scenario, until: float = 10_000.0) -> list[tuple[str, str]]:
    w = World(scenario)
    return [(op.f, op.node) for op in w.run_until(until) if op.process == "nemesis"
            and op.f in ("failover", "demote")]


def cut(*links: str, at: float = 0.0, ms: float = 6000.0) -> tuple[Fault, ...]:
    return tuple(Partition(at, ms, link) for link in links)


def test_one_sentinel_cut_from_the_master_does_not_fail_it_over_two_do():
    assert events(world(cut("redis1/sentinel1"), LATE)) == []  # SDOWN for one: no quorum
    two = world(cut("redis1/sentinel1", "redis1/sentinel2"), LATE)
    # ODOWN, sentinel1 elected; sentinel3 still sees redis1 and demotes it at once
    assert events(two) == [("failover", "redis2"), ("demote", "redis1")]
    assert events(world(cut("redis1/sentinel"), LATE))[0] == ("failover", "redis2")  # every one
    # the quorum is a parameter: one Sentinel's word is enough with sentinel_quorum=1
    assert events(world(cut("redis1/sentinel1"), LATE, sentinel_quorum=1))[0] == \
        ("failover", "redis2")


def test_sentinels_that_cannot_reach_each_other_do_not_agree():
    # sentinel1 lost redis1, sentinel2 lost everyone: both see it down, neither has a quorum
    assert events(world(cut("redis1/sentinel1", "sentinel2"), LATE)) == []
    # a dead master with two of three Sentinels isolated: no majority to elect a leader ...
    crash = Crash(0.0, None, "redis1")
    isolated = world((crash, *cut("sentinel1", "sentinel2", ms=2000.0)), LATE)
    w = World(isolated)
    history = w.run_until(10_000.0)
    failed_over = [op.time for op in history if op.f == "failover"]
    assert failed_over == [2000.0]  # ... until they reach each other again
    assert [op.time for op in World(world((crash,), LATE)).run_until(10_000.0)
            if op.f == "failover"] == [500.0]  # control: at down-after


def test_a_client_asks_a_sentinel_it_reaches():
    hold = Pause(1002.0, 2000.0, "app1")
    # app1 is cut from sentinel1 only: sentinel2 tells it of the switch, one holder at a time
    one = world((*cut("redis1/sentinel"), *cut("app1/sentinel1"), hold), LATE)
    assert verdicts(one)["mutual-exclusion"] is True
    # cut from every Sentinel, it keeps writing to the deposed master
    every = world((*cut("redis1/sentinel", "app1/sentinel"), hold), LATE)
    assert verdicts(every)["mutual-exclusion"] is False


def test_a_link_between_two_sentinels_splits_their_votes_and_leaves_one_stale():
    crash = Crash(0.0, None, "redis1")
    # sentinel1 and sentinel2 cannot talk: with sentinel3 each still makes a majority of 3
    assert [op.time for op in World(world((crash, *cut("sentinel1/sentinel2")), LATE))
            .run_until(10_000.0) if op.f == "failover"] == [500.0]
    # sentinel3 cut from both peers (still reached by clients) and sentinel1/sentinel2 cut:
    # no two Sentinels talk, no majority, no failover until a link heals
    split = cut("sentinel1/sentinel2", "sentinel1/sentinel3", "sentinel2/sentinel3", ms=2000.0)
    assert [op.time for op in World(world((crash, *split), LATE)).run_until(10_000.0)
            if op.f == "failover"] == [2000.0]
    # a Sentinel cut from its peers only keeps the old configuration and says so to a client
    w = World(world((crash, *cut("sentinel3/sentinel1", "sentinel3/sentinel2")), LATE))
    w.run_until(1_000.0)
    assert w.sentinel is not None
    assert [w.sentinel.says(s)[1] for s in w.sentinel.names] == ["redis2", "redis2", "redis1"]
    assert cut("sentinel1/sentinel2")[0].node in fault_targets(
        world(()).redis_topology(), 2)


def test_the_old_spellings_keep_their_meaning_and_new_ones_parse():
    # every Sentinel cut from redis1, or every Sentinel cut off: the same as one logical one
    assert events(world(cut("redis1"), LATE))[0] == ("failover", "redis2")
    assert events(world(cut("sentinel"), LATE)) == []  # none sees a replica either
    for node in ("redis1/sentinel2", "app2/sentinel3", "sentinel1"):
        assert parse_fault(f"partition:0:100:{node}").node == node
        world(cut(node)).validate()
    with pytest.raises(ScenarioError, match="unknown node"):
        world(cut("redis1/sentinel4")).validate()  # three Sentinels
    world(cut("redis1/sentinel4"), sentinels=5, sentinel_quorum=3).validate()
    with pytest.raises(ScenarioError, match="more than"):
        world((), sentinel_quorum=4).validate()
    with pytest.raises(ScenarioError, match="need sentinel:N"):
        world((), topology="replicas:2", sentinels=5).validate()
    assert "sentinels" not in world((), lag=FAST).to_dict()  # defaults stay out of files


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(scenarios("polling", faults=("partition", "failover"), topology="sentinel:2",
                 world=(("down_after_ms", 500.0),)))
def test_hypothesis_cuts_single_sentinels_and_the_runs_replay(scenario):
    scenario.validate()
    assert run(scenario).trace_hash == run(scenario).trace_hash
