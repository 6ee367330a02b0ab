"""A call scheduled on SimPy's event queue: the cheapest event the kernel can step.

``env.timeout(d)`` plus a callback builds an ``Event``, a callbacks list and a
closure for every message, reply and timer; the simulator schedules hundreds of
thousands of them per run. A ``Timer`` is what ``Environment.step`` reads and
nothing more (``callbacks`` and ``_ok``), pushed on the same heap with the same
(time, priority, event id) key, so it interleaves with SimPy's own events
exactly as the timeout it replaces would.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any

import simpy
from simpy.events import NORMAL, URGENT

__all__ = ["NORMAL", "URGENT", "Timer", "call_after", "drive"]


def _fire(timer: Timer) -> None:
    timer.fn(*timer.args)


_FIRE = (_fire,)


class Timer:
    """``fn(*args)`` at a virtual time; ``step()`` clears ``callbacks`` and reads ``_ok``."""

    __slots__ = ("args", "callbacks", "fn")
    _ok = True

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.callbacks: tuple[Callable[[Timer], None], ...] | None = _FIRE
        self.fn = fn
        self.args = args


def call_after(env: simpy.Environment, delay: float, fn: Callable[..., Any], *args: Any,
               priority: int = NORMAL) -> None:
    """Run ``fn(*args)`` ``delay`` ms from now, keyed exactly as ``env.timeout(delay)``."""
    heappush(env._queue, (env._now + delay, priority, next(env._eid), Timer(fn, args)))  # type: ignore[misc]


def drive(env: simpy.Environment, until: simpy.Event) -> None:
    """``env.run(until=until)`` with ``Timer``s called inline, not through ``step``.

    Events pop in the same (time, priority, id) order and SimPy's own events
    (processes, ``until``) are processed as ``step`` would, so a run is the
    same; a Timer just skips two Python calls, of hundreds of thousands."""
    queue = env._queue
    pop = heappop
    timer = Timer
    while until.callbacks is not None:
        try:
            now, _, _, event = pop(queue)
        except IndexError:
            raise RuntimeError(f"no events left; {until!r} never triggered") from None
        env._now = now
        if type(event) is timer:
            event.callbacks = None  # type: ignore[assignment]
            event.fn(*event.args)
            continue
        callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
        for callback in callbacks:
            callback(event)
        if not event._ok and not hasattr(event, "_defused"):
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc
