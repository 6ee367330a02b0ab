"""Issue 15's remaining HA model: failover and lag faults, partitions between any two
ends (a deposed master), min-replicas-to-write, client libraries that resend, and
Redisson's replicated mode. Each result against a control."""

from __future__ import annotations

import pytest

from models.checkers import check_all
from models.dist import Dist
from models.faults import Crash, Failover, Fault, Lag, Partition, Pause, parse_fault
from models.scenario import Scenario, ScenarioError
from sim.world import World, run
from sim.world.stories import FAST, HOLD, SLOW, two_clients


def world(faults: tuple[Fault, ...], arrivals: tuple[float, ...] = (0.0, 50.0),
          lock: str = "polling", lag: Dist = FAST, **kw: object) -> Scenario:
    params = kw.pop("params", ())
    return two_clients(faults, arrivals, lock, params, replica_lag=lag,  # type: ignore[arg-type]
                       down_after_ms=500.0, **{"topology": "sentinel:2", **kw})


def verdicts(scenario: Scenario) -> dict[str, bool | None]:
    result = run(scenario)
    return {v.property: v.valid for v in check_all(result.history, truth=result)}


# -- failover:T -------------------------------------------------------------------------------
def test_a_failover_fault_kills_whichever_node_is_master_and_sentinel_promotes():
    fault = parse_fault("failover:10")
    assert fault == Failover(10.0)
    assert verdicts(world((HOLD, fault), lag=SLOW))["mutual-exclusion"] is False
    assert verdicts(world((HOLD, fault), lag=FAST))["mutual-exclusion"] is True  # replicated
    w = World(world((Failover(10.0), Failover(2000.0))))
    twice = [(op.f, op.node) for op in w.run_until(5000.0) if op.process == "nemesis"]
    assert [e for e in twice if e[0] in ("crash", "failover")] == [
        ("crash", "redis1"), ("failover", "redis2"), ("crash", "redis2"), ("failover", "redis3")]


@pytest.mark.parametrize("topology", ["single", "replicas:2", "redlock:3"])
def test_a_failover_needs_sentinel_and_a_lag_needs_replicas(topology: str):
    with pytest.raises(ScenarioError, match="failover fault needs a sentinel:N topology"):
        world((Failover(10.0),), topology=topology).validate()
    if topology != "replicas:2":
        with pytest.raises(ScenarioError, match="lag fault needs a replicas:N"):
            world((Lag(0.0, 10.0, 5.0),), topology=topology).validate()


# -- lag:T:D:MS --------------------------------------------------------------------------------
def test_a_lag_spike_keeps_the_lock_off_the_promoted_replica():
    spike = parse_fault("lag:0:1000:200")
    assert spike == Lag(0.0, 1000.0, 200.0, "redis")
    crash = Crash(10.0, None, "redis1")
    assert verdicts(world((HOLD, spike, crash)))["mutual-exclusion"] is False
    assert verdicts(world((HOLD, crash)))["mutual-exclusion"] is True  # control: no spike
    only3 = world((HOLD, Lag(0.0, 1000.0, 200.0, "redis3"), crash))
    assert verdicts(only3)["mutual-exclusion"] is True  # redis2 has it and is promoted


# -- partitions between any two ends: the deposed master ---------------------------------------
CUT = (Partition(0.0, 6000.0, "redis1/sentinel"), Partition(0.0, 6000.0, "app1/sentinel"))
LATE = (1000.0, 1001.0)  # both requests come after Sentinel promoted redis2 (at 500)


def test_a_deposed_master_keeps_taking_writes_from_clients_that_still_reach_it():
    scenario = world((*CUT, Pause(1002.0, 2000.0, "app1")), LATE)
    result = run(scenario)
    sides = {op.process: op.node for op in result.history if op.f == "acquire"
             and op.type == "ok"}
    assert len(sides) == 2  # one holder on each side, at once
    assert verdicts(scenario)["mutual-exclusion"] is False
    assert set(sides.values()) == {"app1", "app2"}
    events = [(op.f, op.node) for op in result.history if op.process == "nemesis"]
    assert ("failover", "redis2") in events
    # control: app1 reaches Sentinel, hears +switch-master and moves to redis2 as well
    control = world((CUT[0], Pause(1002.0, 2000.0, "app1")), LATE)
    assert verdicts(control)["mutual-exclusion"] is True


def test_on_heal_the_deposed_master_is_demoted_and_its_writes_discarded():
    w = World(world((*CUT,), (*LATE, 8000.0)))  # a third request after the heal at 6000
    result = w.run()
    old, new = w.nodes["redis1"], w.nodes["redis2"]
    on_old = {e.key for e in result.effects if e.node == "redis1" and e.effect == "set"}
    assert any(k.startswith("sess:") for k in on_old)  # app1's writes went to redis1 ...
    assert ("demote", "redis1") in [(op.f, op.node) for op in result.history
                                    if op.process == "nemesis"]
    assert old.role == "replica"  # type: ignore[attr-defined]
    assert dict(old.model.ks.data) == dict(new.model.ks.data)  # ... and are gone: redis2's copy
    assert not on_old & set(k.decode() for k in new.model.ks.data)


def test_a_short_cut_or_a_cut_between_replicas_fails_nothing_over():
    short = World(world((Partition(0.0, 400.0, "redis1/sentinel"),), LATE))
    short.run()
    assert short.sentinel is not None and short.sentinel.failovers == 0
    between = World(world((Partition(0.0, 6000.0, "redis2/redis3"),), LATE))
    between.run()
    assert between.sentinel is not None and between.sentinel.failovers == 0


def test_a_cut_replica_link_or_a_lag_spike_holds_replication_and_acks():
    from tests.world.test_ha_sentinel import acks_within

    assert acks_within(()) == [2]
    assert acks_within((Partition(0.0, 1000.0, "redis1/redis2"),)) == [1]
    assert acks_within((Lag(0.0, 1000.0, 500.0, "redis2"),)) == [1]
    assert acks_within((Lag(0.0, 1000.0, 500.0, "redis"),)) == [0]  # every replica


@pytest.mark.parametrize("node", ["app1/sentinel", "redis1/sentinel", "redis1/redis2",
                                  "sentinel"])
def test_link_targets_parse_and_need_their_topology(node: str):
    fault = parse_fault(f"partition:0:100:{node}")
    assert fault.node == node
    world((fault,)).validate()
    with pytest.raises(ScenarioError, match="unknown node"):
        world((fault,), topology="single").validate()


# -- min-replicas-to-write ---------------------------------------------------------------------
def test_min_replicas_makes_the_deposed_master_refuse_and_exclusion_holds():
    faults = (*CUT, Pause(2002.0, 2000.0, "app1"))
    arrivals = (2000.0, 2001.0)  # redis1 has heard from no replica for 1.5 s
    assert verdicts(world(faults, arrivals))["mutual-exclusion"] is False  # control: off
    guarded = world(faults, arrivals, min_replicas_to_write=1, min_replicas_max_lag_s=1.0)
    result = run(guarded)
    refused = [e for e in result.redis_log if getattr(e[3], "code", "") == "NOREPLICAS"]
    assert refused  # app1's SET NX on redis1
    assert {v.property: v.valid for v in check_all(result.history, truth=result)}[
        "mutual-exclusion"] is True


def test_min_replicas_counts_replicas_by_their_last_report():
    from models.locks.effect import Call

    def program(got: list[object]):
        for _ in range(3):
            got.append((yield Call(("SET", "k", "v"))))
            yield Call(("PING",))

    def replies(faults: tuple[Fault, ...], lag_s: float) -> list[object]:
        w = World(Scenario(servers=1, requests=0, topology="replicas:2", replica_lag=FAST,
                           min_replicas_to_write=2, min_replicas_max_lag_s=lag_s,
                           faults=faults))
        got: list[object] = []
        w.at(1500.0, lambda: w.spawn("app1", "app1/p", program(got)))
        w.run_until(5_000.0)
        return [getattr(r, "code", r) for r in got]

    cut = (Partition(0.0, 3000.0, "redis1/redis3"),)
    assert replies((), 1.0) == [b"OK"] * 3
    assert replies(cut, 1.0) == ["NOREPLICAS"] * 3  # silent for 1.5 s > 1 s
    assert replies(cut, 2.0) == [b"OK"] * 3  # 1.5 s <= 2 s: still good
    with pytest.raises(ScenarioError, match="min_replicas_to_write needs"):
        Scenario(min_replicas_to_write=1).validate()


# -- client libraries: resend or not -----------------------------------------------------------
def test_resending_an_unanswered_set_nx_after_a_failover_changes_the_outcome():
    def scenario(library: str) -> Scenario:
        return world((Failover(0.0),), (100.0, 150.0), lock="seed", client_library=library)

    redis_py, ioredis = verdicts(scenario("redis-py")), verdicts(scenario("ioredis"))
    # redis-py: the SET NX fails with a connection error, the seed lock takes it for
    # "taken" and waits for a release message that never comes
    assert redis_py["request-answered"] is False
    # ioredis keeps it and sends it again to the promoted replica: it takes the lock
    assert ioredis["request-answered"] is True and ioredis["mutual-exclusion"] is True
    with pytest.raises(ScenarioError, match="unknown client_library"):
        Scenario(client_library="jedis").validate()


def test_a_bare_client_does_not_resubscribe_after_a_failover():
    from models.locks.effect import Subscribe, WaitMessage

    def listener(got: list[object]):
        yield Subscribe("ch")
        got.append((yield WaitMessage("ch", 5000.0)))

    def publisher():
        from models.locks.effect import Call
        yield Call(("PUBLISH", "ch", "hi"))

    def heard(library: str) -> list[object]:
        w = World(Scenario(servers=2, requests=0, topology="sentinel:2", replica_lag=FAST,
                           down_after_ms=200.0, client_library=library,
                           faults=(Failover(50.0, 100.0),)))
        got: list[object] = []
        w.spawn("app1", "app1/l", listener(got))
        w.at(1500.0, lambda: w.spawn("app2", "app2/p", publisher()))
        w.run_until(10_000.0)
        return got

    assert heard("redis-py") == [b"hi"]
    assert heard("bare") == [None]


# -- Redisson in replicated mode ---------------------------------------------------------------
def test_redisson_wait_replicas_keeps_exclusion_through_the_failover():
    crash = Crash(10.0, None, "redis1")
    after = (0.0, 600.0)  # app2 comes after the promotion (at 510)
    plain = world((HOLD, crash), after, lag=SLOW, lock="redisson")
    assert verdicts(plain)["mutual-exclusion"] is False
    waited = world((HOLD, crash), after, lag=SLOW, lock="redisson",
                   params=(("wait_replicas", 1), ("wait_timeout_ms", 1000)))
    assert verdicts(waited)["mutual-exclusion"] is True
    # no failover: WAIT returns 1 once the write reached a replica; the lock works
    calm = world((), lag=SLOW, lock="redisson", params=(("wait_replicas", 1),))
    result = run(calm)
    assert [op.type for op in result.history if op.f == "request" and op.type != "invoke"] \
        == ["ok", "ok"]
    with pytest.raises(ScenarioError, match="wait_replicas"):
        world((), lock="redisson", params=(("wait_replicas", -1),)).validate()


def test_the_new_faults_replay_byte_for_byte():
    scenario = world((*CUT, Lag(0.0, 500.0, 50.0), Pause(1002.0, 2000.0, "app1")), LATE,
                     client_library="ioredis", min_replicas_to_write=1)
    assert run(scenario).trace_hash == run(scenario).trace_hash
    again = Scenario.from_dict(scenario.to_dict())
    assert again == scenario and run(again).trace_hash == run(scenario).trace_hash


# -- the command line --------------------------------------------------------------------------
@pytest.mark.parametrize(("argv", "said"), [
    (["--fault", "failover:3000"], "failover fault needs a sentinel:N topology"),
    (["--redis", "replicas:2", "--fault", "failover:3000"], "needs a sentinel:N"),
    (["--fault", "lag:0:100:50"], "lag fault needs a replicas:N"),
    (["--redis", "sentinel:2", "--fault", "failover:3000:redis2"], "failover:AT"),
    (["--redis", "sentinel:2", "--fault", "partition:0:100:app1/app2"], "unknown target"),
    (["--redis", "sentinel:2", "--fault", "pause:0:100:redis1/sentinel"], "unknown target"),
    (["--redis", "replicas:2", "--fault", "partition:0:100:redis1/sentinel"], "unknown node"),
    (["--min-replicas", "1"], "--min-replicas needs"),
    (["--redis", "sentinel:2", "--min-replicas", "-1"], "must not be negative"),
    (["--redis", "sentinel:2", "--min-replicas-max-lag", "nan"], "--min-replicas-max-lag"),
    (["--client-library", "jedis"], "unknown 'jedis'"),
])
def test_bad_ha_options_are_one_line_and_exit_2(argv, said, capsys):
    from sim.cli.main import main

    assert main(["run", "--users", "4", "--vus", "2", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert said in err and len(err.splitlines()) == 1


def test_run_takes_the_ha_options_into_the_scenario(capsys):
    import json

    from sim.cli.main import main

    argv = ["run", "--redis", "sentinel:2", "--down-after", "500", "--users", "4", "--vus",
            "2", "--min-replicas", "1", "--min-replicas-max-lag", "2", "--client-library",
            "ioredis", "--fault", "failover:3000", "--fault", "lag:0:500:100:redis2",
            "--fault", "partition:0:100:redis1/sentinel", "--json"]
    assert main(argv) in (0, 1)
    out = json.loads(capsys.readouterr().out)
    sc = out["scenario"]
    assert (sc["min_replicas_to_write"], sc["min_replicas_max_lag_s"], sc["client_library"]) \
        == (1, 2.0, "ioredis")
    assert [f["kind"] for f in sc["faults"]] == ["failover", "lag", "partition"]


def test_check_explores_the_ha_kinds_and_refuses_them_without_replicas(capsys):
    from sim.cli.main import main

    assert main(["check", "--faults", "failover,pause", "--schedules", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--faults failover needs --redis sentinel:N" in err and len(err.splitlines()) == 1
    argv = ["check", "--redis", "sentinel:2", "--down-after", "500", "--lock", "polling",
            "--faults", "failover,lag,partition", "--schedules", "20", "--json"]
    assert main(argv) in (0, 1)
