"""A virtual-time asyncio event loop that the simulator steps, never blocks, never sleeps.

``SimLoop.time()`` is its process's local simulated clock (skew, drift, jumps;
a pause freezes the process, not the clock). The world calls ``run_ready()``
whenever something arrived (a reply, a timer's instant): it runs ready
callbacks and due timers until the loop is idle, then ``next_deadline()``
says when to step it again. There is no selector: I/O arrives as callbacks
the in-memory transports queue (``sim.aio.transport``).

Only ``_ready`` and ``_scheduled`` of ``asyncio.BaseEventLoop`` are used
(the same two every CPython 3.11+ loop has); ``create_connection`` is the one
door to the network, routed by host and port; DNS and executors are threads
and real I/O, so they are refused as escapes.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from asyncio import events
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.aio.server import AioServer

STEP_LIMIT = 200_000
"""Callbacks one loop may run at a single instant: only a loop that never waits
(``while True: await asyncio.sleep(0)``) gets there."""


DISPOSE_ROUNDS = 50
"""Rounds of closing a dead loop's tasks (each round closes the tasks the last one started)."""


def _close(coro: Any) -> None:
    """Close a coroutine for good, even one whose ``finally`` awaits (it is thrown
    ``GeneratorExit`` again at each new await, a bounded number of times)."""
    if coro is None or not hasattr(coro, "close"):
        return
    for _ in range(DISPOSE_ROUNDS):
        # a finally that awaits, or raises: gone with the process all the same
        with contextlib.suppress(BaseException):
            coro.close()
        if getattr(coro, "cr_frame", None) is None:
            return


def _task_order(task: asyncio.Task[Any]) -> str:
    """Tasks are named ``Task-N`` in creation order: closed oldest first, every run alike."""
    name = task.get_name()
    head, _, n = name.rpartition("-")
    return f"{head}-{int(n):012d}" if n.isdigit() else name


class BusyHandler(RuntimeError):
    """The handler's tasks run callbacks forever without letting time pass."""


class SimLoop(asyncio.BaseEventLoop):
    """One simulated process's event loop; its owner (``AioServer``) steps it."""

    # BaseEventLoop's own queues (not in typeshed): ready handles, the timer heap
    _ready: deque[Any]
    _scheduled: list[Any]
    _timer_cancelled_count: int

    def __init__(self, server: AioServer) -> None:
        super().__init__()
        self._server = server
        self._debug = False  # not from PYTHONASYNCIODEBUG: a run is a function of its scenario
        self._clock_resolution = 1e-9
        self.errors: list[dict[str, Any]] = []
        self._stepping = False  # inside run_ready
        self._dead = False  # disposed, or to be once the running callback returns

    # -- time ------------------------------------------------------------------
    def time(self) -> float:
        return self._server.local_time() / 1000.0

    # -- stepping ---------------------------------------------------------------
    def run_ready(self) -> None:
        """Run what is ready and every timer due at this instant, until idle."""
        old = events._get_running_loop()
        events._set_running_loop(self)
        ran = 0
        self._stepping = True
        try:
            ready, scheduled = self._ready, self._scheduled
            while True:
                end = self.time() + self._clock_resolution
                while scheduled and (scheduled[0]._cancelled or scheduled[0]._when < end):
                    handle = heapq.heappop(scheduled)
                    handle._scheduled = False
                    if handle._cancelled:
                        self._timer_cancelled_count -= 1
                    else:
                        ready.append(handle)
                if not ready:
                    return
                for _ in range(len(ready)):
                    handle = ready.popleft()
                    if not handle._cancelled:
                        handle._run()
                    if self._dead:  # the process crashed in that callback: nothing more runs
                        return
                ran += 1
                if ran > STEP_LIMIT:
                    raise BusyHandler(f"{self._server.name}: {STEP_LIMIT} loop iterations at "
                                      f"one instant ({self._server.world.now:.3f} ms): a task "
                                      "never waits for time to pass")
        finally:
            self._stepping = False
            events._set_running_loop(old)
            if self._dead and not self.is_closed():
                self._dispose()

    def next_deadline(self) -> float | None:
        """The earliest live timer's ``when`` (local seconds), None when there is none."""
        scheduled = self._scheduled
        while scheduled and scheduled[0]._cancelled:
            handle = heapq.heappop(scheduled)
            handle._scheduled = False
            self._timer_cancelled_count -= 1
        return scheduled[0]._when if scheduled else None

    def dispose(self) -> None:
        """The process is gone (crashed, or the run ended): close every coroutine on it now.

        Left to the garbage collector, a dead process's coroutines would run their
        ``finally`` blocks (a lock's ``__aexit__``, redis-py's ``disconnect``) whenever
        it collects, with no running loop and outside the run's clock, and a task that
        never started would warn "coroutine ... was never awaited". Closed here, at a
        moment the run chooses, with this loop running; what they try to send or record
        is dropped by their dead process (``AioServer.shutdown``). A process that dies
        inside one of its own callbacks (a fault aimed at the holder) is disposed of
        when that callback returns: a running coroutine cannot be closed."""
        if self._dead:
            return
        self._dead = True
        if not self._stepping:
            self._dispose()

    def _dispose(self) -> None:
        old = events._get_running_loop()
        events._set_running_loop(self)
        closed: set[asyncio.Task[Any]] = set()
        try:
            for _ in range(DISPOSE_ROUNDS):  # a finally may start tasks of its own: those too
                tasks = sorted(asyncio.all_tasks(self) - closed, key=_task_order)
                if not tasks:
                    break
                for task in tasks:
                    closed.add(task)
                    task._log_destroy_pending = False  # type: ignore[attr-defined]
                    _close(task.get_coro())
            self._ready.clear()
            for handle in self._scheduled:
                handle._scheduled = False
            self._scheduled.clear()
            self._timer_cancelled_count = 0
            self.close()
        finally:
            events._set_running_loop(old)

    @property
    def has_ready(self) -> bool:
        return bool(self._ready)

    # -- what BaseEventLoop leaves to a selector loop -------------------------------
    def _process_events(self, event_list: Any) -> None:
        pass

    def _write_to_self(self) -> None:
        pass  # call_soon_threadsafe: the world steps the loop; nothing to wake

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        """Errors a callback raised (asyncio would log them): kept for the run's report."""
        self.errors.append(context)

    # -- the network ----------------------------------------------------------------
    async def create_connection(  # type: ignore[override]
            self, protocol_factory: Callable[[], asyncio.BaseProtocol],
            host: str | None = None, port: int | None = None, **kwargs: Any
    ) -> tuple[asyncio.Transport, asyncio.BaseProtocol]:
        return await self._server.connect(protocol_factory, host, port)

    async def getaddrinfo(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self._server.escape("dns", f"loop.getaddrinfo{args[:2]!r} (a resolver thread)")
        raise OSError("locksim: DNS is not simulated; name the node by host")

    def run_in_executor(self, executor: Any, func: Callable[..., Any],  # type: ignore[override]
                        *args: Any) -> asyncio.Future[Any]:
        self._server.escape("thread", f"loop.run_in_executor({getattr(func, '__name__', func)})")
        raise RuntimeError("locksim: executors run real threads, outside the simulation")

    async def create_server(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self._server.escape("socket", "loop.create_server")
        raise OSError("locksim: listening sockets are not simulated")
