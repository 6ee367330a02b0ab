"""A connection reset mid-command (the ``reconnect`` fault), and what the client library does.

Built only for scenarios that have a ``reconnect`` fault, so every other run
sends its commands exactly as before. It keeps, per connection, the commands
sent and not yet answered. When the fault strikes a command, the app server's
connections to that command's Redis node break at the server's end as the
command arrives: if ``ran``, Redis runs it first and its reply is lost with the
connection, else it is never read; whatever else arrives on them later is
dropped. The reset reaches the client after the replies already sent (TCP
delivers in order); then the client library (``models.client_library``)
opens new connections to the same node, resubscribes (redis-py, ioredis) or
not (bare), and answers every unanswered command with a connection error:
redis-py and bare hand it to the caller (redis-py's ``ConnectionError``),
ioredis keeps it and sends it again on the new connection
(``autoResendUnfulfilledCommands``), so a ``SET NX`` that ran runs twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from models.client_library import CLIENT_LIBRARIES
from models.redis.reply import ReplyError
from sim.world.network import Connection
from sim.world.topology import DOWN

if TYPE_CHECKING:
    from sim.world.app_server import AppServer
    from sim.world.redis_node import RedisNode

OnReply = Callable[[object], None]


def _dropped(_reply: object) -> None:
    """The reply of a command whose connection reset as it left Redis."""


class Closed:
    """The server's end of a reset connection: what still arrives on it is dropped."""

    __slots__ = ("name", "node")

    def __init__(self, node: RedisNode) -> None:
        self.node = node
        self.name = node.name

    def execute(self, conn: Connection, argv: tuple[object, ...], on_reply: OnReply,
                request: str | None = None) -> None:
        """Never read: the client learns of it with the reset."""

    def disconnect(self, client_id: int) -> None:
        """Already gone."""


class Resets:
    """One app server's unanswered commands per connection, and its resets."""

    __slots__ = ("library", "sent", "server", "unanswered")

    def __init__(self, server: AppServer) -> None:
        self.server = server
        self.library = CLIENT_LIBRARIES[server.world.scenario.client_library]
        self.unanswered: dict[Connection, dict[int, tuple[tuple[object, ...], OnReply]]] = {}
        self.sent = 0

    def send(self, conn: Connection, argv: tuple[object, ...], on_reply: OnReply,
             ran: bool | None = None) -> None:
        """Send ``argv`` on ``conn``, kept until answered; ``ran`` not None: the reset
        strikes it (True: after Redis ran it)."""
        pending = self.unanswered.setdefault(conn, {})
        self.sent += 1
        key = self.sent

        def answered(reply: object) -> None:
            if pending.pop(key, None) is not None:
                on_reply(reply)

        pending[key] = (argv, on_reply)
        request = self.server.calling
        if ran is None:
            conn.send(argv, answered, request)
            return

        def arrive(argv: tuple[object, ...], _on_reply: OnReply,
                   request: str | None = None) -> None:
            self._at_redis(conn, argv, request, ran)

        conn.up.send(self.server.env._now, arrive, argv, answered, request)

    def _at_redis(self, conn: Connection, argv: tuple[object, ...], request: str | None,
                  ran: bool) -> None:
        """The struck command reaches Redis: run it (or not), then close every connection
        of this app server to the node; each reset travels back behind its replies."""
        node = conn.redis
        if isinstance(node, Closed):
            return  # an earlier reset closed it: the command is lost with it
        if ran:
            node.execute(conn, argv, _dropped, request)
        world = self.server.world
        depart = max(world.env.now, node.busy_until)
        for other in self._to(node):
            node.disconnect(other.client_id)
            other.redis = Closed(node)  # type: ignore[assignment]
            other.down.send(depart, other._deliver, self._reset, other)

    def _to(self, node: RedisNode) -> list[Connection]:
        server = self.server
        every = (server.cmd, server.sub, *server.pooled, *server.conns.values())
        return [c for c in every if c.open and c.redis is node]

    def _reset(self, conn: Connection) -> None:
        """The reset reaches the client: reconnect, resubscribe, then answer (or resend)
        every command the connection left unanswered, in the order they were sent."""
        server = self.server
        world = server.world
        closed = conn.redis
        assert isinstance(closed, Closed)
        node = closed.node
        conn.close()
        pending = list(self.unanswered.pop(conn, {}).values())
        lat = world.scenario.redis_latency
        if conn is server.cmd:
            server.cmd = Connection(world, world.next_client_id(), server, lat, server.name,
                                    node)
        if conn is server.sub:
            server.sub = Connection(world, world.next_client_id(), server, lat, server.name,
                                    node)
            if self.library.resubscribe:  # its channels, and the SUBSCRIBEs not confirmed
                for channel in list(server.listeners):
                    self.send(server.sub, ("SUBSCRIBE", channel), _dropped)
                for argv, on_reply in pending:
                    self.send(server.sub, argv, on_reply)
                pending = []
        if conn in server.pooled:
            server.pooled.remove(conn)
        if conn in server.pool:
            server.pool.remove(conn)
        for name, named in list(server.conns.items()):
            if named is conn:
                del server.conns[name]
        error = ReplyError(f"{DOWN}{server.name}'s connection to {node.name} was reset")
        for _argv, on_reply in pending:  # ioredis's _kept puts each aside for reconnected
            on_reply(error)
        server.reconnected(node.name)
        if server.cmd.redis is not node:  # Sentinel moved it meanwhile: the master's go there
            server.reconnected("")
