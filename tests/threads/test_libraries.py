"""python-redis-lock (with its renewal thread) and pottery's sync ``Redlock``, unmodified."""

from __future__ import annotations

from typing import Any

import pytest

from models.faults import parse_fault
from models.scenario import Scenario
from sim.aio import check_determinism
from sim.aio.runner import judge
from tests.threads import handlers

pytest.importorskip("redis_lock")
pytest.importorskip("pottery")

PAUSE = parse_fault("pause:20:6000:holder")


def judged(scenario: Scenario, handler: Any) -> dict[str, Any]:
    run, same = check_determinism(scenario, handler)
    assert same.same, str(same)
    return {v.property: v for v in judge(run)}


def test_auto_renewal_keeps_a_long_section_safe() -> None:
    """8 s inside a 5 s lock: the renewal thread (Event.wait(2/3 of expire), then EXTEND)
    keeps it held; without it the lease lapses and release raises NotAcquired."""
    sc = Scenario(servers=2, vus=3, requests=6)
    renewed = judged(sc, handlers.slow_section(8, auto_renewal=True))
    assert [p for p, v in renewed.items() if v.valid is False] == []
    bare = judged(sc, handlers.slow_section(8, auto_renewal=False))
    assert bare["lease-lapsed"].valid is False
    assert "NotAcquired" in bare["held-until-release"].summary


def test_bare_waiters_time_out_against_the_5s_socket_timeout() -> None:
    """python-redis-lock waits with BLPOP for ``expire`` (5 s) seconds; redis-py 8's
    default socket timeout is 5 s too, so the read times out just before Redis answers:
    the client retries the BLPOP (not the SET NX) and the waiter stays stuck while the
    lapsed lock is free, until the retries run out."""
    sc = Scenario(servers=2, vus=3, requests=6)
    v = judged(sc, handlers.slow_section(8, auto_renewal=False))
    assert v["no-stuck-waiter"].valid is False
    from sim.aio import run_handler

    run = run_handler(sc, handlers.slow_section(8, auto_renewal=False))
    failed = [op.value for op in run.result.history if op.f == "request" and op.type == "fail"]
    assert any("Timeout reading from socket" in str(x) for x in failed)


def test_a_pause_beats_the_renewal_thread_too() -> None:
    """A stop-the-world pause freezes the renewer with its process: a second holder
    enters; the renewer's next EXTEND raises NotAcquired in its thread, and so does the
    release."""
    sc = Scenario(servers=2, vus=5, requests=30, faults=(PAUSE,))
    run, same = check_determinism(sc, handlers.renewing)
    assert same.same
    v = {x.property: x for x in judge(run)}
    assert v["mutual-exclusion"].valid is False
    assert "NotAcquired" in v["held-until-release"].summary
    assert any("exception in thread" in e and "NotAcquired" in e for e in run.loop_errors)
    calls = {(call, err.split(":")[0]) for _t, _p, call, err in run.library_errors}
    assert {("extend", "NotAcquired"), ("release", "NotAcquired")} <= calls


def test_redlock_holds_without_faults_and_loses_to_a_pause() -> None:
    """pottery's sync Redlock scatters over a ThreadPoolExecutor (virtual threads here)."""
    calm = judged(Scenario(servers=2, vus=5, requests=30), handlers.redlock)
    assert [p for p, v in calm.items() if v.valid is False] == []
    paused = judged(Scenario(servers=2, vus=5, requests=30, faults=(PAUSE,)), handlers.redlock)
    assert paused["mutual-exclusion"].valid is False
    assert "ReleaseUnlockedLock" in paused["mutual-exclusion"].story
