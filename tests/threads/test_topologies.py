"""The sync tier over several nodes: pottery's sync ``Redlock`` over ``redlock:3`` (the
handler's ``redis`` is a tuple of ``redis.Redis``, one per master) and redis-py's sync
Sentinel client over ``sentinel:2``. Every scenario passes the determinism self-check."""

from __future__ import annotations

from typing import Any

import pytest

from models.dist import Dist
from models.faults import parse_fault
from models.scenario import Scenario
from sim.aio import check_determinism
from sim.aio.runner import judge
from tests.threads import handlers

pytest.importorskip("pottery")

REDLOCK = Scenario(servers=2, vus=5, requests=30, topology="redlock:3")


def judged(scenario: Scenario, handler: Any) -> tuple[Any, dict[str, Any]]:
    run, same = check_determinism(scenario, handler)
    assert same.same, str(same)
    return run, {v.property: v for v in judge(run)}


def lock_writes(run: Any) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for e in run.result.effects:
        if e.request is not None:
            out.setdefault(e.node, []).append(e.time)
    return out


def test_the_handler_gets_one_client_per_master() -> None:
    import redis

    from sim.aio.threads.runner import SyncWorld

    world = SyncWorld(REDLOCK, handlers.redlock)
    clients = world.make_client(world.servers[0])
    assert isinstance(clients, tuple) and len(clients) == 3
    assert all(isinstance(c, redis.Redis) for c in clients)
    assert [c.connection_pool.connection_kwargs["host"] for c in clients] == [
        "redis1", "redis2", "redis3"]


def test_redlock_over_three_masters_writes_each_and_holds() -> None:
    run, v = judged(REDLOCK, handlers.redlock)
    assert [p for p, x in v.items() if x.valid is False] == []
    assert run.result.completed == 30
    writes = lock_writes(run)
    assert sorted(writes) == ["redis1", "redis2", "redis3"]
    assert len({len(w) for w in writes.values()}) == 1  # a SET and a release on every master


def test_a_pause_longer_than_the_ttl_lets_a_second_holder_in() -> None:
    _run, v = judged(REDLOCK.with_(faults=(parse_fault("pause:20:6000:holder"),)),
                     handlers.redlock)
    assert v["mutual-exclusion"].valid is False
    assert "ReleaseUnlockedLock" in v["mutual-exclusion"].story
    assert v["held-until-release"].valid is False
    # control: frozen 3 s inside a 5 s lease, the same waiters: exclusion holds
    _run, v = judged(REDLOCK.with_(faults=(parse_fault("pause:20:3000:holder"),)),
                     handlers.redlock)
    assert v["mutual-exclusion"].valid is True and v["held-until-release"].valid is True


def sentinel(lag: str) -> Scenario:
    """The master dies at 10 ms, just after the holder's SET; the holder is frozen 2.5 s;
    Sentinel promotes redis2 at 1010 ms."""
    return Scenario(servers=2, vus=2, requests=10, topology="sentinel:2",
                    down_after_ms=1000.0, replica_lag=Dist.parse(lag),
                    think=Dist.parse("const:300"),
                    faults=(parse_fault("failover:10"), parse_fault("pause:5:2500:holder")))


def test_sync_sentinel_client_follows_the_failover_and_loses_the_unreplicated_lock() -> None:
    run, v = judged(sentinel("uniform:50:100"), handlers.sentinel_lock)
    assert v["mutual-exclusion"].valid is False
    assert "LockNotOwnedError" in v["mutual-exclusion"].story  # its release, on redis2
    assert min(lock_writes(run)["redis2"]) > 1010.0
    run, v = judged(sentinel("uniform:0.1:1"), handlers.sentinel_lock)
    assert v["mutual-exclusion"].valid is True and v["held-until-release"].valid is True
    assert min(lock_writes(run)["redis2"]) > 1010.0
