"""A call scheduled on SimPy's event queue: the cheapest event the kernel can run.

``env.timeout(d)`` plus a callback builds an ``Event``, a callbacks list and a
closure for every message, reply and timer; the simulator schedules hundreds of
thousands of them per run. A scheduled call is a bare ``(fn, args)`` tuple
pushed on SimPy's own heap with the key ``env.timeout(d)`` would get (time,
priority, event id), so it interleaves with SimPy's own events exactly as the
timeout it replaces would. ``Environment.step`` cannot run such an entry: a
world's queue is run by ``drive`` (or ``run_to``, for ``env.run(until=t)``).
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any

import simpy
from simpy.events import NORMAL, URGENT

__all__ = ["NORMAL", "URGENT", "call_after", "drive", "run_to"]


def call_after(env: simpy.Environment, delay: float, fn: Callable[..., Any], *args: Any,
               priority: int = NORMAL) -> None:
    """Run ``fn(*args)`` ``delay`` ms from now, keyed exactly as ``env.timeout(delay)``."""
    heappush(env._queue, (env._now + delay, priority, next(env._eid), (fn, args)))  # type: ignore[misc]


def drive(env: simpy.Environment, until: simpy.Event) -> None:
    """``env.run(until=until)`` with scheduled calls run inline.

    Entries pop in the same (time, priority, id) order and SimPy's own events
    (processes, ``until``) are processed as ``step`` would, so a run is the
    same; a call is a tuple, not an object with a callbacks list (a tenth of a
    microsecond each to build, of hundreds of thousands)."""
    queue = env._queue
    pop = heappop
    call = tuple
    while until.callbacks is not None:
        try:
            now, _, _, event = pop(queue)
        except IndexError:
            raise RuntimeError(f"no events left; {until!r} never triggered") from None
        env._now = now
        if type(event) is call:
            fn, args = event
            fn(*args)
            continue
        callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
        for callback in callbacks:
            callback(event)
        if not event._ok and not hasattr(event, "_defused"):
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc


def run_to(env: simpy.Environment, at: float) -> None:
    """``env.run(until=at)``: an urgent event at ``at`` (as SimPy schedules it) ends the
    drive, so the events at ``at`` itself are left for later, as ``run`` leaves them."""
    if at <= env.now:
        raise ValueError(f"until ({at}) must be greater than the current simulation time")
    until = simpy.Event(env)
    until._ok = True
    until._value = None
    env.schedule(until, URGENT, at - env.now)
    drive(env, until)
