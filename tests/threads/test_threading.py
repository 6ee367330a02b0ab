"""The virtual ``threading``: threads, locks, conditions, timers, locals and clocks."""

from __future__ import annotations

from typing import Any

import pytest

from models.scenario import Scenario
from sim.aio import HandlerError, check_determinism, run_handler
from tests.threads import handlers


def _took(run: Any) -> list[bytes]:
    return [argv[2] for _t, _c, argv, _r in run.result.redis_log
            if argv[0] == b"SET" and argv[1].startswith(b"took:")]


def test_threads_timers_conditions_and_locals_run_on_the_simulated_clock() -> None:
    run, same = check_determinism(Scenario(servers=1, vus=1, requests=2),
                                  handlers.threads_and_clocks)
    assert same.same
    took = _took(run)
    assert len(took) == 2
    for value in took:
        seconds, _uuid, mine, workers = value.decode().split(" ")
        # the workers start after notify_all (the starter runs until it blocks), so each
        # waits out its 0.5 s, then sleeps 0.01*n: the last joins at exactly 0.52 s
        assert seconds == "0.520000"
        assert mine == "request"  # each thread its own threading.local
        assert workers == "0:worker0:w0,1:worker1:w1,2:worker2:w2"
    assert took[0].split()[1] != took[1].split()[1]  # uuid4 from the run's source
    assert run.loop_errors == ()


def test_a_lock_is_handed_to_its_longest_waiter() -> None:
    import threading

    def handle(redis: Any, db: Any, user: int) -> str:
        order: list[str] = []
        gate = threading.Lock()
        gate.acquire()

        def waiter(name: str) -> None:
            with gate:
                order.append(name)

        threads = [threading.Thread(target=waiter, args=(n,)) for n in "abc"]
        for t in threads:
            t.start()
        import time
        time.sleep(0.1)
        assert not gate.acquire(timeout=0.05)  # held: a timed acquire gives up
        gate.release()
        for t in threads:
            t.join()
        rlock = threading.RLock()
        with rlock, rlock:
            order.append("re-entered")
        return ",".join(order)

    run = run_handler(Scenario(servers=1, vus=1, requests=1), handle)
    answers = [op.value for op in run.result.history if op.f == "request" and op.type == "ok"]
    assert answers == ["a,b,c,re-entered"]


def test_a_thread_that_raises_is_reported_not_fatal() -> None:
    import threading

    def handle(redis: Any, db: Any, user: int) -> str:
        t = threading.Thread(target=lambda: 1 / 0, name="boom")
        t.start()
        t.join()
        return "answered"

    run = run_handler(Scenario(servers=1, vus=1, requests=1), handle)
    assert run.loop_errors == ("exception in thread boom: ZeroDivisionError: division by zero",)
    assert run.result.completed == 1


def test_a_sync_handler_that_takes_other_arguments_is_refused() -> None:
    with pytest.raises(HandlerError, match="def shared_lock"):
        run_handler(Scenario(servers=1, vus=1, requests=1), "tests.threads.handlers:shared_lock")
