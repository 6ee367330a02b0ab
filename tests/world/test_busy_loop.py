"""The step guard: a design that yields forever without letting time pass stops with
one line naming the request and the effect, rather than hanging as memory grows."""

from __future__ import annotations

import pickle
from collections import deque
from dataclasses import dataclass
from typing import Any

import pytest

from models.locks import LOCKS, register
from models.locks.effect import Call, Now, Program, Record, Token
from models.locks.held import Held
from models.scenario import Scenario
from sim.cli.main import main
from sim.runtime.loop import BUSY_LIMIT, BusyLoop, Interpreter, Task


@dataclass(frozen=True, slots=True)
class BusyNow:
    """Spins reading the clock: ``while True: yield Now()``."""

    ttl_ms: int = 5000

    @property
    def name(self) -> str:
        return "busy-now"

    def acquire(self, key: str) -> Program:
        yield Token()
        while True:
            yield Now()

    def release(self, held: Held) -> Program:
        yield Record("ok", "release", (held.token, 1))


@dataclass(frozen=True, slots=True)
class BusyRecord(BusyNow):
    """Spins writing history: the memory-growing kind."""

    @property
    def name(self) -> str:
        return "busy-record"

    def acquire(self, key: str) -> Program:
        while True:
            yield Record("info", "attempt", "spin")


@pytest.fixture(autouse=True)
def busy_designs() -> Any:
    register("busy-now", BusyNow)
    register("busy-record", BusyRecord)
    yield
    LOCKS.pop("busy-now", None)
    LOCKS.pop("busy-record", None)


@pytest.mark.parametrize(("lock", "effect"), [("busy-now", "Now"), ("busy-record", "Record")])
def test_a_busy_design_stops_with_the_request_and_the_effect(lock: str, effect: str) -> None:
    from sim.world import run

    with pytest.raises(BusyLoop) as caught:
        run(Scenario(requests=2, vus=1, lock=lock, horizon_ms=10_000.0))
    msg = str(caught.value)
    assert f"lock design '{lock}' loops without letting time pass" in msg
    assert f"yielded {BUSY_LIMIT} effects" in msg and f"last {effect}()" in msg
    assert caught.value.process in msg and "\n" not in msg


def test_busy_loop_crosses_a_process_pool_intact() -> None:
    exc = BusyLoop("x", "app1/req3", BUSY_LIMIT, 12.3, Now())
    again = pickle.loads(pickle.dumps(exc))
    assert str(again) == str(exc) and again.process == "app1/req3" and again.last == "Now"


class _InstantHost(Interpreter):
    """A host whose Redis answers at once and whose clock never moves."""

    alive = True

    def __init__(self) -> None:
        self.init_interpreter()
        self.queue: deque[tuple[Task, object]] = deque()

    def true_now(self) -> float:
        return 5.0

    def call(self, argv: tuple[object, ...], blocking: bool, on_reply: Any) -> None:
        on_reply(b"OK")

    def resume(self, task: Task, value: object) -> None:
        self.queue.append((task, value))

    def record(self, task: Task, effect: Record) -> None:
        pass


def test_calls_answered_at_once_in_a_loop_count_across_awaits() -> None:
    def spin() -> Program:
        while True:
            yield Call(("GET", "k"))

    host = _InstantHost()
    host.start("app1/req3", spin(), None)
    with pytest.raises(BusyLoop, match=r"app1/req3 yielded 100000 effects at t=5.0 ms, last Call"):
        while host.queue:
            host.step(*host.queue.popleft())


def test_run_and_check_say_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--lock", "busy-now", "--users", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lock design 'busy-now' loops without letting time pass" in err[0]
    assert main(["check", "--lock", "busy-record", "--schedules", "2", "--workers", "1",
                 "--json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "last Record()" in err[0], err
