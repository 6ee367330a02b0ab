"""Network links: one FIFO direction of one TCP connection.

Each message gets its own latency draw, but never overtakes the one sent
before it on the same link (TCP delivers in order). Faults act per node: an
extra delay adds to every message touching the node; a partition holds
messages until it heals, then delivers them in order (TCP retransmits; it
does not drop).
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappush
from typing import TYPE_CHECKING, Any, Protocol

from models.dist import Dist
from models.faults import NetFaults as NetFaults  # the policy lives with the faults
from models.priorities import Priorities
from sim.world.kernel import NORMAL

if TYPE_CHECKING:
    from sim.world.redis_node import RedisNode
    from sim.world.world import World


class Subscriber(Protocol):
    """The end of a connection that receives pushed pub/sub messages (an app server)."""

    def on_message(self, channel: bytes, message: bytes) -> None: ...


class Link:
    """Messages from one end to the other, in order, with sampled latency."""

    __slots__ = ("last", "latency", "nodes", "world")

    def __init__(self, world: World, latency: Dist, nodes: tuple[str, ...]) -> None:
        self.world = world
        self.latency = latency
        self.nodes = nodes  # the nodes whose faults affect this link
        self.last = 0.0

    def send(self, depart: float, deliver: Callable[..., None], *args: object) -> float:
        """Schedule ``deliver(*args)`` at the arrival time; return that time."""
        world = self.world
        latency = self.latency
        if latency.kind == "uniform":  # Dist.sample's commonest case, one call fewer
            arrive = depart + world.chooser.uniform(latency.a, latency.b)
        else:
            arrive = depart + latency.sample(world.chooser)
        net_faults = world.net_faults
        if net_faults:
            for node in self.nodes:
                faults = net_faults.get(node)
                if faults is not None:
                    arrive = faults.adjust(depart, arrive)
        if arrive < self.last:
            arrive = self.last
        self.last = arrive
        # world.at, inlined: keyed exactly as env.timeout(arrive - now)
        env = world.env
        now = env._now
        delay = arrive - now
        heappush(env._queue, (now + (delay if delay > 0 else 0), NORMAL,  # type: ignore[misc]
                              next(env._eid), (deliver, args)))
        return arrive


class SteeredLink(Link):
    """A link whose latency the priority of the request it carries steers
    (``models.priorities``), built only for scenarios that give priorities, so
    plain runs keep ``Link.send`` as it is. The band is chosen per message, then
    ``Link.send`` draws from it as ever (one draw per message). The way up knows
    its request (``Connection.send``'s last argument); the way down is steered
    for replies sent while that request's command executes (``partner``)."""

    __slots__ = ("base", "partner", "priorities", "request")

    def __init__(self, world: World, latency: Dist, nodes: tuple[str, ...],
                 priorities: Priorities, partner: SteeredLink | None = None) -> None:
        super().__init__(world, latency, nodes)
        self.base = latency
        self.priorities = priorities
        self.partner = partner  # the way up: the link its replies go down
        self.request: str | None = None  # the way down: whose command is executing

    def send(self, depart: float, deliver: Callable[..., None], *args: object) -> float:
        if self.partner is None:
            self.latency = self.priorities.band(self.base, self.request, depart)
            return Link.send(self, depart, deliver, *args)
        request = args[2] if len(args) == 3 and isinstance(args[2], str) else None
        self.latency = self.priorities.band(self.base, request, depart)
        return Link.send(self, depart, self._executing, deliver, request, *args)

    def _executing(self, deliver: Callable[..., None], request: str | None,
                   *args: object) -> None:
        down = self.partner
        assert down is not None
        down.request = request
        try:
            deliver(*args)
        finally:
            down.request = None


class Connection:
    """One app server's TCP connection to a Redis node (``redis``: the world's primary)."""

    __slots__ = ("client_id", "down", "open", "owner", "redis", "up")

    def __init__(self, world: World, client_id: int, owner: Subscriber, latency: Dist,
                 node: str, redis: RedisNode | None = None) -> None:
        self.client_id = client_id
        self.owner = owner  # the AppServer, which receives pushed messages
        self.redis = redis = world.redis if redis is None else redis
        # a multi-node world also cuts single links: a fault on "app1/redis3"
        ends = ((node, redis.name) if redis.name == "redis"
                else (node, redis.name, f"{node}/{redis.name}"))
        scenario = world.scenario
        if scenario.priorities:
            order = Priorities(scenario.priorities, scenario.priority_changes_ms)
            down = SteeredLink(world, latency, ends, order)
            self.up: Link = SteeredLink(world, latency, ends, order, partner=down)
            self.down: Link = down
        else:
            self.up = Link(world, latency, ends)
            self.down = Link(world, latency, ends)
        self.open = True
        redis.connections[client_id] = self

    def send(self, argv: tuple[object, ...], on_reply: Callable[[object], None],
             request: str | None = None) -> None:
        """Send a command now for ``request``; ``on_reply`` runs when (if) the reply arrives."""
        self.up.send(self.up.world.env._now, self._arrive, argv, on_reply, request)

    def _arrive(self, argv: tuple[object, ...], on_reply: Callable[[object], None],
                request: str | None = None) -> None:
        # Bytes already on the wire reach Redis even if the sender has died since:
        # a dead client's SET NX can still take the lock, left to expire.
        self.redis.execute(self, argv, on_reply, request)
        if not self.open:
            self.redis.disconnect(self.client_id)

    def reply(self, depart: float, reply: Any, on_reply: Callable[[Any], None]) -> None:
        self.down.send(depart, self._deliver, on_reply, reply)

    def push(self, depart: float, channel: bytes, message: bytes) -> None:
        self.down.send(depart, self._deliver, self.owner.on_message, channel, message)

    def _deliver(self, fn: Callable[..., object], *args: object) -> None:
        if self.open:
            fn(*args)

    def close(self) -> None:
        """The process died: nothing more is delivered either way."""
        if self.open:
            self.open = False
            self.redis.disconnect(self.client_id)
