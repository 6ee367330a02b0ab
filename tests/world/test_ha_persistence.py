"""A Redis restart and what survives it: the known results of issue 15 for one node.

Schedule: app1's request takes the polling lock (TTL 3000 ms) and is frozen
inside its critical section for 2 s; Redis crashes at 100 ms and restarts
10 ms later; app2's request, polling since 50 ms, then finds the key or not.
"""

from __future__ import annotations

import pytest

from models.checkers import check_all
from models.redis.keyspace import Keyspace
from models.redis.persistence import Durable, Persistence, PersistenceError
from models.scenario import Scenario, ScenarioError
from sim.world import run
from sim.world.stories import restart

EXCLUSION = ["mutual-exclusion", "foreign-release"]


def verdicts(scenario: Scenario) -> dict[str, bool | None]:
    result = run(scenario)
    return {v.property: v.valid for v in check_all(result.history, EXCLUSION, truth=result)}


def enters(scenario: Scenario) -> list[tuple[str, float]]:
    return [(op.process, op.time) for op in run(scenario).history
            if op.f == "enter" and op.type == "ok"]


@pytest.mark.parametrize("delay", [0.0, 10.0])  # 0: today's in-place flush; 10: a real restart
def test_a_restart_without_persistence_loses_the_key_and_a_second_client_acquires(delay):
    got = verdicts(restart("none", delay))
    assert got["mutual-exclusion"] is False
    assert got["foreign-release"] is True  # nobody touched a live key: the key vanished
    (first, _), (second, t2) = enters(restart("none", delay))
    assert first.startswith("app1") and second.startswith("app2") and t2 < 2000.0


def test_aof_always_and_a_restart_delay_longer_than_the_ttl_is_safe():
    scenario = restart("aof-always", restart_delay_ms=4000.0)
    assert verdicts(scenario) == {"mutual-exclusion": True, "foreign-release": True}
    # app2 gets the lock only once the node is back and the key has expired on its clock
    (_, _), (second, t2) = enters(scenario)
    assert second.startswith("app2") and t2 >= 4110.0


def test_aof_always_alone_keeps_the_key_and_a_late_restart_alone_outlives_it():
    assert verdicts(restart("aof-always"))["mutual-exclusion"] is True
    assert verdicts(restart("none", restart_delay_ms=4000.0))["mutual-exclusion"] is True


def test_everysec_loses_the_writes_since_the_last_fsync():
    # the lock was set at ~1 ms; the first fsync instant is 1000 ms
    assert verdicts(restart("aof-everysec", crash_at=100.0))["mutual-exclusion"] is False
    # crashed after the 1000 ms fsync the key survives, and app1 is still frozen
    assert verdicts(restart("aof-everysec", crash_at=1500.0))["mutual-exclusion"] is True
    assert verdicts(restart("rdb:50", crash_at=100.0))["mutual-exclusion"] is True
    assert verdicts(restart("rdb:500", crash_at=100.0))["mutual-exclusion"] is False


def test_the_same_holds_on_a_node_of_a_multi_node_topology():
    assert verdicts(restart("none", topology="redlock:1"))["mutual-exclusion"] is False
    assert verdicts(restart("aof-always", 4000.0, topology="redlock:1"))["mutual-exclusion"]


def test_fsync_images_are_taken_at_the_instants_of_the_nodes_clock():
    ks = Keyspace()
    disk = Durable(Persistence.parse("aof-everysec"))
    ks.data[b"a"] = b"1"
    disk.before_command(ks, 999.0)  # no fsync instant passed yet
    assert disk.crash_image(ks, 999.5) == ({}, {})
    ks.data[b"b"] = b"2"
    disk.before_command(ks, 1000.0)  # the 1000 ms fsync saw a and b
    ks.data[b"c"] = b"3"
    assert disk.crash_image(ks, 1999.0)[0] == {b"a": b"1", b"b": b"2"}
    assert set(disk.crash_image(ks, 2000.0)[0]) == {b"a", b"b", b"c"}
    assert Durable(Persistence.parse("aof-always")).crash_image(ks, 1.0)[0][b"c"] == b"3"
    assert Durable(Persistence.parse("none")).crash_image(ks, 1.0) == ({}, {})


@pytest.mark.parametrize("bad", ["rdb:0", "rdb:x", "aof", "disk"])
def test_a_persistence_policy_that_means_nothing_is_refused(bad):
    with pytest.raises(PersistenceError):
        Persistence.parse(bad)
    with pytest.raises(ScenarioError, match=r"persistence|rdb"):
        Scenario(persistence=bad).validate()


def test_single_at_its_defaults_is_todays_world():
    plain = run(Scenario(requests=30, vus=5))
    assert run(Scenario(requests=30, vus=5, topology="single")).trace_hash == plain.trace_hash
    # a persistence policy makes it a node with a life of its own; fault-free, same run
    assert run(Scenario(requests=30, vus=5, persistence="aof-always")).trace_hash == \
        plain.trace_hash
