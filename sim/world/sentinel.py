"""Sentinel: failure detection, promotion, and clients that learn the new master late.

When the master has been down for ``down_after_ms`` (Sentinel's
``down-after-milliseconds``), Sentinel promotes the replica with the largest
replication offset (ties: the lowest name, standing in for the run id); the
other replicas and, once it is back, the old master resynchronise from it
with a full copy, so whatever the old master had not replicated is gone.
Clients learn the new master only by asking Sentinel: a client whose
connection to the master broke asks again every ``ASK_EVERY_MS`` (ioredis's
and redis-py's Sentinel clients reconnect through Sentinel), then opens new
connections to the node Sentinel names and resubscribes its channels. Until
then its commands still go to the old master (and fail while it is down).

Without Sentinel (``replicas:N``) nobody fails over: a master that restarts
makes its replicas resynchronise from it, so one that restarts empty
empties them too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.world.network import Connection

if TYPE_CHECKING:
    from sim.world.app_server import AppServer
    from sim.world.topology import ClusterNode
    from sim.world.world import World

ASK_EVERY_MS = 100.0


class Sentinel:
    """The Sentinels' agreed view of who is master (one logical failure detector)."""

    def __init__(self, world: World, master: str, down_after_ms: float,
                 enabled: bool = True) -> None:
        self.world = world
        self.master = master
        self.down_after_ms = down_after_ms
        self.enabled = enabled
        self.failovers = 0

    def _node(self, name: str) -> ClusterNode:
        return self.world.nodes[name]  # type: ignore[return-value]

    # -- a node goes down or comes back -----------------------------------------------
    def node_down(self, node: ClusterNode) -> None:
        if not self.enabled or node.name != self.master:
            return
        world = self.world
        world.at(world.env.now + self.down_after_ms, self._failover, node, node.crashes)
        for server in world.servers:
            world.at(world.env.now + ASK_EVERY_MS, self._ask, server)

    def node_back(self, node: ClusterNode) -> None:
        if node.name == self.master and node.replication is not None:
            for replica in list(node.replication.replicas):  # they copy what it has now
                node.replication.full_sync(replica)
            return
        master = self._node(self.master)
        if master.replication is not None and node is not master:
            node.role = "replica"  # a replica back, or the old master demoted on its return
            node.replication = None
            master.replication.full_sync(node)

    # -- promotion ----------------------------------------------------------------------
    def _failover(self, old: ClusterNode, crashes: int) -> None:
        if old.up or old.crashes != crashes or old.name != self.master:
            return  # it came back in time, or another failover already ran
        replication = old.replication
        candidates = [r for r in (replication.replicas if replication else []) if r.up]
        if not candidates:
            return
        best = min(candidates, key=lambda r: (-r.repl_offset, r.name))
        from sim.world.replication import Replication

        best.role = "master"
        best.source = None
        best.replication = Replication(self.world, best, [])
        for replica in candidates:
            if replica is not best:
                best.replication.full_sync(replica)
        old.role = "replica"
        old.replication = None
        self.master = best.name
        self.failovers += 1
        self.world.redis = best  # a client that connects from now on asks Sentinel first
        self.world.node_event("failover", best.name)

    # -- clients ------------------------------------------------------------------------
    def _ask(self, server: AppServer) -> None:
        """A client whose master connection broke asks Sentinel who is master now."""
        world = self.world
        if not server.alive:
            return
        master = self._node(self.master)
        if server.cmd.redis is master:
            if master.up:
                return  # the master came back before any failover: same node, reconnected
        elif master.up:
            rebind(world, server, master)
            return
        world.at(world.env.now + ASK_EVERY_MS, self._ask, server)


def rebind(world: World, server: AppServer, node: ClusterNode) -> None:
    """New command and subscriber connections to ``node``; resubscribe every channel."""
    lat = world.scenario.redis_latency
    server.cmd = Connection(world, world.next_client_id(), server, lat, server.name, node)
    server.sub = Connection(world, world.next_client_id(), server, lat, server.name, node)
    server.pool.clear()
    for channel in list(server.listeners):
        server.sub.send(("SUBSCRIBE", channel), lambda _r: None)
