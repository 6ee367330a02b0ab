"""Redis nodes of a multi-node world: a node's clock, persistence, crash and restart.

``ClusterNode`` is a ``RedisNode`` (the same single thread, command log and
ground truth) plus what a node of a real deployment has: its own wall clock
(TTLs expire by it), a persistence policy (``models.redis.persistence``), a
restart delay, and a life: a crash takes it down, a restart loads what its
disk kept. While it is down every command that reaches it is answered with
a connection error at once (the client's socket is refused or reset). A
restart drops every client's server-side state: subscriptions, blocked
BLPOPs (answered with the error), pending WAITs, transactions, watches.
What the client library does then is the scenario's ``client_library``
(``models.client_library``): redis-py and ioredis resubscribe on reconnect,
so the node re-registers the subscriptions it had when it comes back. A
replica refuses writes (READONLY); a master with ``min_replicas_to_write``
refuses them while too few replicas are good (NOREPLICAS,
``models.redis.write_guard``).

``build_nodes`` gives the world its nodes: for ``single`` at default
settings the plain ``RedisNode`` of today (a crash empties it in place,
connections kept), so existing runs keep their trace hashes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from models.checkers.ground_truth import KeyEffect
from models.client_library import CLIENT_LIBRARIES
from models.redis import RedisModel
from models.redis.clock import NodeClock
from models.redis.keys import wait_args
from models.redis.number import encode
from models.redis.persistence import Durable, Image, copy_value, restore
from models.redis.reply import ReplyError, wrong_arity
from models.redis.sets import RedisSet
from models.redis.write_guard import WRITES, refusal
from models.topology import NodeSpec
from sim.world.redis_node import _SKIP, RedisNode, ReplyFn

if TYPE_CHECKING:
    from sim.world.network import Connection
    from sim.world.replication import Replication
    from sim.world.world import World


def _name(argv: tuple[object, ...]) -> str:
    head = argv[0] if argv else b""
    return (head.decode() if isinstance(head, bytes) else str(head)).upper()


def _look(value: object) -> object:
    """A value as a comparable snapshot (hashes, lists and sets change in place)."""
    if isinstance(value, dict):
        return tuple(value.items())
    if isinstance(value, RedisSet):  # tagged: a set is never equal to a list's tuple
        return ("set", tuple(value))
    if value is not None and not isinstance(value, bytes):
        return tuple(value)  # type: ignore[call-overload,arg-type]
    return value


DOWN = "ERR connection lost: "


WAIT_ON_REPLICA = ReplyError(
    "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if "
    "a replica is configured to be writable (which is not the default) writes to replicas are "
    "just local and are not propagated.")


def down_error(name: str) -> ReplyError:
    return ReplyError(f"{DOWN}{name} is down")


def is_down(reply: object) -> bool:
    """The reply a client gets when its connection to a node broke (refused or reset)."""
    return isinstance(reply, ReplyError) and reply.message.startswith(DOWN)


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
        self.resubscribe = resubscribe and CLIENT_LIBRARIES[sc.client_library].resubscribe
        self.min_replicas = sc.min_replicas_to_write
        self.max_lag_s = sc.min_replicas_max_lag_s
        self.down_since: float | None = None  # when it crashed, while it is down
        self.source_since = 0.0  # when it was last pointed at its master
        self.crashes = 0
        self._subscriptions: dict[int, list[bytes]] = {}
        self.role = spec.role
        self.replication: Replication | None = None  # a master's streams to its replicas
        self.source: Replication | None = None  # a replica's master's stream
        self.repl_offset = 0

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
        replication = self.replication
        name = _name(argv)
        if name in WRITES and (self.role == "replica" or self.min_replicas):
            good = (replication.good(start, self.max_lag_s)
                    if replication is not None and self.min_replicas else None)
            error = refusal(name, self.role, good, self.min_replicas)
            if error is not None:
                self._refuse(conn, argv, on_reply, start, error)
                return
        if name == "WAIT" and self.role == "replica":
            self._refuse(conn, argv, on_reply, start, WAIT_ON_REPLICA)
            return
        if replication is None or self.role != "master":
            super().execute(conn, argv, on_reply, request)  # WAIT: none acknowledges
            return
        if name == "WAIT":
            self._wait(conn, argv, on_reply, start, replication)
            return
        keys = (self._exec_keys(conn.client_id) if name == "EXEC"
                else self._keys(name, argv, conn.client_id))
        ks = self.model.ks
        before = [(_look(ks.data.get(k)), ks.deadlines.get(k)) for k in keys]
        super().execute(conn, argv, on_reply, request)
        changed: list[tuple[bytes, object, int | None]] = []
        for key, (v0, d0) in zip(keys, before, strict=True):
            value = ks.data.get(key)
            deadline = ks.deadlines.get(key)
            if _look(value) != v0 or deadline != d0:
                changed.append((key, None if value is None else copy_value(value), deadline))
        if changed:
            replication.propagate(start, changed)

    def _refuse(self, conn: Connection, argv: tuple[object, ...], on_reply: ReplyFn,
                start: float, error: ReplyError) -> None:
        """Answer a write this node must not take (it runs, as Redis runs it: an error)."""
        done = start + self.service_ms
        self.busy_until = done
        self.commands += 1
        name = _name(argv)
        self.counts[name] = self.counts.get(name, 0) + 1
        self.log.append((start, conn.client_id, argv, error))
        conn.reply(done, error, on_reply)

    def _wait(self, conn: Connection, argv: tuple[object, ...], on_reply: ReplyFn,
              start: float, replication: Replication) -> None:
        """``WAIT numreplicas timeout``: answered by the replication stream's acks."""
        done = start + self.service_ms
        self.busy_until = done
        args = (wrong_arity("wait") if len(argv) != 3
                else wait_args([encode(a) for a in argv]))
        if isinstance(args, ReplyError):
            conn.reply(done, args, on_reply)
            return
        replication.wait(conn, args[0], float(args[1]), done, on_reply)  # type: ignore[arg-type]

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
        self.down_since = now
        error = down_error(self.name)
        if self.replication is not None:
            self.replication.fail_waits(now, error)
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
        world.node_down(self)
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
        self.down_since = None
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
        world.node_back(self)


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
    if topology.kind in ("replicas", "sentinel"):
        from sim.world.replication import Replication

        master, *replicas = nodes.values()
        master.replication = Replication(world, master, replicas)
    return dict(nodes)


def merged_log(nodes: list[RedisNode]) -> list[tuple[float, int, tuple[object, ...], object]]:
    """Every node's command log as one, by start time (client ids are world-wide)."""
    if len(nodes) == 1:
        return nodes[0].log
    return sorted((e for n in nodes for e in n.log), key=lambda e: e[0])
