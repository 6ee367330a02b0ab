"""redis-py's asyncio Lock, unmodified, in the simulated world: the bugs it must show.

Every scenario here also passes the determinism self-check (two runs, one trace hash).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from models.faults import parse_fault
from models.scenario import Scenario
from sim.aio import HandlerError, check_determinism, run_handler
from sim.aio.runner import judge
from tests.aio import handlers

PAUSE = parse_fault("pause:20:6000:holder")  # longer than the lock's 5 s timeout


def judged(scenario: Scenario, handler: object) -> dict[str, object]:
    run, same = check_determinism(scenario, handler)  # type: ignore[arg-type]
    assert same.same, str(same)
    return {v.property: v for v in judge(run)}


@pytest.mark.parametrize("thread_local", [True, False])
def test_a_shared_lock_object_releases_another_tasks_lock(thread_local: bool) -> None:
    """aredis#119: the tasks of one loop share the token (thread_local or not); the paused
    holder's release deletes the lock the next task took."""
    sc = Scenario(servers=1, vus=5, requests=30, faults=(PAUSE,))
    v = judged(sc, handlers.shared_lock(thread_local))
    assert v["owner-only-release"].valid is False
    assert v["foreign-release"].valid is False
    assert "EVALSHA>DEL" in v["foreign-release"].summary
    story = v["held-until-release"].story
    assert v["held-until-release"].valid is False and "threading.local" in story
    assert "returned 1: it acted on" in v["owner-only-release"].story


def test_a_shared_lock_object_extends_another_tasks_lock() -> None:
    sc = Scenario(servers=1, vus=5, requests=30, faults=(PAUSE,))
    v = judged(sc, handlers.extend_shared_watchdog)
    assert v["held-until-release"].valid is False
    assert v["owner-only-release"].valid is False or v["foreign-release"].valid is False


@pytest.mark.parametrize("blocking_timeout", [3, None])
def test_a_pause_longer_than_the_timeout_lets_a_second_holder_in(
        blocking_timeout: float | None) -> None:
    sc = Scenario(servers=2, vus=5, requests=30, faults=(PAUSE,))
    v = judged(sc, handlers.fresh_lock(blocking_timeout))
    me = v["mutual-exclusion"]
    assert me.valid is False
    assert "LockNotOwnedError" in me.story  # the library's own symptom, in the verdict
    assert v["held-until-release"].valid is False
    assert "LockNotOwnedError" in v["held-until-release"].summary
    # a fresh Lock per request keeps tokens apart: nobody deletes another's lock
    assert v["owner-only-release"].valid is True
    assert v["foreign-release"].valid is True


@pytest.mark.parametrize("handler", [handlers.fresh_lock(3), handlers.shared_lock(True)])
def test_without_faults_every_property_holds(handler: object) -> None:
    sc = Scenario(servers=2, vus=10, requests=60)
    v = judged(sc, handler)
    assert [p for p, x in v.items() if x.valid is False] == []  # type: ignore[attr-defined]
    run = run_handler(sc, handler)  # type: ignore[arg-type]
    assert run.result.completed == 60
    assert run.result.stock_left == 1000 - 60
    # one release each by EVALSHA, plus the first one, refused with NOSCRIPT, then SCRIPT LOAD
    assert run.result.redis_counts.get("EVALSHA") == 61
    assert run.result.redis_counts.get("SCRIPT") == 1
    first = next(i for i, (_t, _c, argv, _r) in enumerate(run.result.redis_log)
                 if argv[0] == b"EVALSHA")
    assert str(run.result.redis_log[first][3]).startswith("NOSCRIPT")
    assert run.result.redis_log[first + 1][2][:2] == (b"SCRIPT", b"LOAD")


def test_a_retried_set_nx_whose_reply_was_lost_wedges_the_lock() -> None:
    """Redis stalls 6 s; redis-py's 5 s socket timeout and default retry re-send SET NX:
    the first took the key, the retry finds it taken, the library says 'not acquired'."""
    sc = Scenario(servers=2, vus=4, requests=12, faults=(parse_fault("pause:30:6000:redis"),))
    v = judged(sc, handlers.fresh_lock(3))
    assert v["no-phantom-hold"].valid is False
    assert "did not acquire" in v["no-phantom-hold"].story
    # without the retry the holder hears a timeout (outcome unknown), never 'you failed'
    no_retry = sc.with_(client_params=(("retries", 0),))
    v2 = judged(no_retry, handlers.fresh_lock(3))
    assert v2["no-phantom-hold"].valid is not False
    run = run_handler(no_retry, handlers.fresh_lock(3))
    assert any(op.f == "acquire" and op.type == "info" and op.value == "TimeoutError"
               for op in run.result.history)


def test_clock_reads_are_simulated_and_replay() -> None:
    sc = Scenario(servers=2, vus=3, requests=9, faults=(parse_fault("clock:5:1000:0.1:app1"),))
    v = judged(sc, handlers.wall_clock)
    assert v["mutual-exclusion"].valid is True


@pytest.mark.parametrize("handler, kind", [(handlers.sleeps, "sleep"),
                                           (handlers.real_socket, "socket"),
                                           (handlers.resolves, "dns"),
                                           (handlers.real_thread, "thread")])
def test_a_handler_that_escapes_is_an_error_not_a_result(handler: object, kind: str) -> None:
    sc = Scenario(servers=1, vus=2, requests=2)
    with pytest.raises(HandlerError, match=f"escaped the simulation: {kind}"):
        run_handler(sc, handler)  # type: ignore[arg-type]


def test_a_handler_that_never_lets_time_pass_is_an_error() -> None:
    with pytest.raises(HandlerError, match="never waits for time to pass"):
        run_handler(Scenario(servers=1, vus=1, requests=1), handlers.spins)


def test_the_real_world_is_restored_after_a_run() -> None:
    import os
    import random
    import uuid

    real = (time.time, time.monotonic, time.perf_counter, time.sleep, uuid.uuid4, os.urandom)
    state = random.getstate()
    run_handler(Scenario(servers=1, vus=2, requests=4), handlers.fresh_lock(3))
    assert (time.time, time.monotonic, time.perf_counter, time.sleep, uuid.uuid4,
            os.urandom) == real
    assert random.getstate() == state
    assert abs(time.time() - __import__("datetime").datetime.now().timestamp()) < 5


def test_a_module_first_imported_during_a_run_keeps_no_simulated_function(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bindings made by an import inside the run (``from time import perf_counter``) are
    the simulated ones; after the run they are the real ones again, or (perf_counter and
    monotonic share one replacement) answer the real clock: Hypothesis's gc callback,
    first imported during a run, had kept a simulated clock that failed outside it."""
    import sys
    import uuid

    (tmp_path / "late_import_mod.py").write_text(
        "from time import perf_counter, time as now\n"
        "from uuid import uuid4\n"
        "def stamp():\n    return now(), perf_counter(), uuid4()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen: list[tuple[float, float, object]] = []

    async def handle(redis: Any, db: Any, user: int) -> None:
        import late_import_mod

        seen.append(late_import_mod.stamp())
        await redis.get("k")

    run_handler(Scenario(servers=1, vus=1, requests=1), handle)  # type: ignore[arg-type]
    assert seen and seen[0][0] < 1_767_225_700  # simulated: 2026-01-01 plus a little
    mod = sys.modules.pop("late_import_mod")
    assert mod.now is time.time and mod.uuid4 is uuid.uuid4
    wall, clock, _ = mod.stamp()
    assert abs(wall - time.time()) < 5 and abs(clock - time.perf_counter()) < 5


def test_a_bad_handler_spec_is_one_line() -> None:
    for spec, text in [("nocolon", "MODULE:FUNCTION"), ("no.such.mod:f", "cannot import"),
                       ("tests.aio.handlers:missing", "has no"),
                       ("tests.aio.handlers:shared_lock", "async function")]:
        with pytest.raises(HandlerError, match=text):
            run_handler(Scenario(servers=1, vus=1, requests=1), spec)


def test_a_release_cancelled_in_flight_can_leave_the_key_held_forever() -> None:
    """A request deadline that fires while the release is in flight: when the EVALSHA had
    already left, Redis deletes the key (the task only hears CancelledError); when the
    cancel lands in the NOSCRIPT fallback (SCRIPT LOAD in flight), nothing deletes it, and a
    lock without a timeout is held forever."""
    sc = Scenario(servers=1, vus=1, requests=3)
    wedged, cancelled_but_released = [], []
    for tenth_ms in range(60, 90, 2):  # deadlines of 6.0 to 8.8 ms
        run, same = check_determinism(sc, handlers.with_deadline(tenth_ms / 10_000, None))
        assert same.same
        v = {x.property: x for x in judge(run)}
        cancelled = [op for op in run.result.history
                     if op.f == "release" and op.type == "info" and "CancelledError" in op.value]
        if v["immortal-lock"].valid is False:
            assert cancelled, "a key left without TTL must come from a cancelled release"
            wedged.append(tenth_ms)
        elif cancelled:
            cancelled_but_released.append(tenth_ms)
    assert wedged and cancelled_but_released


def test_the_same_run_in_other_processes_has_the_same_trace_hash() -> None:
    """Fresh interpreters, other hash seeds, a warm and a cold one: one trace hash."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from models.faults import parse_fault\n"
            "from models.scenario import Scenario\n"
            "from sim.aio import run_handler\n"
            "sc = Scenario(servers=2, vus=5, requests=30,"
            " faults=(parse_fault('pause:20:6000:holder'),))\n"
            "if sys.argv[1] == 'warm':\n"
            "    run_handler(sc.with_(seed=9, requests=3), 'examples.coupon_handler:handle')\n"
            "print(run_handler(sc, 'examples.coupon_handler:handle_shared').trace_hash)\n")
    hashes = set()
    for seed, mode in (("1", "cold"), ("7", "warm")):
        out = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True,
                             env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin",
                                  "PYTHONPATH": "."}, check=True, timeout=120)
        hashes.add(out.stdout.strip())
    here = run_handler(Scenario(servers=2, vus=5, requests=30, faults=(PAUSE,)),
                       "examples.coupon_handler:handle_shared").trace_hash
    assert hashes == {here}


def test_a_hand_rolled_lock_is_observed_from_the_wire() -> None:
    """No library to wrap: SET NX PX that succeeds is the acquire, DEL or EVAL the release."""
    sc = Scenario(servers=2, vus=5, requests=30, faults=(PAUSE,))
    plain = judged(sc, handlers.hand_rolled("del"))
    assert plain["foreign-release"].valid is False  # the paused holder's DEL hit the next lock
    assert plain["owner-only-release"].valid is False
    assert plain["mutual-exclusion"].valid is False
    checked = judged(sc, handlers.hand_rolled("script"))
    assert checked["mutual-exclusion"].valid is False  # a pause beats any lease
    assert checked["foreign-release"].valid is True and checked["owner-only-release"].valid
    assert checked["held-until-release"].valid is False  # its script returned 0
    calm = judged(sc.with_(faults=()), handlers.hand_rolled("del"))
    assert [p for p, x in calm.items() if x.valid is False] == []
    assert "30 critical sections" in calm["mutual-exclusion"].summary
