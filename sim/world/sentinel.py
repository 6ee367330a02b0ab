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

Sentinel also loses sight of a master that is alive: a partition of
``redis1``, of its link ``redis1/sentinel`` or of ``sentinel`` that lasts
``down_after_ms`` makes it promote a replica it still sees. The old master
is then *deposed* but does not know it: clients that still reach it and
have not heard from Sentinel keep writing to it. Sentinel announces the
switch (``+switch-master``); every client that reaches Sentinel (no
``app1/sentinel`` partition) moves to the new master, the others ask every
``ASK_EVERY_MS`` until they reach it. When Sentinel sees the deposed master
again it demotes it: a full copy of the new master replaces its keyspace, so
its unreplicated writes are discarded, and its clients are moved.

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
        self.deposed: set[str] = set()  # old masters alive and not yet demoted

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

    # -- what Sentinel sees -------------------------------------------------------------
    def _cut_since(self, keys: tuple[str, ...]) -> tuple[float, float] | None:
        """(since, until) of the partition windows on ``keys`` open now (None: none)."""
        now = self.world.env.now
        open_ = [(s, e) for k in keys if (nf := self.world.net_faults.get(k)) is not None
                 for s, e in nf.partitions if s <= now < e]
        if not open_:
            return None
        return min(s for s, _ in open_), max(e for _, e in open_)

    def _node_keys(self, name: str) -> tuple[str, ...]:
        return (name, "sentinel", f"{name}/sentinel")

    def sees(self, name: str) -> bool:
        """Whether Sentinel reaches node ``name`` now."""
        return self._cut_since(self._node_keys(name)) is None

    def reaches(self, server: str) -> bool:
        """Whether app server ``server`` reaches Sentinel now."""
        return self._cut_since((server, "sentinel", f"{server}/sentinel")) is None

    def cut(self, target: str, start: float, end: float) -> None:
        """A partition on ``target`` began: if it hides the master long enough, fail over."""
        if not self.enabled or end - start < self.down_after_ms:
            return
        name = target.removesuffix("/sentinel") if target != "sentinel" else self.master
        if name == self.master:
            self.world.at(start + self.down_after_ms, self._suspect, name)

    def _suspect(self, name: str) -> None:
        """``down_after_ms`` after a cut: still unseen (and alive) -> promote."""
        old = self._node(name)
        now = self.world.env.now
        cut = self._cut_since(self._node_keys(name))
        if (name != self.master or not old.up or cut is None
                or cut[0] > now - self.down_after_ms + 1e-9):
            return
        if self._promote(old):
            self.deposed.add(name)
            self.world.at(cut[1], self._heal, old)
            for server in self.world.servers:  # +switch-master
                self._ask(server)

    def _heal(self, old: ClusterNode) -> None:
        """Sentinel sees the deposed master again: demote it, move its clients."""
        cut = self._cut_since(self._node_keys(old.name))
        if cut is not None:  # another window still hides it
            self.world.at(cut[1], self._heal, old)
            return
        if old.name not in self.deposed:
            return
        self.deposed.discard(old.name)
        master = self._node(self.master)
        if master.replication is None or master is old:
            return
        old.role = "replica"
        old.replication = None
        master.replication.full_sync(old)  # its own writes are discarded
        self.world.node_event("demote", old.name)
        for server in self.world.servers:
            if server.cmd.redis is old:
                self._ask(server)

    # -- promotion ----------------------------------------------------------------------
    def _failover(self, old: ClusterNode, crashes: int) -> None:
        if old.up or old.crashes != crashes or old.name != self.master:
            return  # it came back in time, or another failover already ran
        self._promote(old)
        if old.name in self.deposed:  # deposed, then it died: it comes back a replica
            self.deposed.discard(old.name)

    def _promote(self, old: ClusterNode) -> bool:
        """Make the best replica Sentinel sees master (False: none to promote)."""
        replication = old.replication
        candidates = [r for r in (replication.replicas if replication else [])
                      if r.up and r.source is replication and self.sees(r.name)]
        if not candidates:
            return False
        best = min(candidates, key=lambda r: (-r.repl_offset, r.name))
        from sim.world.replication import Replication

        best.role = "master"
        best.source = None
        best.source_since = self.world.env.now
        best.replication = Replication(self.world, best, [])
        for replica in candidates:
            if replica is not best:
                best.replication.full_sync(replica)
        if not old.up:
            old.role = "replica"
            old.replication = None
        self.master = best.name
        self.failovers += 1
        self.world.redis = best  # a client that connects from now on asks Sentinel first
        self.world.node_event("failover", best.name)
        return True

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
        elif master.up and self.reaches(server.name):
            rebind(world, server, master)
            return
        world.at(world.env.now + ASK_EVERY_MS, self._ask, server)


def rebind(world: World, server: AppServer, node: ClusterNode) -> None:
    """New command and subscriber connections to ``node``; resubscribe every channel
    (unless the client library does not), resend what it kept (if it does)."""
    lat = world.scenario.redis_latency
    server.cmd = Connection(world, world.next_client_id(), server, lat, server.name, node)
    server.sub = Connection(world, world.next_client_id(), server, lat, server.name, node)
    server.pool.clear()
    if node.resubscribe:
        for channel in list(server.listeners):
            server.sub.send(("SUBSCRIBE", channel), lambda _r: None)
    server.reconnected("")
