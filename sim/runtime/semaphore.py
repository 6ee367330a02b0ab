"""Redisson's per-process semaphore on one channel, shared by both interpreters.

``WaitMessage(wake="one")``: a message wakes the longest-parked waiter of the
process, or is kept as a permit for the next such wait. The simulator
(``sim/world/app_server.py``) and the real driver (``sim/real/worker.py``) use it through
``sim.runtime.loop``, so the two worlds give the effect one meaning.
"""

from __future__ import annotations

from collections import deque
from typing import Any


class Semaphore:
    """Permits (messages nobody was parked for) and parked waiters, in order."""

    __slots__ = ("permits", "waiters")

    def __init__(self) -> None:
        self.permits: deque[bytes] = deque()
        self.waiters: deque[tuple[Any, int]] = deque()  # (task, the seq it waits with)

    def wake(self, channel: str, message: bytes) -> Any:
        """A message arrived: unpark the longest-parked waiter still waiting on ``channel``
        (marked woken; the caller resumes it with the message), or keep a permit."""
        while self.waiters:
            task, seq = self.waiters.popleft()
            if task.alive and task.seq == seq and task.waiting == channel:
                task.waiting = None
                task.seq += 1
                return task
        self.permits.append(message)
        return None


def semaphore(sems: dict[str, Semaphore], listeners: dict[str, dict[Any, deque[bytes]]],
              channel: str, box: deque[bytes]) -> Semaphore:
    """The channel's semaphore, made at its first ``wake="one"`` wait: messages queued
    before it (for any listener) become its first permits."""
    sem = sems.get(channel)
    if sem is None:
        sem = sems[channel] = Semaphore()
        sem.permits.extend(box)
        for other in listeners.get(channel, {}).values():
            other.clear()
    return sem
