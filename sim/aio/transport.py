"""In-memory TCP between a simulated process's asyncio loop and the simulated Redis node.

The client side is an ``asyncio.Transport`` (what ``asyncio.open_connection``
hands redis-py); the server side is what ``RedisNode`` talks to (``client_id``,
``reply``, ``push``, ``owner``). Bytes the client writes are parsed into
commands and carried over the world's ``Link``s (latency, delays, partitions
from the same fault machinery as every other connection); replies come back
as RESP bytes and are fed to the client's protocol as loop callbacks, so a
paused process finds them waiting when it resumes, as in a socket buffer.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any

from models.redis.reply import ReplyError
from sim.aio.resp import RequestParser, RespError, encode, encode_push, hello
from sim.world.network import Link

if TYPE_CHECKING:
    from sim.aio.directory import Endpoint
    from sim.aio.server import AioServer

# A command whose reply Redis sends as one RESP reply per channel
_MULTI_REPLY = frozenset({b"SUBSCRIBE", b"UNSUBSCRIBE", b"PSUBSCRIBE", b"PUNSUBSCRIBE"})


def _ignored(_reply: object) -> None:
    """RedisNode's reply callback: this socket delivers replies in order itself."""


class SimSocket:
    """The connection as the Redis node sees it (one ``client_id``, a link each way)."""

    __slots__ = ("client_id", "down", "node", "open", "owner", "pending", "redis", "resp3",
                 "transport", "up")

    def __init__(self, server: AioServer, node: Endpoint, node_name: str,
                 transport: SimTransport) -> None:
        world = server.world
        self.client_id = world.next_client_id()
        self.owner = server  # RedisNode reads its name for the MONITOR log
        self.redis = node
        self.node = node_name
        lat = world.scenario.redis_latency
        # the faults that cut it: either end, or this one link ("app1/redis3", "app1/sentinel"),
        # as the world's own connections (sim.world.network.Connection)
        ends: tuple[str, ...] = (server.name,)
        for end in getattr(node, "link_ends", (node_name,)):
            ends += (end,) if end == "redis" else (end, f"{server.name}/{end}")
        self.up = Link(world, lat, ends)
        self.down = Link(world, lat, ends)
        self.open = True
        self.resp3 = False
        self.transport = transport
        # per command in flight, in order: (name, the observation its reply completes)
        self.pending: deque[tuple[bytes, object]] = deque()
        node.connections[self.client_id] = self  # type: ignore[assignment]

    def send(self, argv: tuple[bytes, ...], request: str | None, seen: object) -> None:
        self.up.send(self.up.world.env.now, self._arrive, argv, request, seen)

    def _arrive(self, argv: tuple[bytes, ...], request: str | None, seen: object) -> None:
        # bytes already on the wire reach Redis even if the sender has died since
        if argv and argv[0].upper() == b"HELLO":
            self._hello(argv)
            return
        self.pending.append((argv[0].upper() if argv else b"", seen))
        self.redis.execute(self, argv, _ignored, request)  # type: ignore[arg-type]
        if not self.open:
            self.redis.disconnect(self.client_id)

    def _hello(self, argv: tuple[bytes, ...]) -> None:
        try:
            protover = int(argv[1]) if len(argv) > 1 else 2
        except ValueError:
            protover = 0
        now = self.up.world.env.now
        if protover not in (2, 3):
            data = encode(ReplyError("NOPROTO unsupported protocol version"), self.resp3)
        else:
            self.resp3 = protover == 3
            node: Any = self.redis
            version = node.version if hasattr(node, "version") else node.model.dialect.version
            data = hello(protover, self.client_id, version[:2], getattr(node, "mode", "standalone"))
        self.down.send(now, self._deliver, data, None, None)

    # -- RedisNode's side ----------------------------------------------------------
    def reply(self, depart: float, reply: Any, _on_reply: object) -> None:
        name, seen = self.pending.popleft() if self.pending else (b"", None)
        if name in _MULTI_REPLY and isinstance(reply, list):
            data = b"".join(encode_push(r, self.resp3) for r in reply)
        else:
            data = encode(reply, self.resp3)
        self.down.send(depart, self._deliver, data, seen, reply)

    def push(self, depart: float, channel: bytes, message: bytes) -> None:
        data = encode_push([b"message", channel, message], self.resp3)
        self.down.send(depart, self._deliver, data, None, None)

    def _deliver(self, data: bytes, seen: object, reply: object) -> None:
        if self.open:
            if seen is not None:
                self.transport.server.observer.replied(seen, reply)
            self.transport.feed(data)

    def close(self) -> None:
        if self.open:
            self.open = False
            self.redis.disconnect(self.client_id)


class SimTransport(asyncio.Transport):
    """The client's end: ``write`` sends commands, ``feed`` delivers reply bytes."""

    def __init__(self, server: AioServer, protocol: asyncio.Protocol,
                 peer: tuple[str, int]) -> None:
        super().__init__({"peername": peer, "sockname": (server.name, 0), "socket": None})
        self.server = server
        self.protocol = protocol
        self.peer = peer
        self.parser = RequestParser()
        self.socket: SimSocket | None = None
        self._closing = False
        self._reading = True

    # -- asyncio.Transport ----------------------------------------------------------
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or self.socket is None:
            return
        try:
            commands = self.parser.feed(bytes(data))
        except RespError as exc:
            self.server.escape("protocol", str(exc))
            return
        for argv in commands:
            request, seen = self.server.observer.sent(self.server, argv, self.socket.node)
            self.socket.send(argv, request, seen)

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def can_write_eof(self) -> bool:
        return False

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        """The client hangs up: Redis sees the connection close after what was sent."""
        if self._closing:
            return
        self._closing = True
        sock = self.socket
        if sock is not None:
            sock.open = False
            sock.up.send(sock.up.world.env.now, sock.redis.disconnect, sock.client_id)
        self.server.loop.call_soon(self.protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()

    def get_write_buffer_size(self) -> int:
        return 0

    def is_reading(self) -> bool:
        return self._reading

    def pause_reading(self) -> None:
        self._reading = False

    def resume_reading(self) -> None:
        self._reading = True

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol  # type: ignore[assignment]

    # -- the simulator's side -----------------------------------------------------------
    def feed(self, data: bytes) -> None:
        """Reply bytes reached the process: its loop reads them as its next callback."""
        self.server.loop.call_soon(self._received, data)
        self.server.wake()

    def _received(self, data: bytes) -> None:
        if not self._closing:
            self.protocol.data_received(data)

    def dead(self) -> None:
        """Its process died: nothing it still writes leaves, nothing reaches it."""
        self._closing = True
        if self.socket is not None:
            self.socket.close()

    def lost(self, exc: Exception) -> None:
        """The connection broke (Redis restarted, the process crashed): the client sees a reset."""
        if self._closing:
            return
        self._closing = True
        if self.socket is not None:
            self.socket.close()
        self.server.loop.call_soon(self.protocol.connection_lost, exc)
        self.server.wake()
