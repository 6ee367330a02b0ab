"""Everything a real run starts is stopped on every exit path: one registry for it.

``register(owner, stop)`` when something starts, ``forget(owner)`` when it
stopped; ``stop_all`` runs at exit and on SIGTERM/SIGHUP (which skip
``atexit`` by default), in registration order, so a cluster (registered
first) kills its workers before its redis-server goes.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator

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


# -- pool workers: die with the parent, leave Ctrl-C to it -----------------------------------

_PR_SET_PDEATHSIG = 1


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


def _watch_parent(parent: int) -> None:
    """The fallback where prctl is missing (or the parent was re-parented): poll."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def pool_worker_init() -> None:
    """A pool worker's initializer: killed when its parent dies, however it dies
    (SIGKILL skips every handler), and deaf to SIGINT, which the parent handles:
    Ctrl-C reaches the whole process group, and a worker's traceback helps nobody."""
    if threading.current_thread() is threading.main_thread():  # Dask's: inherited instead
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    prctl = _prctl()
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent or parent == 1:  # the parent died before prctl took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), name="locksim-parent-watch",
                     daemon=True).start()


@contextlib.contextmanager
def sigint_ignored_in_children() -> Iterator[None]:
    """Python processes spawned inside start with SIGINT ignored, while this one keeps
    its Ctrl-C: for pools whose workers we cannot initialize before they start, like
    Dask's. An ignored SIGINT survives exec and Python keeps it, so spawn's
    interpreter is, for the while, a two-line shell script that ignores SIGINT and
    execs the real one. Ctrl-C during the start interrupts the start."""
    import multiprocessing.spawn as mp_spawn
    import shutil
    import tempfile

    sh = shutil.which("sh")
    if sh is None:  # no shell: the old way, children deaf but a Ctrl-C now is lost
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, old)
        return
    folder = tempfile.mkdtemp(prefix="locksim-spawn-")
    wrapper = os.path.join(folder, "python")
    with open(wrapper, "w") as fh:
        fh.write(f"#!{sh}\ntrap '' INT\nexec {shlex.quote(sys.executable)} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    before = mp_spawn.get_executable()
    mp_spawn.set_executable(wrapper)
    try:
        yield
    finally:
        mp_spawn.set_executable(before)
        shutil.rmtree(folder, ignore_errors=True)
