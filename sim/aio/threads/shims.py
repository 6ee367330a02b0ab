"""What the sync tier swaps, on top of the asyncio tier's shims, while a run lasts.

``sim.aio.shims.patched`` serves the clocks, uuids, ``os.urandom`` and
``random`` and watches for real sockets, threads and processes; here it is
given more pairs, swapped wherever they are bound and restored after:

================================================  ===========================================
``time.sleep``                                    parks the virtual thread (process clock);
                                                  outside a virtual thread: an escape
``threading.Thread``/``Timer``/``local``          virtual (``sim.aio.threads.thread``)
``threading.Lock``/``RLock``/``_allocate_lock``   virtual (``sim.aio.threads.lock``): so
                                                  ``Condition``, ``Event``, ``Semaphore``,
                                                  ``queue.Queue``, futures' waiters are too
``threading.current_thread``/``get_ident``        the virtual thread's
``socket.socket`` (in ``socket``),                in-memory to the simulated nodes
``socket.create_connection``/``getaddrinfo``      (``sim.aio.threads.connection``)
``ThreadPoolExecutor.submit``/``shutdown``        one virtual thread per task
``select.select`` with a timeout                  an escape (it waits in wall time)
================================================  ===========================================

Not covered (and so reported as escapes or left as limits, see the README):
a ``threading.Thread`` subclass defined before the run starts real threads
(escape); ``queue.SimpleQueue`` and locks created before the run are real
(a contended one would block the OS thread); a ``threading.local``
subclass defined before the run is shared by every virtual thread.
"""

from __future__ import annotations

import concurrent.futures
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from sim.aio import shims
from sim.aio.threads import connection, thread
from sim.aio.threads import lock as vlock
from sim.aio.threads import scheduler as sched

_REAL = {"sleep": time.sleep, "select": select.select,
         "submit": concurrent.futures.ThreadPoolExecutor.submit,
         "shutdown": concurrent.futures.ThreadPoolExecutor.shutdown}


def _sleep(seconds: float) -> None:
    s = sched.current()
    if s is None:
        sim = shims.active()
        assert sim is not None
        raise sim.escape("sleep", f"time.sleep({seconds!r}) outside a virtual thread")
    if s.scheduler.dead:
        raise sched.ProcessGone()
    s.scheduler.sleep(seconds)


def _select(rlist: Any, wlist: Any, xlist: Any, timeout: float | None = None) -> Any:
    sim = shims.active()
    assert sim is not None
    raise sim.escape("sleep", f"select.select(timeout={timeout!r}) waits on real files in "
                              "wall time")


def _submit(self: concurrent.futures.ThreadPoolExecutor, fn: Callable[..., Any], /,
            *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
    """One virtual thread per task (an executor's workers would be real threads)."""
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def work() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            result = fn(*args, **kwargs)
        except (sched.ProcessGone, shims.Escaped):
            raise
        except BaseException as exc:
            future.set_exception(exc)
        else:
            future.set_result(result)

    workers: list[thread.Thread] = self.__dict__.setdefault("_locksim_workers", [])
    prefix = getattr(self, "_thread_name_prefix", "") or "ThreadPoolExecutor"
    worker = thread.Thread(target=work, name=f"{prefix}_{len(workers)}")
    workers.append(worker)
    worker.start()
    return future


def _shutdown(self: concurrent.futures.ThreadPoolExecutor, wait: bool = True, *,
              cancel_futures: bool = False) -> None:
    if wait:
        for worker in self.__dict__.get("_locksim_workers", ()):
            worker.join()


PAIRS: tuple[tuple[object, object], ...] = (
    (_REAL["sleep"], _sleep),
    (_REAL["select"], _select),
    (threading.Thread, thread.Thread),
    (threading.Timer, thread.Timer),
    (threading.local, thread.local),
    (threading.Lock, vlock.Lock),  # also threading._allocate_lock and _thread.allocate_lock
    (threading.RLock, vlock.RLock),
    (threading.current_thread, thread.current_thread),
    (threading.get_ident, thread.get_ident),
    *connection.PAIRS,
)
SERVED = ("time.sleep", "threading.Thread", "threading.Timer", "threading.local",
          "threading.Lock", "threading.RLock", "threading.Condition/Event/Semaphore (on those)",
          "threading.current_thread", "threading.get_ident", "socket.socket",
          "socket.create_connection", "socket.getaddrinfo",
          "concurrent.futures.ThreadPoolExecutor.submit/shutdown",
          "select.select (an escape)")


class patched:  # a context manager, named as the asyncio tier's is
    """The asyncio tier's shims with the sync tier's pairs, plus the class attributes."""

    def __init__(self, sim: shims.Simulation) -> None:
        self.inner = shims.patched(sim, PAIRS)
        self.undo: list[tuple[object, str, object]] = []

    def __enter__(self) -> shims.Simulation:
        sim = self.inner.__enter__()
        try:
            self._set(socket, "socket", connection.BlockingSocket)
            executor = concurrent.futures.ThreadPoolExecutor
            self._set(executor, "submit", _submit)
            self._set(executor, "shutdown", _shutdown)
        except BaseException:
            self.__exit__()
            raise
        return sim

    def _set(self, target: object, attr: str, value: object) -> None:
        self.undo.append((target, attr, getattr(target, attr)))
        setattr(target, attr, value)

    def __exit__(self, *exc: object) -> None:
        for target, attr, value in reversed(self.undo):
            setattr(target, attr, value)
        self.undo.clear()
        self.inner.__exit__()
