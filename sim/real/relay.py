"""A delaying TCP relay on loopback: the real world's network faults, at the boundary.

A real process talks to a real ``redis-server`` as fast as loopback carries
it; the scenario says some bytes arrive later. The client names this relay
instead of the server, and the relay forwards every chunk in both directions
at its due time: after a lag drawn per chunk, and later still while a delay
or partition window on either end of the link is open (``arrival``, the
simulator's ``NetFaults`` rule), in order (a chunk never overtakes the one
before it). A partition holds bytes and keeps the TCP connection up, as a
real one does: the client's own socket timeout then fires as it would.

Two users: a replica's ``replicaof`` names a relay in front of its master
(``replica_lag``; the simulator likewise delays each write and each
acknowledgement, ``sim.world.replication``), and each app server running a
team's handler reaches Redis through one relay per link (no lag: loopback is
the latency; only the fault windows). A side that closes its end has its FIN
carried like its bytes, after them (``sim.aio.transport``: Redis sees the
connection close after what was sent); a killed master takes with it what the
relay still held (``cut``): the simulated master's output buffer dies with its
process the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable

from sim.real.server import LOOPBACK

Arrival = Callable[[float, float], float]
"""(departure ms, arrival ms without faults) -> arrival ms with the open fault windows."""

_FIN = b""
"""What a pipe holds for the end of its direction: the writer closes once it is due."""


def no_lag() -> float:
    return 0.0


class _Pipe:
    """One direction of one relayed connection: chunks released at their due time."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.held: deque[tuple[float, bytes]] = deque()
        self.ready = asyncio.Event()
        self.last = 0.0

    def hold(self, due: float, chunk: bytes) -> None:
        due = max(due, self.last)
        self.last = due
        self.held.append((due, chunk))
        self.ready.set()

    async def deliver(self, now: Callable[[], float]) -> None:
        """Until the FIN is due: then this direction's writer closes, and the pipe ends."""
        while True:
            if not self.held:
                self.ready.clear()
                await self.ready.wait()
                continue
            due, chunk = self.held[0]
            wait = due - now()
            if wait > 0:
                await asyncio.sleep(wait / 1000.0)
                continue
            self.held.popleft()
            if not chunk:
                self.writer.close()
                return
            self.writer.write(chunk)
            await self.writer.drain()


class Relay:
    """Listens on a free loopback port; each connection is relayed to the upstream server."""

    def __init__(self, upstream_port: int, lag: Callable[[], float] = no_lag,
                 arrival: Arrival | None = None, host: str = LOOPBACK) -> None:
        self.upstream_host = host
        self.upstream_port = upstream_port
        self.lag = lag
        self.arrival: Arrival = arrival or (lambda _depart, arrive: arrive)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.links: set[asyncio.Task[None]] = set()
        self.writers: list[asyncio.StreamWriter] = []

    @staticmethod
    def now() -> float:
        return time.monotonic() * 1000.0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._accepted, LOOPBACK, 0)
        self.port = int(self.server.sockets[0].getsockname()[1])
        return self.port

    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._relay(reader, writer))
        self.links.add(task)
        task.add_done_callback(self.links.discard)

    async def _relay(self, down_r: asyncio.StreamReader, down_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        except OSError:  # the server is down: the client will try again
            down_w.close()
            return
        self.writers += [down_w, up_w]
        to_client, to_server = _Pipe(down_w), _Pipe(up_w)
        pumps = [asyncio.ensure_future(t) for t in (
            self._pump(up_r, to_client), self._pump(down_r, to_server))]
        deliveries = [asyncio.ensure_future(p.deliver(self.now))
                      for p in (to_client, to_server)]
        try:  # both FINs delivered, or a write failed (that end is gone)
            await asyncio.wait(deliveries, return_when=asyncio.FIRST_EXCEPTION)
        finally:  # what is still held is lost with the connection
            for t in (*pumps, *deliveries):
                t.cancel()
            for w in (down_w, up_w):
                w.close()
                with contextlib.suppress(ValueError):
                    self.writers.remove(w)

    async def _pump(self, reader: asyncio.StreamReader, pipe: _Pipe) -> None:
        """Chunks, then the FIN (an end that closed or reset), each held by the windows."""
        while True:
            try:
                chunk = await reader.read(65536)
            except OSError:
                chunk = _FIN
            depart = self.now()
            pipe.hold(self.arrival(depart, depart + self.lag()), chunk)
            if not chunk:
                return

    def cut(self) -> None:
        """The master died: every relayed connection, and what it held, is gone at once."""
        for task in list(self.links):
            task.cancel()
        for w in self.writers:
            w.close()
        self.writers.clear()

    def close(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()
            self.server = None
