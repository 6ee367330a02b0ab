"""Run a team's own sync request handler in the simulated world, and check the run.

``run_handler(scenario, handler)`` is the asyncio tier's (``sim.aio.runner``)
with ``SyncServer``s: real sync code (redis-py's ``redis.Redis``, its
``redis.lock.Lock``, python-redis-lock, pottery's ``Redlock``) in virtual
threads on the simulated processes. The same observation, checkers,
determinism self-check and escape rule apply: a run in which the handler
escaped the simulation raises ``HandlerError``, never a verdict.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from models.scenario import Scenario
from sim.aio.loop import BusyHandler
from sim.aio.observe import Observer, Request
from sim.aio.runner import (
    AioWorld,
    ClientKit,
    HandlerError,
    LibraryRun,
    client_kit,
    escaped,
    loop_errors,
)
from sim.aio.threads import scheduler as sched
from sim.aio.threads import shims
from sim.aio.threads.server import SyncHandler, SyncServer


class SyncObserver(Observer):
    """The asyncio tier's observer; a dying process's unwinding leaves no record."""

    def record(self, req: Request, type_: str, f: str, value: object = None) -> None:
        s = sched.scheduler()
        if s is not None and s.dead:
            return
        super().record(req, type_, f, value)

    def instrument(self) -> Any:
        from sim.aio.threads.libraries import instrument

        return instrument(self)


class SyncWorld(AioWorld):
    """The simulated world whose app servers run real sync code in virtual threads."""

    observer_class = SyncObserver

    def __init__(self, scenario: Scenario, handler: SyncHandler, handler_name: str = "",
                 client_kwargs: dict[str, Any] | None = None) -> None:
        self.sync_handler = handler
        self._thread_idents = 0
        super().__init__(scenario, handler, handler_name, client_kwargs)  # type: ignore[arg-type]

    def make_server(self, name: str) -> Any:
        return SyncServer(self, name)

    def next_thread_ident(self) -> int:
        """Thread idents by start order in the whole world (deterministic, never reused)."""
        self._thread_idents += 1
        return 1000 + self._thread_idents

    def client_kit(self) -> ClientKit:
        """redis-py's sync classes: ``redis.Redis`` (a tuple of them on ``redlock:N``, a
        ``redis.sentinel.Sentinel`` master client on ``sentinel:N``, as the asyncio tier)."""
        return client_kit(sync=True)

    def unwind(self) -> None:
        for server in self.servers:
            server.unwind()


def is_sync(fn: Callable[..., Any]) -> bool:
    return not inspect.iscoroutinefunction(fn)


def run_handler(scenario: Scenario, fn: SyncHandler, name: str,
                client_kwargs: dict[str, Any] | None = None) -> LibraryRun:
    """One run of the sync ``fn``; raises ``HandlerError`` if it escaped the simulation."""
    from sim.aio import shims as aio_shims
    from sim.aio.runner import _who

    world = SyncWorld(scenario, fn, name, client_kwargs)
    sim = aio_shims.Simulation(scenario.seed, lambda: world.env.now, _who)
    try:
        with world.observer.instrument(), shims.patched(sim):
            try:
                result = world.run()
            finally:
                world.unwind()  # while the simulation still serves them
            loops = [s.loop for s in world.servers]
    except BusyHandler as exc:
        raise HandlerError(f"{name}: {exc}") from None
    escaped(name, sim)
    return LibraryRun(result, name, tuple(world.observer.library_errors), loop_errors(loops))
