"""Asynchronous replication: a master streams its writes to its replicas.

After every command that changed keys, the master ships each changed key's
new state (value and absolute deadline: Redis 7 replicates TTLs as absolute
timestamps, PR #8474) to every replica, one stream per replica, in order,
each write delayed by a lag drawn from the run's chooser (``replica_lag``)
plus any network fault on the master or the replica: the time until the
replica has applied it. A master that crashes first takes the writes still
in flight with it (its output buffer dies with the process). A replica never
expires keys itself; promoted, it expires them by its own clock. A replica
acknowledges each write it applied after another lag draw; ``WAIT n
timeout`` answers with the number of replicas that acknowledged every write
the master had made when WAIT ran, once n have or the timeout passes
(0: no timeout). A replica that is down loses what reached it meanwhile, and
a replica re-pointed at a new master (or an old master demoted) gets a full
copy of the new master's keyspace: what it had of its own is discarded.
Network faults on either node or on their link (``redis1/redis2``) and a
lag spike (``Lag``, on the replica or on ``redis``: every replica) hold
writes and acks alike. ``good`` counts the replicas ``min-replicas-to-write``
counts (``models.redis.write_guard``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from models.redis.persistence import copy_value, restore, snapshot
from models.redis.write_guard import is_good

if TYPE_CHECKING:
    from sim.world.network import Connection
    from sim.world.topology import ClusterNode
    from sim.world.world import World

Entry = tuple[bytes, object, int | None]  # key, value (None: deleted), deadline


class Replication:
    """One master's streams to its replicas, with offsets and acknowledgements."""

    def __init__(self, world: World, master: ClusterNode, replicas: list[ClusterNode]) -> None:
        self.world = world
        self.master = master
        self.replicas = replicas
        self.offset = 0
        self.acked: dict[str, int] = {r.name: 0 for r in replicas}
        self._last: dict[str, float] = {r.name: 0.0 for r in replicas}
        self._last_ack: dict[str, float] = {}
        self.waits: list[list[Any]] = []  # [needed, offset, conn, on_reply, answered]
        for r in replicas:
            r.source = self
            r.repl_offset = 0

    # -- the stream ---------------------------------------------------------------
    def _ends(self, replica: ClusterNode) -> tuple[str, ...]:
        """The fault targets that touch this stream: both nodes and their link."""
        m, r = self.master.name, replica.name
        return (m, r, f"{m}/{r}", f"{r}/{m}")

    def _travel(self, replica: ClusterNode, depart: float,
                last: dict[str, float]) -> float:
        """When something sent now along this stream arrives (in order, per direction)."""
        world = self.world
        arrive = depart + world.scenario.replica_lag.sample(world.chooser)
        net_faults = world.net_faults
        if net_faults:
            for node in self._ends(replica):
                faults = net_faults.get(node)
                if faults is not None:
                    arrive = faults.adjust(depart, arrive)
        spikes = world.lag_spikes
        if spikes:
            for node in (replica.name, "redis"):
                for start, end, extra in spikes.get(node, ()):
                    if start <= depart < end:
                        arrive += extra
        arrive = max(arrive, last.get(replica.name, 0.0))
        last[replica.name] = arrive
        return arrive

    def _arrival(self, replica: ClusterNode, depart: float) -> float:
        return self._travel(replica, depart, self._last)

    def propagate(self, depart: float, entries: list[Entry]) -> None:
        """Ship one write (its changed keys) to every replica."""
        self.offset += 1
        for replica in self.replicas:
            self.world.at(self._arrival(replica, depart), self._apply, replica, self.offset,
                          entries, self.master.crashes)

    def _apply(self, replica: ClusterNode, offset: int, entries: list[Entry],
               crashes: int) -> None:
        if replica.source is not self or not replica.up or self.master.crashes != crashes:
            return  # re-pointed, down, or the master died with the write still in its buffer
        ks = replica.model.ks
        replica.durable.before_command(ks, replica.local_now)  # its own disk follows too
        for key, value, deadline in entries:
            if value is None:
                ks.data.pop(key, None)
                ks.deadlines.pop(key, None)
            else:
                # its own copy: replicas share no value (a promoted one writes in place)
                ks.data[key] = copy_value(value)  # type: ignore[assignment]
                if deadline is None:
                    ks.deadlines.pop(key, None)
                else:
                    ks.deadlines[key] = deadline
        replica.repl_offset = offset
        back = self._travel(replica, self.world.env.now, self._last_ack)
        self.world.at(back, self._ack, replica.name, offset)

    def _ack(self, name: str, offset: int) -> None:
        if offset > self.acked.get(name, 0):
            self.acked[name] = offset
        self._settle()

    # -- min-replicas-to-write ---------------------------------------------------------
    def good(self, now: float, max_lag_s: float) -> int:
        """The replicas whose last report is at most ``max_lag_s`` old."""
        return sum(1 for r in self.replicas if is_good(self._silent_since(r, now), now, max_lag_s))

    def _silent_since(self, replica: ClusterNode, now: float) -> float | None:
        """Since when ``replica``'s reports no longer reach this master (None: they do)."""
        since: list[float] = []
        if replica.source is not self:
            since.append(replica.source_since)
        if replica.down_since is not None:
            since.append(replica.down_since)
        for node in self._ends(replica):
            faults = self.world.net_faults.get(node)
            if faults is not None:
                since.extend(s for s, e in faults.partitions if s <= now < e)
        return min(since) if since else None

    def fail_waits(self, now: float, error: object) -> None:
        """The master died: every pending WAIT's client gets the connection error."""
        for entry in list(self.waits):
            entry[4] = True
            self.waits.remove(entry)
            entry[2].reply(now, error, entry[3])

    # -- WAIT ---------------------------------------------------------------------
    def count(self, offset: int) -> int:
        return sum(1 for r in self.replicas if self.acked.get(r.name, 0) >= offset)

    def wait(self, conn: Connection, needed: int, timeout_ms: float, done: float,
             on_reply: Callable[[object], None]) -> None:
        entry = [needed, self.offset, conn, on_reply, False]
        if self.count(self.offset) >= needed:
            conn.reply(done, self.count(self.offset), on_reply)
            return
        self.waits.append(entry)
        if timeout_ms > 0:
            self.world.at(done + timeout_ms, self._timeout, entry)

    def _settle(self) -> None:
        now = self.world.env.now
        for entry in list(self.waits):
            needed, offset = entry[0], entry[1]
            if self.count(offset) >= needed:
                self._answer(entry, now)

    def _timeout(self, entry: list[Any]) -> None:
        if not entry[4]:
            self._answer(entry, self.world.env.now)

    def _answer(self, entry: list[Any], now: float) -> None:
        entry[4] = True
        self.waits.remove(entry)
        entry[2].reply(now, self.count(entry[1]), entry[3])

    # -- reconfiguration ------------------------------------------------------------
    def full_sync(self, replica: ClusterNode) -> None:
        """Point ``replica`` at this master with a copy of its keyspace (after one lag)."""
        replica.source = self
        replica.source_since = self.world.env.now
        if replica not in self.replicas:
            self.replicas.append(replica)
        self.acked[replica.name] = 0
        image = snapshot(self.master.model.ks)
        offset = self.offset

        def load() -> None:
            if replica.source is self and replica.up:
                restore(replica.model.ks, image)
                replica.repl_offset = offset
                self.acked[replica.name] = offset

        self.world.at(self._arrival(replica, self.world.env.now), load)
