"""``threading.Thread``, ``Timer``, ``local`` and the thread identity, for virtual threads.

A ``Thread`` started inside a simulated process becomes one more virtual thread
of that process (``sim.aio.threads.scheduler``), inheriting the starter's context,
so a library's helper thread (a lock renewer) acts for the request that
started it. ``local`` keeps one attribute dict per virtual thread: redis-py's
``thread_local`` token is per thread here as on a real server, never shared by
greenlets as an unpatched ``threading.local`` would be.
"""

from __future__ import annotations

import contextvars
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import greenlet

from sim.aio.threads import scheduler as sched
from sim.aio.threads.scheduler import ProcessGone, Waiter

_REAL = {"current_thread": threading.current_thread, "get_ident": threading.get_ident}
"""In a dict: the shims swap every module-level binding of the real functions during a run."""


class Thread:
    """A virtual thread with ``threading.Thread``'s interface."""

    def __init__(self, group: None = None, target: Callable[..., object] | None = None,
                 name: str | None = None, args: Iterable[Any] = (),
                 kwargs: Mapping[str, Any] | None = None, *, daemon: bool | None = None
                 ) -> None:
        if group is not None:
            raise AssertionError("group argument must be None for now")
        self._target = target
        self._args = tuple(args)
        self._kwargs = dict(kwargs or {})
        self._name = name
        self._daemon = bool(daemon) if daemon is not None else _inherited_daemon()
        self._ident: int | None = None
        self._started = False
        self._finished = False
        self._joiners: list[Waiter] = []

    # -- identity -----------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name or f"Thread-{self._ident or '?'}"

    @name.setter
    def name(self, value: str) -> None:
        self._name = str(value)

    @property
    def ident(self) -> int | None:
        return self._ident

    native_id = ident

    @property
    def daemon(self) -> bool:
        return self._daemon

    @daemon.setter
    def daemon(self, value: bool) -> None:
        if self._started:
            raise RuntimeError("cannot set daemon status of active thread")
        self._daemon = bool(value)

    def getName(self) -> str:
        return self.name

    def setName(self, value: str) -> None:
        self.name = value

    def isDaemon(self) -> bool:
        return self._daemon

    def setDaemon(self, value: bool) -> None:
        self.daemon = value

    # -- life ---------------------------------------------------------------------------
    def start(self) -> None:
        s = sched.required(f"Thread.start({self.name})")
        if self._started:
            raise RuntimeError("threads can only be started once")
        self._begin(s, contextvars.copy_context())

    def _begin(self, s: sched.Scheduler, context: contextvars.Context) -> None:
        self._started = True
        self._ident = s.server.world.next_thread_ident()
        s.spawn(self, self._bootstrap, context)

    def _bootstrap(self) -> None:
        try:
            self.run()
        except (ProcessGone, sched.shims.Escaped):
            pass  # the process died, or the escape is already on the run's record
        except BaseException as exc:  # threading.excepthook's job: kept for the report
            s = sched.scheduler()
            if s is not None:
                s.loop.errors.append({"message": f"exception in thread {self.name}",
                                      "exception": exc})
        finally:
            self._finished = True
            for w in self._joiners:
                w.green.scheduler.wake(w, True)
            self._joiners.clear()

    def run(self) -> None:
        if self._target is not None:
            self._target(*self._args, **self._kwargs)

    def join(self, timeout: float | None = None) -> None:
        if not self._started:
            raise RuntimeError("cannot join thread before it is started")
        if current_thread() is self:
            raise RuntimeError("cannot join current thread")
        if self._finished:
            return
        s = sched.required(f"Thread.join({self.name})")
        w = s.waiter()
        self._joiners.append(w)
        try:
            s.park(w, timeout)
        finally:
            if w in self._joiners:
                self._joiners.remove(w)

    def is_alive(self) -> bool:
        return self._started and not self._finished

    def __repr__(self) -> str:
        state = "started" if self.is_alive() else ("stopped" if self._finished else "initial")
        return f"<locksim virtual Thread({self.name}, {state})>"


class Timer(Thread):
    """``threading.Timer``: run ``function`` after ``interval`` seconds unless cancelled."""

    def __init__(self, interval: float, function: Callable[..., object],
                 args: Iterable[Any] | None = None,
                 kwargs: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.interval = interval
        self.function = function
        self.args = tuple(args or ())
        self.kwargs = dict(kwargs or {})
        self.finished = threading.Event()  # built on the virtual Lock while a run lasts

    def cancel(self) -> None:
        self.finished.set()

    def run(self) -> None:
        self.finished.wait(self.interval)
        if not self.finished.is_set():
            self.function(*self.args, **self.kwargs)
        self.finished.set()


def _inherited_daemon() -> bool:
    here = current_thread()
    return bool(getattr(here, "daemon", False)) if isinstance(here, Thread) else False


def current_thread() -> Any:
    g = sched.current()
    return g.thread if g is not None else _REAL["current_thread"]()


def get_ident() -> int:
    g = sched.current()
    if g is not None and g.thread is not None and g.thread.ident is not None:
        return int(g.thread.ident)
    return int(_REAL["get_ident"]())  # type: ignore[call-overload]


class local:  # the name threading gives it
    """``threading.local`` per virtual thread: each thread sees its own attribute dict
    (and a subclass's ``__init__`` runs once per thread, with the constructor's arguments)."""

    __slots__ = ("__dict__", "__weakref__", "_local__args", "_local__dicts")

    def __new__(cls, *args: Any, **kw: Any) -> local:
        if (args or kw) and cls.__init__ is object.__init__:
            raise TypeError("Initialization arguments are not supported")
        self = object.__new__(cls)
        dicts: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
        object.__setattr__(self, "_local__args", (args, kw))
        object.__setattr__(self, "_local__dicts", dicts)
        dicts[greenlet.getcurrent()] = object.__getattribute__(self, "__dict__")
        return self

    def _local__enter(self) -> None:
        dicts = object.__getattribute__(self, "_local__dicts")
        me = greenlet.getcurrent()
        mine = dicts.get(me)
        if mine is None:
            mine = dicts[me] = {}
            object.__setattr__(self, "__dict__", mine)
            args, kw = object.__getattribute__(self, "_local__args")
            cls = type(self)
            if cls.__init__ is not object.__init__:
                cls.__init__(self, *args, **kw)
        else:
            object.__setattr__(self, "__dict__", mine)

    def __getattribute__(self, name: str) -> Any:
        if name not in ("_local__enter", "__class__"):
            object.__getattribute__(self, "_local__enter")()
        return object.__getattribute__(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__getattribute__(self, "_local__enter")()
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        object.__getattribute__(self, "_local__enter")()
        object.__delattr__(self, name)
