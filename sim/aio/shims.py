"""Nondeterminism served by the run while a simulated world runs, and escapes caught.

Patched for the length of a run and restored after (every binding, including a
library's ``from time import monotonic``, found once per run in ``sys.modules``):

=====================================  =============================================
``time.time``/``time_ns``              epoch 2026-01-01 + the stepped process's local clock
``time.monotonic``/``perf_counter``    the stepped process's local clock (+ ``_ns``);
``timeit.default_timer``               outside any process: the world's true time
``uuid.uuid1``/``uuid.uuid4``          128 bits from the run's library source (seeded)
``os.urandom``                         bytes from the same source
``random``'s global state              seeded from the same source, state restored after
``asyncio.as_completed``               starts its tasks in the order given (asyncio's
                                       own iterates a set: memory-address order)
=====================================  =============================================

The handler's clients hash by creation order, not by address (``sim.aio.runner``),
so a library that keeps them in a set (pottery's ``frozenset(masters)``) visits
them in the same order every run.

Escapes, reported as errors (the run is not a result): ``time.sleep`` (a real
sleep would block the loop for wall time), a real thread
(``threading.Thread.start``, executors, DNS resolution), a real socket
(``socket.connect``/``bind``/``getaddrinfo``/``gethostbyname``, via an audit
hook) and a real process (``subprocess.Popen``, ``os.system``). Each raises
``Escaped``, a ``BaseException``, so a library's ``except Exception`` cannot
swallow it, and is also logged on the run, so a swallowed one still counts.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sim.runtime.chooser import GlobalRandom, library_source

EPOCH_S = 1_767_225_600.0  # 2026-01-01T00:00:00Z: what time.time() says at t=0


@dataclass(frozen=True)
class Escape:
    """Something a handler did outside the simulation."""

    kind: str  # sleep, thread, socket, dns, process, protocol
    detail: str
    process: str | None
    at_ms: float

    def __str__(self) -> str:
        who = f" in {self.process}" if self.process else ""
        return f"{self.kind}: {self.detail}{who} at {self.at_ms:.3f} ms"


class Escaped(BaseException):  # what happened, not an error kind
    """Raised where the handler left the simulation."""


class Simulation:
    """The shims of one run: a clock, a seeded source, and the escapes seen."""

    def __init__(self, seed: int, true_ms: Callable[[], float],
                 who: Callable[[], str | None]) -> None:
        self.source = library_source(seed)
        self.true_ms = true_ms
        self.who = who
        self.local_ms: Callable[[], float] | None = None  # the process being stepped
        self.escapes: list[Escape] = []

    def now_ms(self) -> float:
        local = self.local_ms
        return local() if local is not None else self.true_ms()

    def escape(self, kind: str, detail: str) -> Escaped:
        e = Escape(kind, detail, self.who(), self.true_ms())
        self.escapes.append(e)
        return Escaped(f"locksim: the handler escaped the simulation: {e}")


_ACTIVE: Simulation | None = None
_HOOKED = False
_AUDITED = {
    "socket.connect": "socket", "socket.bind": "socket", "socket.getaddrinfo": "dns",
    "socket.gethostbyname": "dns", "socket.gethostbyaddr": "dns", "subprocess.Popen": "process",
    "os.system": "process", "os.exec": "process", "os.posix_spawn": "process",
}


def _audit(event: str, args: tuple[Any, ...]) -> None:
    sim = _ACTIVE
    if sim is None:
        return
    kind = _AUDITED.get(event)
    if kind is not None:
        raise sim.escape(kind, f"{event}{_short(args)}")


def _short(args: tuple[Any, ...]) -> str:
    shown = tuple(a for a in args if not hasattr(a, "fileno"))[:2]  # not the socket object
    text = repr(shown)
    return text if len(text) < 80 else text[:77] + "..."


def active() -> Simulation | None:
    return _ACTIVE


# -- the replacements ---------------------------------------------------------------------------
# Outside a run each replacement is the real function: a module imported during a run may
# have bound one (``from time import perf_counter``) where the sweep at the end of the run
# does not reach (a closure, a default argument; Hypothesis's gc callback is one).
_real_time, _real_time_ns = time.time, time.time_ns
_real_monotonic, _real_monotonic_ns = time.monotonic, time.monotonic_ns
_real_sleep, _real_urandom = time.sleep, os.urandom
_real_uuid1, _real_uuid4 = uuid.uuid1, uuid.uuid4


def _sim() -> Simulation:
    assert _ACTIVE is not None
    return _ACTIVE


def _time() -> float:
    sim = _ACTIVE
    return EPOCH_S + sim.now_ms() / 1000.0 if sim is not None else _real_time()


def _time_ns() -> int:
    return round(_time() * 1e9) if _ACTIVE is not None else _real_time_ns()


def _monotonic() -> float:
    sim = _ACTIVE
    return sim.now_ms() / 1000.0 if sim is not None else _real_monotonic()


def _monotonic_ns() -> int:
    sim = _ACTIVE
    return round(sim.now_ms() * 1e6) if sim is not None else _real_monotonic_ns()


def _sleep(seconds: float) -> None:
    if _ACTIVE is None:
        return _real_sleep(seconds)
    raise _sim().escape("sleep", f"time.sleep({seconds!r}) would block the loop in wall time")


def _uuid1(node: int | None = None, clock_seq: int | None = None) -> uuid.UUID:
    if _ACTIVE is None:
        return _real_uuid1(node, clock_seq)
    return uuid.UUID(int=_sim().source.getrandbits(128), version=1)


def _uuid4() -> uuid.UUID:
    if _ACTIVE is None:
        return _real_uuid4()
    return uuid.UUID(int=_sim().source.getrandbits(128), version=4)


def _urandom(n: int) -> bytes:
    if _ACTIVE is None:
        return _real_urandom(n)
    return _sim().source.getrandbits(8 * n).to_bytes(n, "little") if n > 0 else b""


def _thread_start(self: threading.Thread) -> None:
    raise _sim().escape("thread", f"threading.Thread.start({self.name})")


_AS_COMPLETED = asyncio.as_completed


def _as_completed(fs: Any, *, timeout: float | None = None) -> Any:
    """asyncio's own, with its tasks created in the order given: asyncio's iterates a
    ``set`` of the coroutines, so they would start in memory-address order."""
    loop = asyncio.get_running_loop()
    tasks = [asyncio.ensure_future(f, loop=loop) for f in dict.fromkeys(fs)]
    yield from _AS_COMPLETED(tasks, timeout=timeout)


_REAL: dict[str, Any] = {
    "time": time.time, "time_ns": time.time_ns, "monotonic": time.monotonic,
    "monotonic_ns": time.monotonic_ns, "perf_counter": time.perf_counter,
    "perf_counter_ns": time.perf_counter_ns, "sleep": time.sleep,
    "uuid1": uuid.uuid1, "uuid4": uuid.uuid4, "urandom": os.urandom,
    "as_completed": _AS_COMPLETED,
}
_REAL_THREAD = threading.Thread  # the class, even while the sync tier swaps its binding
_FAKE: dict[str, Any] = {
    "time": _time, "time_ns": _time_ns, "monotonic": _monotonic, "monotonic_ns": _monotonic_ns,
    "perf_counter": _monotonic, "perf_counter_ns": _monotonic_ns, "sleep": _sleep,
    "uuid1": _uuid1, "uuid4": _uuid4, "urandom": _urandom, "as_completed": _as_completed,
}
PATCHED = ("time.time", "time.time_ns", "time.monotonic", "time.monotonic_ns",
           "time.perf_counter", "time.perf_counter_ns", "timeit.default_timer", "time.sleep",
           "uuid.uuid1", "uuid.uuid4", "os.urandom", "random (global state)",
           "asyncio.as_completed (tasks started in the order given, not a set's)",
           "hash() of the handler's redis clients (creation order, not address)",
           "threading.Thread.start", "socket/DNS/subprocess (audit hook)",
           "asyncio: loop.time, sleep, timers, create_connection, getaddrinfo, run_in_executor")


class patched:  # a context manager, named as contextlib names its own
    """Install ``sim`` for a run: every binding of the real functions is swapped, then restored."""

    def __init__(self, sim: Simulation, extra: tuple[tuple[object, object], ...] = ()) -> None:
        self.sim = sim
        self.undo: list[tuple[object, str, object]] = []
        self.before: set[str] = set()
        self.rand = GlobalRandom(sim.source)
        # (real, fake) pairs swapped like the clocks; a real one of ours gets the other fake
        # (the sync tier serves time.sleep instead of refusing it)
        self.swap: dict[int, tuple[object, object]] = {id(_REAL[n]): (_REAL[n], f)
                                                       for n, f in _FAKE.items()}
        self.swap.update((id(real), (real, fake)) for real, fake in extra)

    def __enter__(self) -> Simulation:
        global _ACTIVE, _HOOKED
        if _ACTIVE is not None:
            raise RuntimeError("a simulated library run is already in progress in this thread")
        if not _HOOKED:
            sys.addaudithook(_audit)  # cannot be removed: it does nothing while no run is active
            _HOOKED = True
        self.before = set(sys.modules)
        for module in list(sys.modules.values()):
            space = getattr(module, "__dict__", None)
            if not isinstance(space, dict) or module is sys.modules[__name__]:
                continue
            for attr, value in list(space.items()):
                pair = self.swap.get(id(value))
                if pair is not None and value is pair[0]:
                    self.undo.append((module, attr, value))
                    setattr(module, attr, pair[1])
        self.undo.append((_REAL_THREAD, "start", _REAL_THREAD.start))
        _REAL_THREAD.start = _thread_start  # type: ignore[method-assign]
        self.rand.__enter__()
        _ACTIVE = self.sim
        return self.sim

    def __exit__(self, *exc: object) -> None:
        global _ACTIVE
        _ACTIVE = None
        self.rand.__exit__()
        for target, attr, value in reversed(self.undo):
            setattr(target, attr, value)
        self.undo.clear()
        # a module first imported during the run bound the replacements: the real ones now
        # (``perf_counter`` and ``monotonic`` share one replacement: that one stays, and
        # outside a run it is the real clock)
        reals: dict[int, list[object]] = {}
        for orig, fake in self.swap.values():
            reals.setdefault(id(fake), []).append(orig)
        real = {k: v[0] for k, v in reals.items() if len(v) == 1}
        for name in set(sys.modules) - self.before:
            space = getattr(sys.modules.get(name), "__dict__", None)
            if isinstance(space, dict):
                for attr, value in list(space.items()):
                    orig = real.get(id(value))
                    if orig is not None:
                        space[attr] = orig
