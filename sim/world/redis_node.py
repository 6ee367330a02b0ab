"""The Redis server node: one thread running the pure model, a cost per command.

Commands run in arrival order, one at a time: a command that arrives while
the thread is busy starts when it is free. The model executes at the start
instant; the reply, pub/sub messages and BLPOP services leave when the
command's service time is over.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from models.redis import BLOCKED, RedisModel
from models.redis.model import Delivery, Served
from models.redis.reply import Reply

if TYPE_CHECKING:
    from sim.world.network import Connection
    from sim.world.world import World

ReplyFn = Callable[[Reply], None]
_SCRIPTS = (b"EVAL", b"EVALSHA", b"eval", b"evalsha", "EVAL", "EVALSHA", "eval", "evalsha")


def trace_digest(log: list[tuple[float, int, tuple[object, ...], object]]) -> str:
    """blake2b-128 over one line per command (the Redis half of a run's trace hash)."""
    trace = hashlib.blake2b(digest_size=16)
    for start, client, argv, reply in log:
        trace.update(f"{start:.6f}|{client}|{argv!r}|{reply!r}\n".encode())
    return trace.hexdigest()


class RedisNode:
    """Single-threaded Redis: FIFO service, pub/sub fan-out, blocked clients."""

    def __init__(self, world: World, version: tuple[int, int], service_ms: float,
                 script_ms: float, monitor: bool = False) -> None:
        self.world = world
        self.model = RedisModel(version)
        self.service_ms = service_ms
        self.script_ms = script_ms
        self.busy_until = 0.0
        self.connections: dict[int, Connection] = {}
        self.blocked: dict[int, ReplyFn] = {}
        self.commands = 0
        self.counts: dict[str, int] = {}
        # (start, client, argv, reply) per command; hashed only when a trace hash is read
        self.log: list[tuple[float, int, tuple[object, ...], object]] = []
        self._names: dict[str, str] = {}  # argv[0] -> counted name, computed once
        # MONITOR log: (start, client id, node, argv); a script's commands follow
        # its EVAL as (start, 0, "lua", argv), the order Redis prints them in.
        self.monitor: list[tuple[float, int, str, tuple[object, ...]]] | None = None
        if monitor:
            self.monitor = []
            self.model.script_log = []

    def execute(self, conn: Connection, argv: tuple[object, ...], on_reply: ReplyFn) -> None:
        """A command has arrived from ``conn``: run it when the thread is free."""
        world = self.world
        now = world.env.now
        busy = self.busy_until
        start = now if now >= busy else busy  # max(), ties resolved the same way
        head = argv[0]
        done = start + (self.script_ms if head in _SCRIPTS else self.service_ms)
        self.busy_until = done
        outcome = self.model.execute(argv, start, conn.client_id)
        self.commands += 1
        name = self._names.get(head) if type(head) is str else None
        if name is None:
            name = str(head).upper()
            if type(head) is str:
                self._names[head] = name
        counts = self.counts
        counts[name] = counts.get(name, 0) + 1
        self.log.append((start, conn.client_id, argv, outcome.reply))
        if self.monitor is not None:
            self.monitor.append((start, conn.client_id, getattr(conn.owner, "name", "?"), argv))
            ran = self.model.script_log
            if ran:
                self.monitor.extend((start, 0, "lua", cmd) for cmd in ran)
                ran.clear()
        if outcome.reply is BLOCKED:
            self.blocked[conn.client_id] = on_reply
            timeout_s = float(argv[-1])  # type: ignore[arg-type]  # the model has validated it
            if timeout_s > 0:
                world.at(start + timeout_s * 1000.0, lambda: self.timeout_blocked(conn))
        else:
            conn.reply(done, outcome.reply, on_reply)
        for effect in outcome.effects:
            target = self.connections.get(effect.client)
            if target is None:
                continue
            if isinstance(effect, Delivery):
                target.push(done, effect.channel, effect.message)
            elif isinstance(effect, Served):
                served = self.blocked.pop(effect.client, None)
                if served is not None:
                    target.reply(done, effect.reply, served)

    def trace(self) -> str:
        """Digest of every command run: start time, client, argv and reply."""
        return trace_digest(self.log)

    def timeout_blocked(self, conn: Connection) -> None:
        """A BLPOP's timeout: the client gets nil if it is still blocked."""
        on_reply = self.blocked.pop(conn.client_id, None)
        if on_reply is not None and self.model.unblock(conn.client_id):
            conn.reply(self.world.now, None, on_reply)

    def disconnect(self, client_id: int) -> None:
        self.connections.pop(client_id, None)
        self.blocked.pop(client_id, None)
        self.model.disconnect(client_id)
