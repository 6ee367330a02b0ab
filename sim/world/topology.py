"""Redis nodes of a multi-node world: a node's clock, persistence, crash and restart.

``ClusterNode`` is a ``RedisNode`` (the same single thread, command log and
ground truth) plus what a node of a real deployment has: its own wall clock
(TTLs expire by it), a persistence policy (``models.redis.persistence``), a
restart delay, and a life: a crash takes it down, a restart loads what its
disk kept. While it is down every command that reaches it is answered with
a connection error at once (the client's socket is refused or reset). A
restart drops every client's server-side state: subscriptions, blocked
BLPOPs (answered with the error), transactions, watches. What the client
library does then is ``resubscribe``: ioredis and redis-py's PubSub
resubscribe on reconnect by default, so the node re-registers the
subscriptions it had when it comes back.

``build_nodes`` gives the world its nodes: for ``single`` at default
settings the plain ``RedisNode`` of today (a crash empties it in place,
connections kept), so existing runs keep their trace hashes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from models.checkers.ground_truth import KeyEffect
from models.redis import RedisModel
from models.redis.clock import NodeClock
from models.redis.persistence import Durable, Image, restore
from models.redis.reply import ReplyError
from models.topology import NodeSpec
from sim.world.redis_node import _SKIP, RedisNode, ReplyFn

if TYPE_CHECKING:
    from sim.world.network import Connection
    from sim.world.world import World


def down_error(name: str) -> ReplyError:
    return ReplyError(f"ERR connection lost: {name} is down")


class ClusterNode(RedisNode):
    """One node of a topology: clock, disk, down/up, restart delay."""

    def __init__(self, world: World, spec: NodeSpec, monitor: bool = False,
                 resubscribe: bool = True) -> None:
        sc = world.scenario
        super().__init__(world, sc.redis_version, sc.redis_service_ms, sc.script_service_ms,
                         monitor=monitor, name=spec.name)
        self.spec = spec
        self.clock = NodeClock(spec.clock_offset_ms, spec.clock_drift)
        self.durable = Durable(spec.persistence)
        self.up = True
        self.resubscribe = resubscribe
        self.crashes = 0
        self._subscriptions: dict[int, list[bytes]] = {}

    @property
    def local_now(self) -> float:
        assert self.clock is not None
        return self.clock.local(self.world.env.now)

    def execute(self, conn: Connection, argv: tuple[object, ...], on_reply: ReplyFn,
                request: str | None = None) -> None:
        if not self.up:
            conn.reply(self.world.env.now, down_error(self.name), on_reply)
            return
        assert self.clock is not None
        now = self.world.env.now
        start = now if now >= self.busy_until else self.busy_until
        self.durable.before_command(self.model.ks, self.clock.local(start))
        super().execute(conn, argv, on_reply, request)

    # -- faults ------------------------------------------------------------------
    def jump(self, step_ms: float, drift: float) -> None:
        """The node's wall clock steps (NTP, an operator): TTLs move with it."""
        assert self.clock is not None
        self.clock.jump(self.world.env.now, step_ms, drift)

    def crash(self, restart_after_ms: float | None) -> float | None:
        """Die now; come back after ``max(restart_after_ms, restart delay)`` (None: never).

        Returns the restart instant."""
        world = self.world
        now = world.env.now
        if not self.up:
            return None
        self.crashes += 1
        image = self.durable.crash_image(self.model.ks, self.local_now)
        self.lost()  # ground truth: every live key is gone while the node is down
        self.up = False
        error = down_error(self.name)
        for client, on_reply in list(self.blocked.items()):
            conn = self.connections.get(client)
            if conn is not None:
                conn.reply(now, error, on_reply)
        self.blocked.clear()
        pubsub = self.model.pubsub
        self._subscriptions = {c: pubsub.channels_of(c) for c in list(pubsub.by_client)}
        self.model.release_scripts()
        fresh = RedisModel(self.model.dialect.version)
        fresh.script_log = []
        self.model = fresh
        self.busy_until = now
        if restart_after_ms is None:
            return None
        at = now + max(restart_after_ms, self.spec.restart_delay_ms)
        world.at(at, self.restart, image)
        return at

    def restart(self, image: Image) -> None:
        """Back up with what the disk kept; expired keys stay invisible (absolute deadlines)."""
        world = self.world
        now = world.env.now
        restore(self.model.ks, image)
        self.up = True
        local = self.local_now
        for key in list(self.model.ks.data):
            value, deadline = self._state(key, int(local), now)
            if value is None or value is _SKIP:
                continue
            ttl = None if deadline is None else deadline - local
            self.effects.append(KeyEffect(now, self.name, None, "RESTART", key.decode(),
                                          None, value, ttl, "set"))  # type: ignore[arg-type]
        if self.resubscribe:
            for client, channels in self._subscriptions.items():
                conn = self.connections.get(client)
                if conn is not None and conn.open:
                    for channel in channels:
                        self.model.pubsub.subscribe(client, channel)
        self._subscriptions = {}
        world.node_event("restart", self.name)


def build_nodes(world: World, monitor: bool) -> dict[str, RedisNode]:
    """The world's Redis nodes by name, the primary first."""
    sc = world.scenario
    topology = sc.redis_topology()
    first = topology.nodes[0]
    if len(topology.nodes) == 1 and first.legacy:
        return {"redis": RedisNode(world, sc.redis_version, sc.redis_service_ms,
                                   sc.script_service_ms, monitor=monitor)}
    nodes = {spec.name: ClusterNode(world, spec, monitor=monitor) for spec in topology.nodes}
    shared = next(iter(nodes.values())).monitor
    for node in nodes.values():  # one MONITOR log in execution order, as explorers read it
        node.monitor = shared
    return dict(nodes)


def merged_log(nodes: list[RedisNode]) -> list[tuple[float, int, tuple[object, ...], object]]:
    """Every node's command log as one, by start time (client ids are world-wide)."""
    if len(nodes) == 1:
        return nodes[0].log
    return sorted((e for n in nodes for e in n.log), key=lambda e: e[0])
