"""The simulated world: determinism and each fault mechanism, proven on small programs."""

from __future__ import annotations

import itertools
import subprocess
import sys

from models.faults import Clock, Crash, Pause
from models.locks.effect import Call, Now, Record, Sleep, Spawn, Work
from models.scenario import Scenario
from sim.world import World, run

SMALL = Scenario(requests=60, vus=20)


def test_same_seed_same_trace_and_history():
    a, b = run(SMALL), run(SMALL)
    assert a.trace_hash == b.trace_hash
    assert a.history.to_jsonl() == b.history.to_jsonl()


def test_another_seed_another_trace():
    assert run(SMALL).trace_hash != run(SMALL.with_(seed=2)).trace_hash


def test_same_trace_in_another_process():
    code = (
        "from models.scenario import Scenario; from sim.world import run; "
        "print(run(Scenario(requests=60, vus=20)).trace_hash)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"PYTHONHASHSEED": "123", "PATH": ""})
    assert out.stdout.strip() == run(SMALL).trace_hash


def _world(**kw) -> World:
    return World(Scenario(requests=0, **kw))


def _ticker(period: float, n: int):
    """A watchdog-like timer: records a tick every ``period`` ms."""
    for i in range(n):
        yield Sleep(period)
        yield Record("ok", "tick", i)


def test_pause_freezes_timers_and_they_run_after_it():
    w = _world(faults=(Pause(150.0, 1000.0, "app1"),))
    w.spawn("app1", "app1/ticker", _ticker(100.0, 5))
    w.spawn("app2", "app2/ticker", _ticker(100.0, 5))
    h = w.run_until(2000.0)
    t1 = [op.time for op in h if op.f == "tick" and op.node == "app1"]
    t2 = [op.time for op in h if op.f == "tick" and op.node == "app2"]
    assert t1[0] < 150.0
    assert not any(150.0 < t < 1150.0 for t in t1)  # frozen: no tick during the pause
    assert 1150.0 <= t1[1] < 1152.0  # the overdue timer runs right after it
    assert max(b - a for a, b in itertools.pairwise(t2)) < 101.0  # app2 unaffected


def _caller():
    yield Record("invoke", "get")
    reply = yield Call(("GET", "k"))
    yield Record("ok", "get", reply)


def test_reply_arriving_during_pause_is_handled_after_it():
    # the command leaves at ~0 ms, its reply arrives ~0.2 ms later, during the pause
    w = _world(faults=(Pause(0.05, 500.0, "app1"),))
    w.spawn("app1", "app1/caller", _caller())
    h = w.run_until(1000.0)
    (done,) = [op for op in h if op.f == "get" and op.type == "ok"]
    assert 500.05 <= done.time < 501.0
    assert w.redis.counts["GET"] == 1  # Redis served it on time; the app saw it late


def test_cpu_work_blocks_the_whole_event_loop():
    w = _world()

    def hog():
        yield Work(50.0)

    w.spawn("app1", "app1/hog", hog())
    w.spawn("app1", "app1/ticker", _ticker(10.0, 1))
    w.spawn("app2", "app2/ticker", _ticker(10.0, 1))
    h = w.run_until(200.0)
    (t1,) = [op.time for op in h if op.f == "tick" and op.node == "app1"]
    (t2,) = [op.time for op in h if op.f == "tick" and op.node == "app2"]
    assert t1 >= 50.0 and t2 < 11.0


def test_clock_offset_moves_only_the_local_clock():
    w = _world(faults=(Clock(10.0, 5000.0, 0.0, "app1"),))

    def reader():
        yield Sleep(20.0)
        local = yield Now()
        yield Record("ok", "clock", local)
        yield Sleep(20.0)
        yield Record("ok", "slept")

    w.spawn("app1", "app1/r", reader())
    w.spawn("app2", "app2/r", reader())
    h = w.run_until(100.0)
    clocks = {op.node: op.value for op in h if op.f == "clock"}
    assert 5019.0 < clocks["app1"] < 5022.0
    assert 19.0 < clocks["app2"] < 22.0
    slept = {op.node: op.time for op in h if op.f == "slept"}
    assert abs(slept["app1"] - slept["app2"]) < 1.0  # timers ignore the offset


def test_clock_drift_stretches_local_time():
    w = _world(faults=(Clock(0.0, 0.0, 0.5, "app1"),))

    def sleeper():
        yield Sleep(300.0)
        yield Record("ok", "woke")

    w.spawn("app1", "app1/s", sleeper())
    h = w.run_until(1000.0)
    (op,) = [op for op in h if op.f == "woke"]
    assert 199.0 < op.time < 202.0  # a fast clock: 300 local ms pass in 200 true ms


def test_crash_loses_in_flight_work_and_leaves_the_lock():
    sc = Scenario(requests=40, vus=10, horizon_ms=30_000.0,
                  faults=(Crash(100.0, None, "holder"),))
    res = run(sc)
    h = res.history
    (crash,) = [op for op in h if op.f == "crash"]
    node = crash.node
    lost = [op for op in h if op.type == "info" and op.value == "crashed"]
    assert {op.f for op in lost} >= {"request", "acquire"} or {op.f for op in lost} >= {"request"}
    after = [op for op in h if op.node == node and op.time > crash.time and op.process != "nemesis"]
    assert after == []  # the dead server does nothing more
    # The dead holder never released: its lock expired 5 s later and, as the
    # report's design publishes nothing on expiry, the other server's waiters
    # (no wait timeout) sleep until the horizon.
    assert res.completed < 40
    assert res.end_ms == 30_000.0
    # With a bounded wait the same crash costs one TTL, not the run.
    bounded = run(sc.with_(lock_params=(("wait_timeout_ms", 1000.0),)))
    assert bounded.completed == 40
    assert bounded.end_ms < 30_000.0


def test_watchdog_extends_a_long_critical_section():
    w = _world()
    from models.locks import SeedLock

    lock = SeedLock(ttl_ms=300)

    def long_holder():
        held = yield from lock.acquire("lock:x")
        yield Sleep(1000.0)
        yield from lock.release(held)

    w.spawn("app1", "app1/long", long_holder())
    h = w.run_until(3000.0)
    extends = [op for op in h if op.f == "extend" and op.type == "ok"]
    assert len(extends) >= 9 and all(op.value[1] == 1 for op in extends)
    (release,) = [op for op in h if op.f == "release" and op.type == "ok"]
    assert release.value[1] == 1


def test_spawned_task_is_named_after_its_parent():
    w = _world()

    def parent():
        yield Spawn("child", _ticker(1.0, 1))

    w.spawn("app1", "app1/p", parent())
    h = w.run_until(10.0)
    assert [op.process for op in h if op.f == "tick"] == ["app1/p/child"]


def test_pause_freezes_the_watchdog_and_the_lock_expires():
    from models.locks import SeedLock

    lock = SeedLock(ttl_ms=300)  # watchdog every 100 ms
    w = _world(faults=(Pause(450.0, 1000.0, "app1"),))

    def long_holder():
        held = yield from lock.acquire("lock:x")
        yield Sleep(2000.0)
        yield from lock.release(held)

    w.spawn("app1", "app1/long", long_holder())
    h = w.run_until(3000.0)
    extends = [op for op in h if op.f == "extend" and op.type == "ok"]
    assert not any(450.0 < op.time < 1450.0 for op in extends)  # frozen with its server
    before = [op for op in extends if op.time < 450.0]
    assert before and all(op.value[1] == 1 for op in before)
    after = [op for op in extends if op.time >= 1450.0]
    assert after[0].value[1] == 0  # the key expired during the pause: not the owner now
    assert len(after) == 1  # and the watchdog gives up, telling nobody
    (release,) = [op for op in h if op.f == "release" and op.type == "ok"]
    assert release.value[1] == 0


def test_blpop_blocks_is_served_by_a_push_and_times_out():
    w = _world()

    def popper(name, timeout):
        yield Record("invoke", name)
        reply = yield Call(("BLPOP", "q", timeout))
        yield Record("ok", name, tuple(reply) if reply else None)

    def pusher():
        yield Sleep(50.0)
        yield Call(("LPUSH", "q", "token"))

    w.spawn("app1", "app1/first", popper("first", "0"))
    w.spawn("app2", "app2/second", popper("second", "0.2"))
    w.spawn("app1", "app1/pusher", pusher())
    h = w.run_until(1000.0)
    (first,) = [op for op in h if op.f == "first" and op.type == "ok"]
    (second,) = [op for op in h if op.f == "second" and op.type == "ok"]
    assert first.value == (b"q", b"token") and 50.0 < first.time < 52.0
    assert second.value is None and 200.0 <= second.time < 202.0


def test_crashed_server_restarts_and_serves_again():
    sc = Scenario(requests=60, vus=10, faults=(Crash(100.0, 500.0, "app1"),),
                  lock_params=(("wait_timeout_ms", 1000.0),))
    res = run(sc)
    h = res.history
    (restart,) = [op for op in h if op.f == "restart"]
    assert restart.node == "app1" and abs(restart.time - 600.0) < 1e-6
    served_after = [op for op in h if op.node == "app1" and op.f == "request"
                    and op.type == "ok" and op.time > restart.time]
    assert served_after
    assert res.completed == 60


def test_partition_holds_messages_until_it_heals():
    from models.faults import Partition

    w = _world(faults=(Partition(10.0, 300.0, "app1"),))

    def caller():
        yield Sleep(20.0)
        yield Record("invoke", "get")
        reply = yield Call(("GET", "k"))
        yield Record("ok", "get", reply)

    w.spawn("app1", "app1/c", caller())
    h = w.run_until(1000.0)
    (done,) = [op for op in h if op.f == "get" and op.type == "ok"]
    assert 310.0 <= done.time < 311.0
