"""Sentinel: failure detection, a quorum, promotion, and clients that learn the new master late.

``sentinel:N`` runs ``sentinels`` Sentinel processes (``sentinel1`` ..,
three by default) with a ``sentinel_quorum`` (two by default). Each judges
the master from its own view: it is *subjectively down* (SDOWN) for a
Sentinel that has not reached it for ``down_after_ms`` (Sentinel's
``down-after-milliseconds``): the master crashed, or a partition of the
master, of its link to that Sentinel (``redis1/sentinel2``) or to every one
(``redis1/sentinel``), or of the Sentinel itself (``sentinel2``; ``sentinel``:
every Sentinel, cut from each other too). It is *objectively down* once
``quorum`` Sentinels that reach each other agree, and one of them, elected
by a majority of all the Sentinels (and at least ``quorum``) it reaches,
fails it over: it promotes the replica it sees with the largest replication
offset (ties: the lowest name, standing in for the run id); the other
replicas and, once it is back, the old master resynchronise from it with a
full copy, so whatever the old master had not replicated is gone. Lacking a
quorum or a majority it tries again when a partition that hid a Sentinel
heals. Sentinels that reach the leader learn the new configuration at once,
the others when they next reach one that knows it.

Clients learn the new master only by asking a Sentinel they reach (the
first of ``sentinel1`` .. they are not cut from): a client whose connection
to the master broke asks again every ``ASK_EVERY_MS`` (ioredis's and
redis-py's Sentinel clients reconnect through Sentinel), then opens new
connections to the node named and resubscribes its channels. Until then its
commands still go to the old master (and fail while it is down).

A master that is alive but hidden from a quorum is *deposed* without knowing
it: clients that still reach it and have not heard from a Sentinel keep
writing to it. The switch is announced (``+switch-master``); every client
that reaches a Sentinel (no ``app1/sentinel`` partition) moves to the new
master, the others ask every ``ASK_EVERY_MS`` until they reach one. When a
Sentinel sees the deposed master again it demotes it: a full copy of the
new master replaces its keyspace, so its unreplicated writes are discarded,
and its clients are moved.

Without Sentinel (``replicas:N``) nobody fails over: a master that restarts
makes its replicas resynchronise from it, so one that restarts empty
empties them too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sim.world.network import Connection

if TYPE_CHECKING:
    from sim.world.app_server import AppServer
    from sim.world.topology import ClusterNode
    from sim.world.world import World

ASK_EVERY_MS = 100.0


class Sentinel:
    """The Sentinels of one run: each one's view, their quorum, and who is master."""

    def __init__(self, world: World, master: str, down_after_ms: float,
                 enabled: bool = True, sentinels: int = 3, quorum: int = 2) -> None:
        self.world = world
        self.master = master  # as the last failover left it (the newest configuration)
        self.down_after_ms = down_after_ms
        self.enabled = enabled
        self.names = tuple(f"sentinel{i + 1}" for i in range(sentinels))
        self.quorum = quorum
        self.epoch = 0
        self.views = {name: (0, master) for name in self.names}  # epoch, master, as each knows
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

    # -- what each Sentinel sees ------------------------------------------------------------
    def _cut_since(self, keys: tuple[str, ...]) -> tuple[float, float] | None:
        """(since, until) of the partition windows on ``keys`` open now (None: none)."""
        now = self.world.env.now
        open_ = [(s, e) for k in keys if (nf := self.world.net_faults.get(k)) is not None
                 for s, e in nf.partitions if s <= now < e]
        if not open_:
            return None
        return min(s for s, _ in open_), max(e for _, e in open_)

    @staticmethod
    def _keys(end: str, sentinel: str) -> tuple[str, ...]:
        """The partitions that cut ``end`` (a node, an app server) from ``sentinel``."""
        return (end, "sentinel", f"{end}/sentinel", sentinel, f"{end}/{sentinel}")

    def sees(self, sentinel: str, name: str) -> bool:
        """Whether ``sentinel`` reaches node ``name`` now."""
        return self._cut_since(self._keys(name, sentinel)) is None

    def _talk(self, a: str, b: str) -> bool:
        """Whether two Sentinels reach each other now."""
        return a == b or self._cut_since(("sentinel", a, b, f"{a}/{b}", f"{b}/{a}")) is None

    def reaches(self, server: str) -> str | None:
        """The first Sentinel app server ``server`` reaches now (None: none)."""
        for sentinel in self.names:
            if self._cut_since(self._keys(server, sentinel)) is None:
                return sentinel
        return None

    def _view(self, sentinel: str) -> tuple[int, str]:
        """What ``sentinel`` says is master: the newest configuration it reaches."""
        return max((self.views[t] for t in self.names if self._talk(sentinel, t)),
                   key=lambda v: v[0])

    def says(self, sentinel: str) -> tuple[int, str]:
        """(epoch, master) as ``sentinel`` answers a client now (a client library asks)."""
        return self._view(sentinel)

    def cut(self, target: str, start: float, end: float) -> None:
        """A partition on ``target`` began: if it hides the master long enough, fail over."""
        if not self.enabled or end - start < self.down_after_ms:
            return
        head, _, tail = target.partition("/")
        if head.startswith("sentinel"):  # Sentinels cut off: from the master too
            name = self.master
        elif not tail or tail.startswith("sentinel"):
            name = head
        else:
            return  # a link the Sentinels do not use
        if name == self.master:
            self.world.at(start + self.down_after_ms, self._suspect, name)

    def _down_for(self, name: str) -> list[str]:
        """The Sentinels that have not reached master ``name`` for ``down_after_ms`` (SDOWN)."""
        since = self.world.env.now - self.down_after_ms + 1e-9
        return [s for s in self.names
                if (cut := self._cut_since(self._keys(name, s))) is not None and cut[0] <= since]

    def _leader(self, down: list[str]) -> str | None:
        """The first Sentinel of ``down`` with a quorum agreeing (ODOWN) and a majority of
        all the Sentinels voting for it."""
        needed = max(len(self.names) // 2 + 1, self.quorum)
        for s in down:
            agree = sum(1 for t in down if self._talk(s, t))
            voters = sum(1 for t in self.names if self._talk(s, t))
            if agree >= self.quorum and voters >= needed:
                return s
        return None

    def _suspect(self, name: str) -> None:
        """``down_after_ms`` after a cut: still unseen (and alive) by a quorum -> promote."""
        old = self._node(name)
        if name != self.master or not old.up:
            return
        down = self._down_for(name)
        if not down:
            return
        leader = self._leader(down)
        if leader is None:
            self._later(lambda: self._suspect(name))
            return
        if self._promote(old, leader):
            self.deposed.add(name)
            self._heal_later(old)
            for server in self.world.servers:  # +switch-master
                self._ask(server)

    def _later(self, again: Callable[[], None]) -> None:
        """No quorum or no majority now: try ``again`` when the next Sentinel partition heals."""
        now = self.world.env.now
        ends = [e for k, nf in self.world.net_faults.items() if k.startswith("sentinel")
                for s, e in nf.partitions if s <= now < e]
        if ends:
            self.world.at(min(ends), again)

    def _hidden_until(self, old: ClusterNode) -> float | None:
        """When the first Sentinel sees ``old`` again (None: one sees it now)."""
        ends = []
        for s in self.names:
            cut = self._cut_since(self._keys(old.name, s))
            if cut is None:
                return None
            ends.append(cut[1])
        return min(ends)

    def _heal_later(self, old: ClusterNode) -> None:
        """Demote ``old`` once a Sentinel sees it (at once if one does: it knows the switch)."""
        until = self._hidden_until(old)
        self.world.at(self.world.env.now if until is None else until, self._heal, old)

    def _heal(self, old: ClusterNode) -> None:
        """A Sentinel sees the deposed master again: demote it, move its clients."""
        until = self._hidden_until(old)
        if until is not None:  # another window still hides it
            self.world.at(until, self._heal, old)
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
        # a dead master is down for every Sentinel; the leader needs the others
        leader = self._leader(list(self.names))
        if leader is None:
            self._later(lambda: self._failover(old, crashes))
            return
        self._promote(old, leader)
        if old.name in self.deposed:  # deposed, then it died: it comes back a replica
            self.deposed.discard(old.name)

    def _promote(self, old: ClusterNode, leader: str) -> bool:
        """Make the best replica ``leader`` sees master (False: none to promote)."""
        replication = old.replication
        candidates = [r for r in (replication.replicas if replication else [])
                      if r.up and r.source is replication and self.sees(leader, r.name)]
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
        self.epoch += 1
        for s in self.names:  # the leader's new configuration, to those that reach it
            if self._talk(leader, s):
                self.views[s] = (self.epoch, best.name)
        self.failovers += 1
        self.world.redis = best  # a client that connects from now on asks Sentinel first
        self.world.node_event("failover", best.name)
        return True

    # -- clients ------------------------------------------------------------------------
    def _ask(self, server: AppServer) -> None:
        """A client whose master connection broke asks a Sentinel who is master now."""
        world = self.world
        if not server.alive:
            return
        master = self._node(self.master)
        if server.cmd.redis is master:
            if master.up:
                return  # the master came back before any failover: same node, reconnected
        else:
            sentinel = self.reaches(server.name)
            told = self._node(self._view(sentinel)[1]) if sentinel is not None else None
            if told is not None and told.up and told is not server.cmd.redis:
                rebind(world, server, told)
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
