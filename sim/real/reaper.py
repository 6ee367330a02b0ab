"""Everything a real run starts is stopped on every exit path: one registry for it.

``register(owner, stop)`` when something starts, ``forget(owner)`` when it
stopped; ``stop_all`` runs at exit and on SIGTERM/SIGHUP (which skip
``atexit`` by default), in registration order, so a cluster (registered
first) kills its workers before its redis-server goes.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import threading
from collections.abc import Callable

_LIVE: dict[int, Callable[[], None]] = {}


def register(owner: object, stop: Callable[[], None]) -> None:
    """``stop()`` will run at exit unless ``owner`` is forgotten first."""
    _LIVE[id(owner)] = stop


def forget(owner: object) -> None:
    _LIVE.pop(id(owner), None)


def stop_all() -> None:
    """Stop everything still registered; one failure does not spare the rest."""
    for stop in list(_LIVE.values()):
        with contextlib.suppress(Exception):
            stop()


atexit.register(stop_all)


def _on_fatal_signal(signum: int, _frame: object) -> None:
    """Stop what we started, then die of the same signal as we would have without us."""
    stop_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def install_signal_handlers() -> None:
    """Catch SIGTERM/SIGHUP, unless someone else already does (then theirs stays)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) in (signal.SIG_DFL, _on_fatal_signal):
            signal.signal(signum, _on_fatal_signal)
