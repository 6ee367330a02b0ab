"""Replication, WAIT and Sentinel failover: the known results of issue 15.

Schedule: app1's request takes the lock (TTL 3000 ms) and is frozen inside
for 2 s; the master redis1 dies at 10 ms for good; Sentinel (down-after
500 ms) promotes a replica; app2's request, trying since 50 ms, asks
Sentinel for the new master and tries there.
"""

from __future__ import annotations

from models.checkers import check_all
from models.faults import Crash, Fault, Partition
from models.scenario import Scenario
from sim.world import World, run
from sim.world.stories import FAST, SLOW, failover


def verdicts(scenario: Scenario) -> dict[str, bool | None]:
    result = run(scenario)
    return {v.property: v.valid for v in check_all(result.history, truth=result)}


def test_a_failover_before_replication_lets_a_second_client_acquire():
    got = verdicts(failover(SLOW))
    assert got["mutual-exclusion"] is False
    assert got["foreign-release"] is True  # the key was never on the new master
    assert verdicts(failover(FAST))["mutual-exclusion"] is True
    events = [(op.f, op.node) for op in run(failover(SLOW)).history if op.process == "nemesis"]
    assert ("failover", "redis2") in events


def test_fencing_holds_unless_the_fence_counter_itself_failed_over():
    waits = (("wait_timeout_ms", 200.0),)
    result = run(failover(SLOW, "seed-fenced", waits))
    fences = [op.value[1] for op in result.history if op.f == "enter"]
    assert fences == [1, 1]  # the INCR never reached the replica: the counter regressed
    got = {v.property: v.valid for v in check_all(result.history, truth=result)}
    assert got["stock-conservation"] is False and got["mutual-exclusion"] is False
    fast = run(failover(FAST, "seed-fenced", waits))
    assert [op.value[1] for op in fast.history if op.f == "enter"] == [1, 2]
    assert check_all(fast.history, truth=fast).valid is not False


def test_sentinel_promotes_the_replica_with_the_largest_offset():
    for lagging, promoted in (("redis3", "redis2"), ("redis2", "redis3")):
        scenario = failover(FAST, faults=(Partition(0.0, 5000.0, lagging),
                                          Crash(10.0, None, "redis1")))
        world = World(scenario)
        world.run()
        assert world.sentinel is not None and world.sentinel.master == promoted


def test_the_old_master_comes_back_as_a_replica_and_loses_its_writes():
    world = World(failover(SLOW, faults=(Crash(10.0, 1000.0, "redis1"),)))
    world.run()
    old, new = world.nodes["redis1"], world.nodes["redis2"]
    assert old.role == "replica" and new.role == "master"  # type: ignore[attr-defined]
    # app1's lock key lived only on redis1; after the full resync it is gone there too
    assert set(old.model.ks.data) == set(new.model.ks.data)


def test_without_sentinel_nobody_fails_over_and_an_empty_master_empties_its_replicas():
    from models.locks.effect import Call

    def program():
        yield Call(("SET", "lock:k", "v", "PX", 60_000))

    world = World(Scenario(servers=1, requests=0, topology="replicas:2", replica_lag=FAST,
                           faults=(Crash(100.0, 10.0, "redis1"),)))
    world.spawn("app1", "app1/p", program())
    world.run_until(50.0)
    assert world.nodes["redis2"].model.ks.data == {b"lock:k": b"v"}  # replicated
    world.run_until(1_000.0)
    ops = world.recorder.history()
    assert [op.f for op in ops if op.process == "nemesis"] == ["crash", "restart"]
    assert world.nodes["redis1"].model.ks.data == {}  # back empty, and nobody promoted
    assert world.nodes["redis2"].model.ks.data == {}  # its replicas resynchronised from it


def _wait_program(got: list[object], numreplicas: int, timeout_ms: int):
    from models.locks.effect import Call

    yield Call(("SET", "k", "v"))
    got.append((yield Call(("WAIT", numreplicas, timeout_ms))))


def test_wait_counts_the_replicas_that_acknowledged():
    for lag, numreplicas, timeout, expected in ((FAST, 2, 0, 2), (SLOW, 2, 10, 0),
                                                (SLOW, 1, 0, 1)):
        world = World(Scenario(servers=1, requests=0, topology="replicas:2", replica_lag=lag))
        got: list[object] = []
        world.spawn("app1", "app1/w", _wait_program(got, numreplicas, timeout))
        world.run_until(5_000.0)
        assert got == [expected], (lag, numreplicas, timeout)
    single = World(Scenario(servers=1, requests=0, topology="redlock:1"))
    got = []
    single.spawn("app1", "app1/w", _wait_program(got, 1, 10))
    single.run_until(100.0)
    assert got == [0]  # no replicas: none acknowledged


def _timed_wait(got: list[object], argv: tuple[object, ...], clock):
    from models.locks.effect import Call

    reply = yield Call(argv)
    got.append((reply if isinstance(reply, int) else str(reply), round(clock())))


def test_wait_on_a_node_no_replica_follows_blocks_its_timeout_then_answers_0():
    """As real Redis: ``WAIT n t`` with n > 0 and no replica waits t ms (0: forever);
    n <= 0 or bad arguments answer at once; a replica refuses WAIT."""
    for topology in ("single", "redlock:1"):
        for argv, expected in (
                (("WAIT", 1, 300), (0, 300)), (("WAIT", 0, 0), (0, 0)),
                (("WAIT", "x", 1), ("ERR value is not an integer or out of range", 0)),
                (("WAIT", 1, -1), ("ERR timeout is negative", 0)),
                (("WAIT", 1), ("ERR wrong number of arguments for 'wait' command", 0))):
            world = World(Scenario(servers=1, requests=0, topology=topology))
            got: list[object] = []
            world.spawn("app1", "app1/w", _timed_wait(got, argv, lambda w=world: w.env.now))
            world.run_until(2_000.0)
            assert got == [expected], (topology, argv, got)
        world = World(Scenario(servers=1, requests=0, topology=topology))
        got = []
        world.spawn("app1", "app1/w", _timed_wait(got, ("WAIT", 1, 0), lambda: 0))
        world.run_until(10_000.0)
        assert got == []  # timeout 0: it blocks until the connection closes
    world = World(Scenario(servers=1, requests=0, topology="replicas:1"))
    got = []
    world.spawn("app1", "app1/w", _timed_wait(got, ("WAIT", 0, 0), lambda: 0))
    world.nodes["redis1"].role, world.nodes["redis2"].role = "replica", "master"
    world.run_until(100.0)
    assert got and str(got[0][0]).startswith("ERR WAIT cannot be used with replica instances")


def test_replicated_runs_replay_byte_for_byte():
    assert run(failover(SLOW)).trace_hash == run(failover(SLOW)).trace_hash
    assert run(failover(SLOW)).trace_hash != run(failover(FAST)).trace_hash


def acks_within(faults: tuple[Fault, ...], timeout_ms: int = 100) -> list[object]:
    """What ``WAIT 2 timeout_ms`` after one SET answers on replicas:2 under ``faults``."""
    world = World(Scenario(servers=1, requests=0, topology="replicas:2", replica_lag=FAST,
                           faults=faults))
    got: list[object] = []
    world.spawn("app1", "app1/w", _wait_program(got, 2, timeout_ms))
    world.run_until(5_000.0)
    return got


def test_a_replica_lag_spike_is_a_delay_on_the_replica():
    from models.faults import Delay

    assert acks_within(()) == [2]
    assert acks_within((Delay(0.0, 1000.0, 500.0, "redis2"),)) == [1]  # redis2 acks too late


def test_replicas_hold_values_of_their_own():
    """A hash written on the master reaches each replica as its own copy: a replica
    promoted later changes its hash in place, and must not change another replica's."""
    from models.locks.effect import Call

    def program():
        yield Call(("HSET", "h", "f", "1"))

    world = World(Scenario(servers=1, requests=0, topology="replicas:2", replica_lag=FAST))
    world.spawn("app1", "app1/p", program())
    world.run_until(100.0)
    two, three = (world.nodes[n].model.ks.data[b"h"] for n in ("redis2", "redis3"))
    assert two == three and two is not three
    assert two is not world.nodes["redis1"].model.ks.data[b"h"]
