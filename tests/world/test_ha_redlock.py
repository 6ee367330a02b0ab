"""Redlock over 3 masters, 2 clients, TTL 3 units (1 unit = 1000 ms): the public TLA+
spec's configuration, and the known results of issue 15.

A holder believes it holds from enter to leave; a validity-respecting holder
stops at its validity deadline. Belief-exclusion fails as soon as a holder is
frozen past its validity; validity-exclusion holds with ideal clocks and no
restarts, over every schedule of the explored choice points, and fails once
a node's clock jumps forward by the TTL during a partition, or a node
restarts without persistence.
"""

from __future__ import annotations

import pytest

from models.checkers import check_all
from models.checkers.validity import lease_end
from models.faults import Clock, Crash, Partition
from models.locks import make_lock
from models.locks.effect import Call, Parallel
from models.scenario import Scenario, ScenarioError
from sim.search.exhaustive import exhaust
from sim.world import run
from sim.world.stories import CUT, FROZEN, INSIDE, redlock
from sim.world.stories import TTL_MS as TTL

BOTH = ["belief-exclusion", "validity-exclusion"]


def judged(scenario: Scenario) -> dict[str, bool | None]:
    result = run(scenario)
    names = [*BOTH, "mutual-exclusion", "foreign-release"]
    return {v.property: v.valid for v in check_all(result.history, names, truth=result)}


def test_the_design_is_pottery_and_node_redlock():
    lock = make_lock("redlock", ttl_ms=TTL)
    assert (lock.quorum, lock.drift_ms, lock.nodes) == (2, 32.0, ("redis1", "redis2", "redis3"))
    program = lock.acquire("lock:k")
    program.send(None)
    program.send("tok")  # the token
    program.send(None)  # invoke acquire
    program.send(None)  # invoke attempt
    fan = program.send(0.0)  # the local clock at the attempt's start
    assert isinstance(fan, Parallel) and [c.node for c in fan.calls] == list(lock.nodes)
    assert all(isinstance(c, Call) and c.argv[3:] == ("NX", "PX", TTL) for c in fan.calls)


def test_a_holder_frozen_past_its_validity_still_believes():
    got = judged(redlock((FROZEN,), second_at=100.0))
    assert got["belief-exclusion"] is False and got["mutual-exclusion"] is False
    assert got["validity-exclusion"] is True


def test_validity_exclusion_holds_over_every_explored_schedule():
    """Bounded exhaustive: every combination of the first 8 latency draws, at both ends."""
    for faults in ((FROZEN,), (CUT, INSIDE)):
        found = exhaust(redlock(faults, second_at=100.0), depth=8, properties=BOTH)
        assert found.covered and found.runs >= 64 and found.states > 0
        assert found.violations.get("validity-exclusion", 0) == 0
        if faults == (FROZEN,):
            assert found.violations["belief-exclusion"] == found.runs


def test_a_clock_jump_forward_by_the_ttl_during_a_partition_breaks_it():
    assert judged(redlock((CUT, INSIDE)))["validity-exclusion"] is True
    jump = Clock(500.0, float(TTL), 0.0, "redis2")
    got = judged(redlock((CUT, INSIDE, jump)))
    assert got["validity-exclusion"] is False
    assert got["foreign-release"] is True  # redis2 expired the key itself: no one overwrote it
    found = exhaust(redlock((CUT, INSIDE, jump)), depth=6, properties=BOTH)
    assert found.covered and found.violations["validity-exclusion"] == found.runs
    # a jump smaller than what was left of the key's TTL changes nothing
    assert judged(redlock((CUT, INSIDE, Clock(500.0, 1000.0, 0.0, "redis2"))))[
        "validity-exclusion"] is True


@pytest.mark.parametrize(("settings", "safe"), [
    ({}, False),  # no persistence: redis2 comes back empty, app2 takes redis2 and redis3
    ({"persistence": "aof-always"}, True),
    ({"restart_delay_ms": float(TTL + 100)}, True),  # restart later than the max TTL
    ({"persistence": "aof-everysec"}, False),  # the key was set before the first fsync
])
def test_a_node_restart_without_persistence_breaks_it(settings, safe):
    got = judged(redlock((CUT, INSIDE, Crash(500.0, 10.0, "redis2")), **settings))
    assert got["validity-exclusion"] is safe


def test_a_holder_whose_clock_runs_slow_overstays_in_true_time():
    assert lease_end(100.0, 1000.0, []) == 1100.0
    assert lease_end(100.0, 1000.0, [(600.0, 300.0, 0.0)]) == 800.0  # steps 300 ms ahead
    assert lease_end(100.0, 1000.0, [(0.0, 0.0, -0.5)]) == 2100.0  # runs at half speed
    assert lease_end(100.0, 1000.0, [(200.0, 5000.0, 0.0)]) == 200.0


def test_redlock_needs_its_masters_in_the_topology():
    with pytest.raises(ScenarioError, match="redis2, redis3"):
        Scenario(lock="redlock", topology="redlock:1").validate()
    with pytest.raises(ScenarioError, match="unknown node"):
        redlock((Partition(0.0, 1.0, "app1/redis4"),)).validate()


def test_runs_replay_byte_for_byte():
    scenario = redlock((CUT, INSIDE, Clock(500.0, float(TTL), 0.0, "redis2")))
    assert run(scenario).trace_hash == run(scenario).trace_hash
    other = redlock((CUT, INSIDE, Clock(500.0, float(TTL), 0.0, "redis2")), seed=2)
    assert run(other).trace_hash != run(scenario).trace_hash


def test_a_renewal_moves_the_validity_deadline():
    from models.checkers.validity import check_validity_exclusion
    from models.history import Recorder

    def history(renewed: int):
        r = Recorder()
        r.record(0.0, "app1/req1", "invoke", "acquire", "k", "app1")
        r.record(1.0, "app1/req1", "ok", "acquire", ("t1", None, 1000), "app1")
        r.record(1.0, "app1/req1", "ok", "enter", ("t1", None), "app1")
        r.record(800.0, "app1/req1/watchdog", "invoke", "extend", "t1", "app1")
        r.record(801.0, "app1/req1/watchdog", "ok", "extend", ("t1", renewed, 1000), "app1")
        r.record(1500.0, "app2/req2", "invoke", "acquire", "k", "app2")
        r.record(1500.0, "app2/req2", "ok", "acquire", ("t2", None, 1000), "app2")
        r.record(1500.0, "app2/req2", "ok", "enter", ("t2", None), "app2")
        r.record(1501.0, "app2/req2", "ok", "leave", ("t2", None), "app2")
        r.record(1700.0, "app1/req1", "ok", "leave", ("t1", None), "app1")
        return r.history()

    assert check_validity_exclusion(history(1)).valid is False  # renewed until 1800: overlap
    assert check_validity_exclusion(history(0)).valid is True  # not renewed: valid until 1001
