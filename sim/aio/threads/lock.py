"""``threading.Lock`` and ``RLock`` for virtual threads: a contended acquire parks the thread.

A release hands the lock to the longest waiter (FIFO), so who gets it next is a
function of the run, not of an OS scheduler. ``threading``'s own ``Condition``,
``Event``, ``Semaphore`` and ``Barrier`` are built on these while a run lasts
(``threading.Lock``/``RLock``/``_allocate_lock`` are swapped), and so are
``queue.Queue`` and ``concurrent.futures``' waiters.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from sim.aio.threads import scheduler as sched
from sim.aio.threads.scheduler import Waiter


def _timeout(blocking: bool, timeout: float) -> float | None:
    if not blocking and timeout != -1:
        raise ValueError("can't specify a timeout for a non-blocking call")
    if timeout < 0 and timeout != -1:
        raise ValueError("timeout value must be a non-negative number")
    return None if timeout == -1 else float(timeout)


class Lock:
    """A mutex; any thread may release it, as with ``threading.Lock``."""

    def __init__(self) -> None:
        self._locked = False
        self._waiters: deque[Waiter] = deque()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        limit = _timeout(blocking, timeout)
        if not self._locked:
            self._locked = True
            return True
        if not blocking:
            return False
        s = sched.required("a contended Lock.acquire")
        w = s.waiter()
        self._waiters.append(w)
        try:
            got = s.park(w, limit)
        finally:
            if w in self._waiters:
                self._waiters.remove(w)
        return got  # the releaser handed it over: still locked, now ours

    def release(self) -> None:
        if not self._locked:
            raise RuntimeError("release unlocked lock")
        while self._waiters:
            w = self._waiters.popleft()
            if w.green.scheduler.wake(w, True):
                return
        self._locked = False

    def locked(self) -> bool:
        return self._locked

    def _at_fork_reinit(self) -> None:
        self._locked = False
        self._waiters.clear()

    __enter__ = acquire

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"<locksim virtual {'locked' if self._locked else 'unlocked'} Lock>"


class RLock:
    """A re-entrant lock owned by one virtual thread (or the simulator's own greenlet)."""

    def __init__(self) -> None:
        self._lock = Lock()
        self._owner: Any = None
        self._count = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        me = _me()
        if self._owner is me and self._count:
            self._count += 1
            return True
        if not self._lock.acquire(blocking, timeout):
            return False
        self._owner, self._count = me, 1
        return True

    def release(self) -> None:
        if self._owner is not _me() or not self._count:
            raise RuntimeError("cannot release un-acquired lock")
        self._count -= 1
        if not self._count:
            self._owner = None
            self._lock.release()

    # what threading.Condition uses to wait on an RLock held several times
    def _is_owned(self) -> bool:
        return self._owner is _me() and self._count > 0

    def _release_save(self) -> tuple[int, Any]:
        if not self._count:
            raise RuntimeError("cannot release un-acquired lock")
        state = (self._count, self._owner)
        self._count, self._owner = 0, None
        self._lock.release()
        return state

    def _acquire_restore(self, state: tuple[int, Any]) -> None:
        self._lock.acquire()
        self._count, self._owner = state

    def _at_fork_reinit(self) -> None:
        self._lock._at_fork_reinit()
        self._owner, self._count = None, 0

    __enter__ = acquire

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"<locksim virtual RLock count={self._count}>"


def _me() -> object:
    import greenlet

    return greenlet.getcurrent()
