"""pottery's AIORedlock, unmodified, over one simulated master."""

from __future__ import annotations

import weakref
from typing import Any

import pytest

from models.faults import parse_fault
from models.scenario import Scenario
from sim.aio import check_determinism
from sim.aio.runner import judge

pytest.importorskip("pottery")

PAUSE = parse_fault("pause:20:6000:holder")


def judged(scenario: Scenario, handler: Any) -> dict[str, Any]:
    run, same = check_determinism(scenario, handler)
    assert same.same, str(same)
    return {v.property: v for v in judge(run)}


def test_redlock_holds_without_faults() -> None:
    v = judged(Scenario(servers=2, vus=5, requests=30), "examples.coupon_handler:handle_redlock")
    assert [p for p, x in v.items() if x.valid is False] == []
    assert "30 successful" in v["owner-only-release"].summary
    assert v["foreign-release"].summary.startswith("30 writes")  # its redlock: keys judged


def test_redlock_pause_longer_than_auto_release_lets_a_second_holder_in() -> None:
    v = judged(Scenario(servers=2, vus=5, requests=30, faults=(PAUSE,)),
               "examples.coupon_handler:handle_redlock")
    assert v["mutual-exclusion"].valid is False
    assert "ReleaseUnlockedLock" in v["mutual-exclusion"].story
    assert v["foreign-release"].valid is True


def test_a_shared_redlock_object_releases_another_tasks_lock() -> None:
    from pottery import AIORedlock

    from examples.coupon_handler import issue

    locks: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

    async def handle(redis: Any, db: Any, user: int) -> str:
        lock = locks.get(redis) or locks.setdefault(redis, AIORedlock(
            key="coupon:issue:1", masters={redis}, auto_release_time=5,
            context_manager_timeout=10))
        async with lock:
            return await issue(db, user)

    # no fault needed: a waiter's retry overwrites the holder's token on the shared object
    v = judged(Scenario(servers=1, vus=5, requests=30), handle)
    assert v["held-until-release"].valid is False
    assert "sent token" in v["held-until-release"].summary
    assert "ReleaseUnlockedLock" in v["held-until-release"].story
