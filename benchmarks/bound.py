"""A lower bound for the report scenario: its lock programs and history alone.

A run's lock and service code is a set of effect generators whose every input
is a value the interpreter sends in. Capture those values from one real run,
then drive fresh copies of the same generators with them, recording every
``Record`` effect into a history as the world does, but with no kernel, no
network, no Redis model and no app-server loop. What that costs is the least
any interpreter of these programs and their histories can cost in Python:
if it alone exceeds a time budget, no faster kernel or model can meet it.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import Any

from models.history import Recorder
from models.locks.effect import Record, Spawn

Transcripts = dict[str, list[Any]]


class _Tape:
    """A generator stand-in that writes down every value sent into it."""

    __slots__ = ("gen", "sent")

    def __init__(self, gen: Generator[Any, Any, Any], sent: list[Any]) -> None:
        self.gen = gen
        self.sent = sent

    def send(self, value: Any) -> Any:
        self.sent.append(value)
        return self.gen.send(value)

    def close(self) -> None:
        self.gen.close()

    def throw(self, *args: Any) -> Any:
        return self.gen.throw(*args)


def capture(scenario: Any) -> tuple[Transcripts, dict[str, tuple[int, str]], Any]:
    """Run ``scenario`` once; return each task's sent values, each request's
    (user, session) and the run's result."""
    from sim.runtime.loop import Task
    from sim.world import World

    transcripts: Transcripts = {}
    requests: dict[str, tuple[int, str]] = {}
    class TapedTask(Task):
        __slots__ = ()

        def __init__(self, process: str, gen: Any, on_done: Any = None) -> None:
            super().__init__(process, _Tape(gen, transcripts.setdefault(process, [])), on_done)

    world = World(scenario)
    service = world.service

    class Counted:
        """The run's coupon service, noting each request's (user, session)."""

        def __getattr__(self, name: str) -> Any:
            return getattr(service, name)

        def handle(self, lock: Any, user: int, session: str) -> Any:
            requests[f"#{len(requests)}"] = (user, session)
            return service.handle(lock, user, session)

    world.service = Counted()  # type: ignore[assignment]
    for server in world.servers:  # the interpreter's documented hook for new tasks
        server.task_type = TapedTask
    result = world.run()
    return transcripts, requests, result


def _drive(gen: Generator[Any, Any, Any], sent: list[Any], process: str,
           transcripts: Transcripts, recorder: Recorder) -> None:
    """Feed ``gen`` its recorded inputs, one send per send of the real run;
    record its ops; drive what it spawns with the child's own inputs."""
    record = recorder.record
    for value in sent:
        try:
            effect = gen.send(value)
        except StopIteration:
            return
        kind = type(effect)
        if kind is Record:
            record(0.0, process, effect.type, effect.f, effect.value, "")
        elif kind is Spawn:
            child = f"{process}/{effect.name}"
            _drive(effect.body, transcripts.get(child, []), child, transcripts, recorder)
    gen.close()  # the real run ended here too (cancelled, crashed or at the horizon)


def programs_alone(scenario: Any, repeats: int = 3) -> dict[str, Any]:
    """Seconds to run the scenario's programs and record their history, best of
    ``repeats``, with the ops count checked against the real run's."""
    from sim.world.world import World, fewer_collections

    transcripts, requests, result = capture(scenario)
    by_order = [p for p in transcripts if p.count("/") == 1]  # requests; children have two
    world = World(scenario)  # a lock and a service configured as in the run
    best = float("inf")
    ops = 0
    for _ in range(max(1, repeats)):
        recorder = Recorder()
        with fewer_collections():  # the garbage collector's regime of a real run
            started = time.perf_counter()
            for n, process in enumerate(by_order):
                user, session = requests[f"#{n}"]
                gen = world.service.handle(world.lock, user, session)
                _drive(gen, transcripts[process], process, transcripts, recorder)
            best = min(best, time.perf_counter() - started)
        ops = len(recorder)
    programs_ops = sum(1 for op in result.history if op.process not in ("storage", "nemesis"))
    if ops != programs_ops:  # the replay must be the run's programs, op for op
        raise RuntimeError(f"replayed programs recorded {ops} ops, the run {programs_ops}")
    return {"seconds": best, "ops": ops, "run_ops": len(result.history)}



def events_alone(events: int, pending: int = 100, repeats: int = 3) -> float:
    """Seconds to schedule and fire ``events`` of the simulator's cheapest event
    (a scheduled call of a function that schedules the next one), ``pending`` on
    the heap at a time, as a run has: what the kernel costs with no work at all."""
    return min(_events_once(events, pending) for _ in range(max(1, repeats)))


def _events_once(events: int, pending: int) -> float:
    import random

    import simpy

    from sim.world.kernel import call_after, drive
    from sim.world.world import fewer_collections

    env = simpy.Environment()
    finished = env.event()
    draw = random.Random(1).random
    left = [events]

    def tick() -> None:
        left[0] -= 1
        if left[0] <= 0:
            if not finished.triggered:
                finished.succeed()
            return
        call_after(env, draw(), tick)

    for _ in range(pending):
        call_after(env, draw(), tick)
    with fewer_collections():
        started = time.perf_counter()
        drive(env, finished)
        return time.perf_counter() - started
