"""The lock zoo's wait strategies: each safe fault-free, each waiting as its library does."""

from __future__ import annotations

import pytest

from models.checkers import check_all
from models.faults import Crash
from models.locks import LOCKS, WAIT_STRATEGIES, make_lock
from models.locks.effect import Call, Record, Sleep, Subscribe, WaitMessage
from models.metrics import metrics
from models.scenario import Scenario
from sim.world import World, run

SMALL = Scenario(requests=80, vus=40)


def _violated(result) -> set[str]:
    return {v.property for v in check_all(result.history) if v.valid is False}


@pytest.mark.parametrize("lock", WAIT_STRATEGIES)
def test_every_strategy_issues_every_coupon_and_breaks_nothing(lock):
    result = run(SMALL.with_(lock=lock))
    assert metrics(result.history).issued == 80
    assert result.completed == 80
    assert _violated(result) == set()


@pytest.mark.parametrize("lock", WAIT_STRATEGIES)
def test_every_strategy_is_deterministic(lock):
    assert run(SMALL.with_(lock=lock)).trace_hash == run(SMALL.with_(lock=lock)).trace_hash


def test_every_strategy_is_registered_and_takes_a_ttl():
    for name in WAIT_STRATEGIES:
        assert name in LOCKS
        assert make_lock(name, ttl_ms=2000).ttl_ms == 2000


def test_only_the_broadcast_design_has_a_thundering_herd():
    per_success = {lock: metrics(run(SMALL.with_(lock=lock)).history).attempts_per_success
                   for lock in ("seed", "blpop", "redisson")}
    assert per_success["seed"] > 10  # every release wakes every waiter
    assert per_success["blpop"] < 3  # one token per release: one waiter
    assert per_success["redisson"] < 6  # one waiter per process (2 servers), plus the retry


def test_lua_atomic_sells_the_stock_once_per_user():
    sc = Scenario(lock="lua-atomic", requests=120, vus=30, stock=50, repeat_users=2)
    result = run(sc)
    assert metrics(result.history).issued == 50
    assert result.redis_counts["EVAL"] == 120
    assert _violated(result) == set()


def test_redisson_waiters_survive_a_crashed_holder_within_one_ttl():
    sc = SMALL.with_(faults=(Crash(200.0, None, "holder"),), lock_params=(("ttl_ms", 2000),))
    assert "no-lost-wakeup" in _violated(run(sc.with_(lock="seed")))
    result = run(sc.with_(lock="redisson"))
    assert "no-lost-wakeup" not in _violated(result)
    m = metrics(result.history)
    assert result.completed == 80  # everyone else got through: nobody slept forever
    assert m.requests_failed > 0 and m.issued == 80 - m.requests_failed  # died with app1


def test_blocking_calls_each_get_their_own_connection():
    """Two BLPOPs from one server: on a shared connection the second would replace the first."""
    w = World(Scenario(requests=0))

    def popper(name):
        reply = yield Call(("BLPOP", "q", 0), blocking=True)
        yield Record("ok", name, tuple(reply))

    def pusher():
        yield Sleep(20.0)
        yield Call(("LPUSH", "q", "a"))
        yield Sleep(20.0)
        yield Call(("LPUSH", "q", "b"))

    w.spawn("app1", "app1/p1", popper("p1"))
    w.spawn("app1", "app1/p2", popper("p2"))
    w.spawn("app2", "app2/pusher", pusher())
    h = w.run_until(500.0)
    popped = sorted(op.value[1] for op in h if op.f in ("p1", "p2"))
    assert popped == [b"a", b"b"]
    assert len(w.servers[0].pooled) == 2


def test_wake_one_wakes_one_waiter_per_process_and_keeps_a_permit():
    w = World(Scenario(requests=0))

    def waiter(name, delay=0.0):
        yield Subscribe("ch")
        yield Sleep(delay)
        message = yield WaitMessage("ch", 300.0, wake="one")
        yield Record("ok", name, message)

    def publisher():
        yield Sleep(50.0)
        yield Call(("PUBLISH", "ch", "0"))
        yield Sleep(50.0)
        yield Call(("PUBLISH", "ch", "0"))
        yield Sleep(250.0)
        yield Call(("PUBLISH", "ch", "0"))  # at 350 ms nobody waits on app1: a permit

    for i in range(3):
        w.spawn("app1", f"app1/w{i}", waiter(f"w{i}"))
    w.spawn("app2", "app2/w", waiter("x"))
    w.spawn("app1", "app1/late", waiter("late", delay=400.0))
    w.spawn("app2", "app2/pub", publisher())
    h = w.run_until(1000.0)
    got = {op.f: (op.time, op.value) for op in h if op.type == "ok"}
    woken = sorted(f for f in ("w0", "w1", "w2") if got[f][1] == b"0")
    assert woken == ["w0", "w1"]  # one per message, longest parked first
    assert got["w2"][1] is None and got["w2"][0] >= 300.0  # timed out
    assert got["x"][1] == b"0" and got["x"][0] < 60.0  # app2's own waiter woke at once
    assert got["late"][1] == b"0" and got["late"][0] < 401.0  # the permit was kept


def test_quick_init_keeps_effects_frozen_dataclasses():
    """Record and Call get a faster __init__; nothing else about them changes."""
    import dataclasses
    import pickle

    from models.locks.effect import Call, Record

    r = Record("invoke", "attempt")
    assert r == Record(type="invoke", f="attempt", value=None) != Record("ok", "attempt")
    assert hash(r) == hash(Record("invoke", "attempt", None))
    c = Call(("SET", "k", "v"), blocking=True)
    assert (c.argv, c.timeout_ms, c.blocking) == (("SET", "k", "v"), None, True)
    assert pickle.loads(pickle.dumps(c)) == c
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.f = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Record("invoke")  # type: ignore[call-arg]
