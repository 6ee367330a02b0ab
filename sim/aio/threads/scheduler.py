"""Cooperative virtual threads of one simulated process, run one at a time on its loop.

Every virtual thread is a greenlet whose parent is the simulator's own
greenlet (the hub). A thread runs until it blocks (``park``): it then
switches back to the hub, and is resumed only by a callback on its
process's ``SimLoop`` (a reply arrived, a timer fell due, a lock was handed
over). So threads interleave only where they block, in the loop's FIFO and
timer order: a run is a function of its scenario and seed, a paused process
runs none of them, and timeouts are read on the process's local clock.

A crashed (or finished) process's threads are unwound at once: each gets
``ProcessGone`` thrown in, and every blocking call of a dead process raises it
again, so ``finally`` blocks run now, under the simulation, and reach nothing
(their sends and storage calls go nowhere, their records are dropped).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import greenlet

from sim.aio import shims

if TYPE_CHECKING:
    import asyncio

    from sim.aio.threads.server import SyncServer


class ProcessGone(BaseException):  # control flow, like GeneratorExit
    """Thrown into a virtual thread whose process crashed or whose run ended."""


class Green(greenlet.greenlet):  # type: ignore[misc]
    """A virtual thread's greenlet: which scheduler runs it and which thread object it is."""

    def __init__(self, run: Callable[[], None], parent: greenlet.greenlet,
                 scheduler: Scheduler, thread: Any) -> None:
        super().__init__(run, parent)
        self.scheduler = scheduler
        self.thread = thread


class Waiter:
    """One blocked virtual thread; the first ``wake`` decides what its park returns."""

    __slots__ = ("done", "green", "timer", "value")

    def __init__(self, green: Green) -> None:
        self.green = green
        self.done = False
        self.value = False
        self.timer: asyncio.TimerHandle | None = None


def current() -> Green | None:
    g = greenlet.getcurrent()
    return g if isinstance(g, Green) else None


def scheduler() -> Scheduler | None:
    """The scheduler of the calling virtual thread, None outside one."""
    g = current()
    return g.scheduler if g is not None else None


def required(what: str) -> Scheduler:
    """The calling thread's scheduler; outside a virtual thread, blocking is an escape."""
    g = current()
    if g is None:
        sim = shims.active()
        if sim is None:
            raise RuntimeError(f"locksim: {what} outside a simulated run")
        raise sim.escape("thread", f"{what} outside a virtual thread (it would block the "
                                   "simulator in wall time)")
    if g.scheduler.dead:
        raise ProcessGone()
    return g.scheduler


class Scheduler:
    """The virtual threads of one process image (a restart makes a new one)."""

    def __init__(self, server: SyncServer) -> None:
        self.server = server
        self.loop = server.loop
        self.dead = False
        self.greens: list[Green] = []  # in start order: the order they are unwound in

    def spawn(self, thread: Any, body: Callable[[], None],
              context: contextvars.Context) -> Green:
        """Start ``body`` as a new virtual thread at this instant, after what is ready."""
        here = greenlet.getcurrent()
        hub = here.scheduler.hub if isinstance(here, Green) else here
        g = Green(body, hub, self, thread)
        g.gr_context = context
        self.hub = hub
        self.greens.append(g)
        self.loop.call_soon(self._resume, g, None, context=contextvars.Context())
        self.server.wake()
        return g

    hub: greenlet.greenlet

    # -- blocking --------------------------------------------------------------------
    def waiter(self) -> Waiter:
        g = current()
        assert g is not None and g.scheduler is self
        return Waiter(g)

    def park(self, waiter: Waiter, timeout: float | None = None) -> bool:
        """Block the calling thread until ``wake(waiter, value)`` (returns value) or for
        ``timeout`` seconds of its process's clock (returns False)."""
        if self.dead:
            raise ProcessGone()
        if timeout is not None:
            waiter.timer = self.loop.call_later(max(0.0, timeout), self.wake, waiter, False)
        try:
            self.hub.switch()
        finally:
            waiter.done = True
            if waiter.timer is not None:
                waiter.timer.cancel()
        if self.dead:
            raise ProcessGone()
        return waiter.value

    def wake(self, waiter: Waiter, value: bool = True) -> bool:
        """Resume ``waiter``'s thread with ``value``; False if it was already woken."""
        if waiter.done:
            return False
        waiter.done = True
        waiter.value = value
        if waiter.timer is not None:
            waiter.timer.cancel()
            waiter.timer = None
        self.loop.call_soon(self._resume, waiter.green, True, context=contextvars.Context())
        self.server.wake()
        return True

    def sleep(self, seconds: float) -> None:
        """``time.sleep`` in a virtual thread: the process's clock, not the wall's."""
        w = self.waiter()
        self.park(w, max(0.0, float(seconds)))

    def wait(self, fut: asyncio.Future[Any], timeout: float | None = None) -> bool:
        """Block until the loop future ``fut`` is done (True) or ``timeout`` passed."""
        if fut.done():
            return True
        w = self.waiter()
        fut.add_done_callback(lambda _f: self.wake(w, True))
        return self.park(w, timeout)

    def _resume(self, g: Green, _value: object) -> None:
        if self.dead or g.dead:
            return
        g.switch()

    # -- death -----------------------------------------------------------------------
    def kill(self) -> list[str]:
        """Unwind every thread of this process now; the names of those that would not die."""
        self.dead = True
        survivors = []
        for g in self.greens:
            if g:  # started, not finished (an unstarted one never runs)
                g.throw(ProcessGone())
            if g:
                survivors.append(str(getattr(g.thread, "name", "?")))
        self.greens.clear()
        return survivors
