"""redis-py's sync ``redis.lock.Lock``, unmodified, in virtual threads: what it must show.

Every scenario here also passes the determinism self-check (two runs, one trace hash).
"""

from __future__ import annotations

import pytest

from models.faults import parse_fault
from models.scenario import Scenario
from sim.aio import HandlerError, check_determinism, run_handler
from sim.aio.runner import judge
from tests.threads import handlers

PAUSE = parse_fault("pause:20:6000:holder")  # longer than the lock's 5 s timeout


def judged(scenario: Scenario, handler: object) -> dict[str, object]:
    run, same = check_determinism(scenario, handler)  # type: ignore[arg-type]
    assert same.same, str(same)
    return {v.property: v for v in judge(run)}


def violated(v: dict[str, object]) -> list[str]:
    return [p for p, x in v.items() if x.valid is False]  # type: ignore[attr-defined]


def test_without_faults_every_property_holds() -> None:
    sc = Scenario(servers=2, vus=5, requests=30)
    assert violated(judged(sc, handlers.fresh_lock)) == []
    run = run_handler(sc, handlers.fresh_lock)
    assert run.result.completed == 30 and run.result.stock_left == 970
    # the sync client's own wire: NOSCRIPT on the first EVALSHA, then SCRIPT LOAD
    assert run.result.redis_counts.get("EVALSHA") == 31
    assert run.result.redis_counts.get("SCRIPT") == 1


@pytest.mark.parametrize("servers", [1, 2])
def test_a_pause_longer_than_the_timeout_lets_a_second_holder_in(servers: int) -> None:
    v = judged(Scenario(servers=servers, vus=5, requests=30, faults=(PAUSE,)),
               handlers.fresh_lock)
    me = v["mutual-exclusion"]
    assert me.valid is False  # type: ignore[attr-defined]
    assert "LockNotOwnedError" in me.story  # type: ignore[attr-defined]
    held = v["held-until-release"]
    assert held.valid is False and "LockNotOwnedError" in held.summary  # type: ignore[attr-defined]
    assert v["owner-only-release"].valid is True  # type: ignore[attr-defined]
    assert v["foreign-release"].valid is True  # type: ignore[attr-defined]


def test_thread_local_keeps_a_shared_lock_objects_tokens_apart() -> None:
    """Unlike asyncio tasks, request threads each have their own ``threading.local``: a
    shared Lock with ``thread_local=True`` never releases another thread's lock, and with
    ``thread_local=False`` it does (the shared-token bug, in threads)."""
    sc = Scenario(servers=1, vus=5, requests=30, faults=(PAUSE,))
    local = judged(sc, handlers.shared_lock(True))
    assert local["owner-only-release"].valid is True  # type: ignore[attr-defined]
    assert local["foreign-release"].valid is True  # type: ignore[attr-defined]
    assert local["mutual-exclusion"].valid is False  # the pause still beats the lease
    shared = judged(sc, handlers.shared_lock(False))
    assert shared["owner-only-release"].valid is False  # type: ignore[attr-defined]
    assert "EVALSHA>DEL" in shared["foreign-release"].summary  # type: ignore[attr-defined]
    assert "not its own" in shared["held-until-release"].summary  # type: ignore[attr-defined]


def test_a_crashed_holder_is_unwound_without_a_trace() -> None:
    """The crashed process's threads unwind at once (their ``finally`` runs under the
    simulation); nothing they do then reaches Redis, the database or the history."""
    sc = Scenario(servers=2, vus=5, requests=30, faults=(parse_fault("crash:20:1000:holder"),))
    run, same = check_determinism(sc, handlers.fresh_lock)
    assert same.same
    crashes = [op for op in run.result.history if op.f == "crash"]
    assert len(crashes) == 1
    node, at = crashes[0].node, crashes[0].time
    dead = {op.process for op in run.result.history
            if op.f == "request" and op.type == "info" and op.value == "crashed"}
    assert dead  # the holder, mid-section
    late = [op for op in run.result.history if op.process in dead and op.time > at
            and op.f != "request"]
    assert late == []
    tokens = {str(op.value[0]).encode() for op in run.result.history
              if op.process in dead and op.f == "acquire" and op.type == "ok"}
    assert tokens  # the holder's; its `with` block's release ran in the unwinding, unsent
    sent = [argv for t, _c, argv, _r in run.result.redis_log
            if t > at and any(a in tokens for a in argv)]
    assert sent == []
    assert node.startswith("app")
    assert run.result.completed == 30


def test_redis_restart_resets_the_blocking_sockets() -> None:
    sc = Scenario(servers=2, vus=5, requests=30, faults=(parse_fault("redis-restart:20:500"),))
    v = judged(sc, handlers.fresh_lock)
    assert v["held-until-release"].valid is False  # the key was lost with Redis
    assert run_handler(sc, handlers.fresh_lock).result.completed == 30


@pytest.mark.parametrize("handler, kind", [(handlers.real_thread, "thread"),
                                           (handlers.real_socket, "socket"),
                                           (handlers.elsewhere, "socket"),
                                           (handlers.wall_sleep, "sleep")])
def test_a_handler_that_escapes_is_an_error_not_a_result(handler: object, kind: str) -> None:
    with pytest.raises(HandlerError, match=f"escaped the simulation: {kind}"):
        run_handler(Scenario(servers=1, vus=2, requests=2), handler)  # type: ignore[arg-type]


def test_a_handler_that_never_lets_time_pass_is_an_error() -> None:
    with pytest.raises(HandlerError, match="never waits for time to pass"):
        run_handler(Scenario(servers=1, vus=1, requests=1), handlers.spins)


def test_the_real_world_is_restored_after_a_run() -> None:
    import concurrent.futures
    import socket
    import threading
    import time

    real = (time.sleep, threading.Thread, threading.Lock, threading.RLock, threading.local,
            threading.current_thread, threading.get_ident, threading.Thread.start,
            socket.socket, socket.create_connection, socket.getaddrinfo,
            concurrent.futures.ThreadPoolExecutor.submit)
    run_handler(Scenario(servers=1, vus=2, requests=4), handlers.threads_and_clocks)
    assert (time.sleep, threading.Thread, threading.Lock, threading.RLock, threading.local,
            threading.current_thread, threading.get_ident, threading.Thread.start,
            socket.socket, socket.create_connection, socket.getaddrinfo,
            concurrent.futures.ThreadPoolExecutor.submit) == real
    box: list[int] = []
    worker = threading.Thread(target=lambda: box.append(threading.get_ident()))
    worker.start()
    worker.join()
    assert box and box[0] != threading.get_ident()  # a real thread again


def test_the_same_run_in_other_processes_has_the_same_trace_hash() -> None:
    import subprocess
    import sys

    code = ("from models.faults import parse_fault\n"
            "from models.scenario import Scenario\n"
            "from sim.aio import run_handler\n"
            "sc = Scenario(servers=2, vus=5, requests=30,"
            " faults=(parse_fault('pause:20:6000:holder'),))\n"
            "print(run_handler(sc, 'tests.threads.handlers:renewing').trace_hash)\n")
    hashes = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin",
                                  "PYTHONPATH": "."}, check=True, timeout=120).stdout.strip()
              for seed in ("1", "7")}
    here = run_handler(Scenario(servers=2, vus=5, requests=30, faults=(PAUSE,)),
                       "tests.threads.handlers:renewing").trace_hash
    assert hashes == {here}
