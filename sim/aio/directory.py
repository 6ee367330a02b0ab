"""Where each simulated Redis node and Sentinel listens, and which clients a handler is given.

Every node is reachable by its name on port 6379 (``redis``; ``redis1``..``redisN``
for a topology) and by loopback on a port of its own (``localhost``/``127.0.0.1``:
6379 for the first node, 6380 for the second, ...), so a library configured with
host names or with loopback ports reaches the simulated nodes unchanged. ``redis``
always names the primary. On ``sentinel:N`` the Sentinels listen too
(``sim.aio.sentinel``: ``sentinel1``.. on 26379, loopback 26379, 26380, ...).

The handler's ``redis`` argument follows the deployment: one client to the primary;
for ``redlock:N`` a tuple of N clients, one per master in name order (what
``AIORedlock(masters=set(redis))`` wants); for ``sentinel:N`` one client that finds
the master through the Sentinels, as an app on Sentinel makes it
(``Sentinel(sentinels).master_for("mymaster")``), so it follows a failover.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sim.aio.sentinel import SentinelEndpoint, addresses, client_addresses
from sim.world.redis_node import RedisNode

PORT = 6379
LOOPBACK = ("localhost", "127.0.0.1")

Endpoint = RedisNode | SentinelEndpoint


@dataclass(frozen=True)
class Directory:
    """The simulated network's listening sockets: (host, port) -> (name, node or Sentinel)."""

    addresses: Mapping[tuple[str, int], tuple[str, Endpoint]]
    clients: tuple[tuple[str, int], ...]  # where the handler's clients connect, in order
    per_master: bool  # the handler gets a tuple of clients (redlock:N)
    sentinels: tuple[tuple[str, int], ...] = ()  # sentinel:N: its client asks these

    @classmethod
    def of(cls, nodes: Mapping[str, RedisNode], kind: str,
           sentinels: Sequence[SentinelEndpoint] = ()) -> Directory:
        routes: dict[tuple[str, int], tuple[str, Endpoint]] = {}
        names = list(nodes)
        primary = names[0]
        routes[("redis", PORT)] = (primary, nodes[primary])
        for i, name in enumerate(names):
            routes[(name, PORT)] = (name, nodes[name])
            for host in LOOPBACK:
                routes[(host, PORT + i)] = (name, nodes[name])
        for sentinel in sentinels:
            for address in addresses(sentinel.index):
                routes[address] = (sentinel.name, sentinel)
        if kind == "redlock":
            return cls(routes, tuple((n, PORT) for n in names), True)
        found = tuple(client_addresses(len(sentinels))) if sentinels else ()
        return cls(routes, ((primary, PORT),), False, found)

    def route(self, host: str | None, port: int | None) -> tuple[str, Endpoint] | None:
        return self.addresses.get((str(host), int(port or 0)))

    def text(self) -> str:
        return ", ".join(f"{h}:{p}" for h, p in self.addresses)
