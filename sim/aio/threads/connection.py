"""A blocking socket for virtual threads: an in-memory connection to a simulated node.

While a sync-tier run lasts, ``socket.socket``, ``socket.create_connection`` and
``socket.getaddrinfo`` are these. ``connect`` goes through the asyncio tier's
in-memory TCP (``AioServer.connect``: routed by host and port, one round trip
over the world's faulty links), and the bytes travel as the asyncio tier's do
(``SimTransport``: observed, carried by ``Link``s, answered by ``RedisNode``).
``recv`` parks the calling virtual thread until bytes arrive or its timeout
passes on the process's clock (``socket.timeout``, as a real socket raises).

A name or address no simulated node answers to is an escape: reaching it
would need the real network.
"""

from __future__ import annotations

import asyncio
import errno
import socket as _socket
from typing import Any

from sim.aio import shims
from sim.aio.threads import scheduler as sched
from sim.aio.threads.scheduler import ProcessGone, Waiter

REAL = {"socket": _socket.socket, "create_connection": _socket.create_connection,
        "getaddrinfo": _socket.getaddrinfo}
"""Kept in a dict: the shims swap every module-level binding of these while a run lasts."""


class _Inbox(asyncio.Protocol):
    """What the transport delivers: bytes in order, then the end of the stream."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = False
        self.error: BaseException | None = None
        self.reader: Waiter | None = None

    def data_received(self, data: bytes) -> None:
        self.data += data
        self._ready()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.error = exc
        self._ready()

    def _ready(self) -> None:
        w, self.reader = self.reader, None
        if w is not None:
            w.green.scheduler.wake(w, True)


class BlockingSocket:
    """The subset of ``socket.socket`` a Redis client uses, blocking its virtual thread."""

    def __init__(self, family: int = _socket.AF_INET, type: int = _socket.SOCK_STREAM,
                 proto: int = 0, fileno: int | None = None) -> None:
        if fileno is not None:
            raise _escape("socket", f"socket.socket(fileno={fileno}) wraps a real socket")
        self.family, self.type, self.proto = family, type, proto
        self._timeout: float | None = _socket.getdefaulttimeout()
        self._inbox = _Inbox()
        self._transport: asyncio.Transport | None = None
        self._peer: tuple[str, int] | None = None
        self._closed = False

    # -- setup ------------------------------------------------------------------------
    def settimeout(self, value: float | None) -> None:
        self._timeout = None if value is None else float(value)

    def gettimeout(self) -> float | None:
        return self._timeout

    def setblocking(self, flag: bool) -> None:
        self._timeout = None if flag else 0.0

    def setsockopt(self, *args: Any) -> None:
        pass  # TCP_NODELAY, keepalive: nothing to tune on an in-memory pipe

    def getsockopt(self, *args: Any) -> int:
        return 0

    def connect(self, address: Any) -> None:
        host, port = str(address[0]), int(address[1])
        s = sched.required(f"socket.connect(({host!r}, {port}))")
        world = s.server.world
        if world.route(host, port) is None:
            raise _escape("socket", f"socket.connect(({host!r}, {port})): no simulated node "
                                    f"listens there (simulated: {world.addresses_text()})")
        task = s.loop.create_task(s.server.connect(lambda: self._inbox, host, port))
        if not s.wait(task, self._timeout):
            task.cancel()
            raise TimeoutError("timed out")
        self._transport = task.result()[0]
        self._peer = (host, port)

    def connect_ex(self, address: Any) -> int:
        try:
            self.connect(address)
        except OSError as exc:
            return exc.errno or errno.ECONNREFUSED
        return 0

    # -- data -------------------------------------------------------------------------
    def sendall(self, data: bytes | bytearray | memoryview) -> None:
        transport = self._live()
        if self._inbox.closed:
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")
        transport.write(bytes(data))

    def send(self, data: bytes | bytearray | memoryview) -> int:
        self.sendall(data)
        return len(data)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        inbox = self._inbox
        self._live()
        while not inbox.data:
            if inbox.closed:
                if inbox.error is not None:
                    raise ConnectionResetError(errno.ECONNRESET, str(inbox.error))
                return b""
            if self._timeout == 0:
                raise BlockingIOError(errno.EWOULDBLOCK, "Resource temporarily unavailable")
            s = sched.required("socket.recv")
            w = inbox.reader = s.waiter()
            if not s.park(w, self._timeout):
                inbox.reader = None
                raise TimeoutError("timed out")
        out = bytes(inbox.data[:bufsize])
        del inbox.data[:bufsize]
        return out

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        view = memoryview(buffer)
        data = self.recv(nbytes or len(view))
        view[:len(data)] = data
        return len(data)

    # -- teardown -----------------------------------------------------------------------
    def shutdown(self, how: int) -> None:
        self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            s = sched.scheduler()
            if self._transport is not None and s is not None and not s.dead:
                self._transport.close()  # a crash has already closed it

    def detach(self) -> int:
        self.close()
        return -1

    def fileno(self) -> int:
        return -1

    def getpeername(self) -> tuple[str, int]:
        if self._peer is None:
            raise OSError(errno.ENOTCONN, "Transport endpoint is not connected")
        return self._peer

    def getsockname(self) -> tuple[str, int]:
        return ("0.0.0.0", 0)

    def _live(self) -> asyncio.Transport:
        if self._closed:
            raise OSError(errno.EBADF, "Bad file descriptor")
        if self._transport is None:
            raise OSError(errno.ENOTCONN, "Transport endpoint is not connected")
        s = sched.scheduler()
        if s is not None and s.dead:
            raise ProcessGone()
        return self._transport

    def __enter__(self) -> BlockingSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<locksim in-memory socket to {self._peer}>"


_DEFAULT = object()


def create_connection(address: Any, timeout: Any = _DEFAULT,
                      source_address: Any = None, **kwargs: Any) -> BlockingSocket:
    sock = BlockingSocket()
    if timeout is not _DEFAULT:
        sock.settimeout(timeout)
    sock.connect(address)
    return sock


def getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0,
                flags: int = 0) -> list[tuple[Any, ...]]:
    """A simulated node's name resolves to itself; any other name would need real DNS."""
    s = sched.scheduler()
    name = host.decode() if isinstance(host, bytes) else str(host)
    number = int(port) if port is not None else 0
    if s is not None and s.server.world.route(name, number) is not None:
        return [(_socket.AF_INET, _socket.SOCK_STREAM, _socket.IPPROTO_TCP, "",
                 (name, number))]
    raise _escape("dns", f"socket.getaddrinfo({name!r}, {port!r})")


def _escape(kind: str, detail: str) -> BaseException:
    sim = shims.active()
    if sim is None:
        return OSError(f"locksim: {detail} outside a simulated run")
    return sim.escape(kind, detail)


PAIRS = ((REAL["create_connection"], create_connection), (REAL["getaddrinfo"], getaddrinfo))
"""Swapped wherever they are bound (``socket.socket`` only in ``socket`` itself, so that
``isinstance`` checks and subclasses elsewhere keep the real class)."""
