"""aioredlock 0.7.3 (over aioredis 1.3.1), unmodified: its watchdog outlives the request."""

from __future__ import annotations

import weakref
from typing import Any

import pytest

from models.faults import parse_fault
from models.scenario import Scenario
from sim.aio import check_determinism
from sim.aio.runner import judge

aioredlock = pytest.importorskip("aioredlock")

PAUSE = parse_fault("pause:20:6000:holder")


def manager_per_process(lock_timeout: float | None) -> Any:
    """One ``Aioredlock`` per app (its documented use), a lock per request."""
    from examples.coupon_handler import issue

    managers: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

    async def handle(redis: Any, db: Any, user: int) -> str:
        lm = managers.get(redis)
        if lm is None:
            lm = managers[redis] = aioredlock.Aioredlock(
                [{"host": "redis", "port": 6379}], retry_count=30, internal_lock_timeout=5)
        async with await lm.lock("lock:coupon:issue:1", lock_timeout=lock_timeout):
            return await issue(db, user)

    return handle


def judged(scenario: Scenario, handler: Any) -> dict[str, Any]:
    run, same = check_determinism(scenario, handler)
    assert same.same, str(same)
    return {v.property: v for v in judge(run)}


def test_a_paused_holder_loses_the_lock_and_hears_it_at_unlock() -> None:
    v = judged(Scenario(servers=2, vus=5, requests=30, faults=(PAUSE,)),
               manager_per_process(5))
    assert v["mutual-exclusion"].valid is False
    assert "LockError" in v["held-until-release"].summary


def test_the_watchdog_re_creates_the_lock_after_its_request_ended() -> None:
    """lock_timeout=None: a watchdog extends every 3 s with a script that also SETs an
    absent key; after the pause it outlives its request and takes the lock for nobody."""
    v = judged(Scenario(servers=2, vus=5, requests=30, faults=(PAUSE,)),
               manager_per_process(None))
    assert v["no-zombie-write"].valid is False
    assert "after it ended" in v["no-zombie-write"].summary
    calm = judged(Scenario(servers=2, vus=5, requests=30), manager_per_process(None))
    assert calm["no-zombie-write"].valid is True
    assert [p for p, x in calm.items() if x.valid is False] == []
