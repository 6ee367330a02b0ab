"""Where each simulated Redis node listens, and which clients a handler is given.

Every node is reachable by its name on port 6379 (``redis``; ``redis1``..``redisN``
for a topology) and by loopback on a port of its own (``localhost``/``127.0.0.1``:
6379 for the first node, 6380 for the second, ...), so a library configured with
host names or with loopback ports reaches the simulated nodes unchanged. ``redis``
always names the primary.

The handler's ``redis`` argument follows the deployment: one ``redis.asyncio.Redis``
to the primary, or, for ``redlock:N``, a tuple of N clients, one per master in
name order (what ``AIORedlock(masters=set(redis))`` wants).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sim.world.redis_node import RedisNode

PORT = 6379
LOOPBACK = ("localhost", "127.0.0.1")


@dataclass(frozen=True)
class Directory:
    """The simulated network's listening sockets: (host, port) -> (node name, node)."""

    addresses: Mapping[tuple[str, int], tuple[str, RedisNode]]
    clients: tuple[tuple[str, int], ...]  # where the handler's clients connect, in order
    per_master: bool  # the handler gets a tuple of clients (redlock:N)

    @classmethod
    def of(cls, nodes: Mapping[str, RedisNode], kind: str) -> Directory:
        addresses: dict[tuple[str, int], tuple[str, RedisNode]] = {}
        names = list(nodes)
        primary = names[0]
        addresses[("redis", PORT)] = (primary, nodes[primary])
        for i, name in enumerate(names):
            addresses[(name, PORT)] = (name, nodes[name])
            for host in LOOPBACK:
                addresses[(host, PORT + i)] = (name, nodes[name])
        if kind == "redlock":
            return cls(addresses, tuple((n, PORT) for n in names), True)
        return cls(addresses, ((primary, PORT),), False)

    def route(self, host: str | None, port: int | None) -> tuple[str, RedisNode] | None:
        return self.addresses.get((str(host), int(port or 0)))

    def text(self) -> str:
        return ", ".join(f"{h}:{p}" for h, p in self.addresses)
