"""The new HA faults in every search: swarms (``check --faults``), shrinking,
Hypothesis strategies and the bounded exhaustive explorer, each against a control."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from models.dist import Dist
from models.faults import Failover, describe
from sim.search.exhaustive import exhaust
from sim.search.explore import SWARM, Job, plan, run_schedule
from sim.search.shrink import shrink
from sim.search.strategies import scenarios
from sim.world import run
from tests.world.test_ha_partitions import HOLD, world

# a lease no pause outlasts: only a failover can break exclusion here
LONG = SWARM.with_(topology="sentinel:2", down_after_ms=500.0, lock="polling",
                   lock_params=(("ttl_ms", 60_000),))
KINDS = ("failover", "lag", "pause")


def _violating(kinds: tuple[str, ...], n: int) -> list[int]:
    return [i for i in range(n) if "mutual-exclusion" in run_schedule(
        Job("polling", kinds, 1, i, properties=("mutual-exclusion",), template=LONG)).violated]


def test_a_swarm_with_failovers_finds_the_lost_lock_and_shrinks_it():
    found = _violating(KINDS, 50)
    assert found == [48]
    drawn = plan(Job("polling", KINDS, 1, found[0], template=LONG))
    assert any(isinstance(f, Failover) for f in drawn.faults)
    small = shrink(drawn, "mutual-exclusion")
    assert len(small.faults) <= len(drawn.faults)
    assert any(isinstance(f, Failover) for f in small.faults)
    assert "Sentinel promotes" in " ".join(describe(f) for f in small.faults)
    assert _violating(("pause",), 50) == []  # control: pauses alone never outlast the lease


def test_swarms_place_partitions_on_single_links_with_sentinel():
    nodes = {f.node for i in range(60)
             for f in plan(Job("polling", ("partition", "redis"), 1, i, template=LONG)).faults
             if f.kind == "partition"}
    assert any(n.endswith("/sentinel") for n in nodes)
    assert any(n.startswith("redis") and "/redis" in n for n in nodes)
    single = {f.node for i in range(40)
              for f in plan(Job("polling", ("partition",), 1, i)).faults}
    assert not any("/" in n for n in single)  # one Redis: schedules as they were


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(scenarios("polling", faults=("failover", "lag", "partition"), topology="sentinel:2",
                 world=(("down_after_ms", 500.0),)))
def test_hypothesis_draws_ha_faults_that_run_and_replay(scenario):
    scenario.validate()
    assert run(scenario).trace_hash == run(scenario).trace_hash


def test_the_exhaustive_explorer_branches_on_replica_lag_around_a_failover():
    """Every combination of the first 5 draws at both ends: with constant Redis latencies
    they are the replica lags (and their acks)."""
    lag = Dist("uniform", 0.1, 100.0)  # low end: replicated in time; high end: lost
    const = Dist("const", 0.1)
    found = exhaust(world((HOLD, Failover(10.0)), lag=lag, redis_latency=const), depth=5,
                    properties=("mutual-exclusion",))
    assert found.covered and found.runs >= 8
    assert 0 < found.violations.get("mutual-exclusion", 0) < found.runs
    waited = exhaust(world((HOLD, Failover(10.0)), (0.0, 600.0), lag=lag, lock="redisson",
                           params=(("wait_replicas", 1),), redis_latency=const), depth=5,
                     properties=("mutual-exclusion",))
    assert waited.covered and waited.violations.get("mutual-exclusion", 0) == 0
