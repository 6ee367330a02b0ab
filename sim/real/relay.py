"""A delaying TCP relay between a real replica and its master: replica lag, for real.

A real replica applies the master's stream as fast as loopback carries it;
the scenario's ``replica_lag`` says it arrives later. The replica's
``replicaof`` names this relay, which forwards every chunk in both
directions after a lag drawn per chunk (the simulator likewise delays each
write and each acknowledgement, ``sim.world.replication``), in order (a
chunk never overtakes the one before it), and later still while a delay or
partition window on either end is open. A killed master takes with it what
the relay still held (``cut``): the simulated master's output buffer dies
with its process the same way.
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
            self.writer.write(chunk)
            await self.writer.drain()


class Relay:
    """Listens on a free loopback port; each connection is relayed to ``upstream``."""

    def __init__(self, upstream_port: int, lag: Callable[[], float],
                 arrival: Arrival) -> None:
        self.upstream_port = upstream_port
        self.lag = lag
        self.arrival = arrival
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
            up_r, up_w = await asyncio.open_connection(LOOPBACK, self.upstream_port)
        except OSError:  # the master is down: the replica will try again
            down_w.close()
            return
        self.writers += [down_w, up_w]
        to_replica, to_master = _Pipe(down_w), _Pipe(up_w)
        tasks = [asyncio.ensure_future(t) for t in (
            self._pump(up_r, to_replica), self._pump(down_r, to_master),
            to_replica.deliver(self.now), to_master.deliver(self.now))]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:  # either end closed: what is still held is lost with the connection
            for t in tasks:
                t.cancel()
            for w in (down_w, up_w):
                w.close()
                with contextlib.suppress(ValueError):
                    self.writers.remove(w)

    async def _pump(self, reader: asyncio.StreamReader, pipe: _Pipe) -> None:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            depart = self.now()
            pipe.hold(self.arrival(depart, depart + self.lag()), chunk)

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
