"""A scenario's Redis topology, for real: servers, lag relays and Sentinels on loopback.

One ``redis-server`` per node (``sim.real.server``), each with its own temp
dir and the scenario's persistence as redis.conf directives; a replica's
``replicaof`` names a ``sim.real.relay`` in front of its master, so the
stream arrives ``replica_lag`` late; ``sentinel:N`` adds three
``redis-server --sentinel`` processes (the same binary) with the scenario's
``down-after-milliseconds`` and short failover timeouts. A crash is a
SIGKILL and a restart the same command line in the same directory, so what
survives is what the persistence policy wrote. Everything is stopped by
``close()``, which the cluster calls on every exit path.

What the simulator has and this does not: node clocks (a real server reads
the host's clock; refused by the cluster), and lag after a failover (the real
Sentinel points the replicas straight at the promoted one, past the relays).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from models.redis.persistence import Persistence
from models.topology import SENTINEL_SERVICE, Topology
from sim.real.relay import Arrival, Relay
from sim.real.server import LOOPBACK, RedisServer, ServerStartError

MASTER_NAME = SENTINEL_SERVICE
"""The name the Sentinels monitor the master under."""
SENTINELS = 3
FAILOVER_TIMEOUT_MS = 1000  # Sentinel's floor is its own; small so a failover ends in a test
READY_S = 20.0  # replicas in sync, Sentinels aware of each other and the replicas


class DeploymentError(Exception):
    """A node could not be started or did not come up: one line saying why."""


def persistence_settings(policy: Persistence) -> tuple[tuple[str, str], ...]:
    """The policy as redis.conf directives. ``rdb:MS`` becomes ``save S 1`` with S the
    period rounded up to whole seconds (Redis's unit): a snapshot after any write."""
    if policy.spec == "aof-always":
        return (("appendonly", "yes"), ("appendfsync", "always"))
    if policy.spec == "aof-everysec":
        return (("appendonly", "yes"), ("appendfsync", "everysec"))
    if policy.spec.startswith("rdb:"):
        return (("save", f"{max(1, math.ceil(policy.period_ms / 1000.0))} 1"),)
    return ()


def _probe(port: int) -> redis.Redis:
    return redis.Redis(LOOPBACK, port, socket_timeout=1.0, socket_connect_timeout=1.0,
                       retry=Retry(NoBackoff(), 0), decode_responses=True)


class Deployment:
    """The nodes of one topology, by name, plus its Sentinels (``sentinel:N``)."""

    def __init__(self, topology: Topology, binary: Path | None, *, down_after_ms: float,
                 lag: Callable[[], float], arrival: Callable[[str, str], Arrival],
                 quorum: int = 2) -> None:
        self.topology = topology
        self.count = len(topology.sentinels) or SENTINELS  # the scenario's sentinels
        self.quorum = quorum
        self.binary = binary
        self.down_after_ms = down_after_ms
        self.lag = lag
        self.arrival = arrival  # (master, replica) -> how their fault windows move a chunk
        self.servers: dict[str, RedisServer] = {}
        self.relays: dict[str, Relay] = {}  # replica name -> the relay in front of its master
        self.sentinels: list[RedisServer] = []
        self.pids: dict[str, list[int]] = {}
        self.version = "?"

    # -- addresses ------------------------------------------------------------------------
    @property
    def primary(self) -> str:
        return self.topology.nodes[0].name

    def address(self, name: str) -> tuple[str, int]:
        return LOOPBACK, self.servers[name].port

    def name_of(self, port: int) -> str | None:
        return next((n for n, s in self.servers.items() if s.port == port), None)

    @property
    def sentinel_ports(self) -> list[int]:
        return [s.port for s in self.sentinels]

    # -- start -----------------------------------------------------------------------------
    def _server(self, name: str, settings: tuple[tuple[str, str], ...] = (),
                sentinel: tuple[str, ...] | None = None) -> RedisServer:
        server = RedisServer(self.binary, settings=settings, sentinel=sentinel)
        try:
            server.start()
        except ServerStartError as exc:
            raise DeploymentError(f"{name}: {exc}") from None
        self.pids.setdefault(name, []).append(server.pid or 0)
        return server

    async def start(self) -> None:
        """Masters, relays, replicas (in sync), then Sentinels that know them all."""
        kind = self.topology.kind
        for spec in self.topology.nodes:
            # a full sync at once, not after diskless replication's 5 s wait for company
            settings = (*persistence_settings(spec.persistence),
                        ("repl-diskless-sync-delay", "0"))
            if spec.role == "replica":
                master = self.topology.nodes[0].name
                relay = Relay(self.servers[master].port, self.lag,
                              self.arrival(master, spec.name))
                self.relays[spec.name] = relay
                port = await relay.start()
                settings = (*settings, ("replicaof", f"{LOOPBACK} {port}"))
            self.servers[spec.name] = self._server(spec.name, settings)
        self.version = ".".join(map(str, self.servers[self.primary].version))
        if self.relays:
            await self._until("the replicas to sync with their master", self._in_sync)
        if kind == "sentinel":
            self._start_sentinels()
            await self._until("the Sentinels to find each other and the replicas",
                              self._sentinels_ready)

    def _start_sentinels(self) -> None:
        """The scenario's Sentinels (three by default, quorum 2) told about each other and
        the replicas up front (``myid``, ``known-sentinel``, ``known-replica``): no 2 s of
        hello messages to wait for."""
        port = self.servers[self.primary].port
        common = [f"sentinel monitor {MASTER_NAME} {LOOPBACK} {port} {self.quorum}",
                  f"sentinel down-after-milliseconds {MASTER_NAME} "
                  f"{max(1, round(self.down_after_ms))}",
                  f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}",
                  f"sentinel parallel-syncs {MASTER_NAME} {max(1, len(self.relays))}",
                  *(f"sentinel known-replica {MASTER_NAME} {LOOPBACK} {self.servers[r].port}"
                    for r in self.relays)]
        servers = [RedisServer(self.binary) for _ in range(self.count)]
        ids = [f"{i + 1:040x}" for i in range(self.count)]
        for i, server in enumerate(servers):
            server.sentinel = (*common, f"sentinel myid {ids[i]}", *(
                f"sentinel known-sentinel {MASTER_NAME} {LOOPBACK} {other.port} {ids[j]}"
                for j, other in enumerate(servers) if j != i))
            try:
                server.start()
            except ServerStartError as exc:
                raise DeploymentError(f"sentinel{i + 1}: {exc}") from None
            self.sentinels.append(server)
            self.pids.setdefault(f"sentinel{i + 1}", []).append(server.pid or 0)

    async def _until(self, what: str, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + READY_S
        while not ready():
            if time.monotonic() > deadline:
                raise DeploymentError(f"gave up after {READY_S:g} s waiting for {what}")
            await asyncio.sleep(0.05)

    def _in_sync(self) -> bool:
        for name in self.relays:
            try:
                with _probe(self.servers[name].port) as probe:
                    if probe.info("replication").get("master_link_status") != "up":
                        return False
            except (redis.RedisError, OSError):
                return False
        return True

    def _sentinels_ready(self) -> bool:
        for sentinel in self.sentinels:
            try:
                with _probe(sentinel.port) as probe:
                    raw = probe.execute_command("SENTINEL", "MASTER", MASTER_NAME)
            except (redis.RedisError, OSError):
                return False
            fields = dict(zip(raw[::2], raw[1::2], strict=False)) if isinstance(raw, list) \
                else dict(raw)
            if int(fields.get("num-slaves", 0)) < len(self.relays) or \
                    int(fields.get("num-other-sentinels", 0)) < self.count - 1:
                return False
        return True

    # -- faults ----------------------------------------------------------------------------
    def kill(self, name: str) -> None:
        """SIGKILL; a master's relays lose what they still held for its replicas."""
        self.servers[name].kill()
        for replica, relay in self.relays.items():
            if self.topology.nodes[0].name == name and replica != name:
                relay.cut()

    async def restart(self, name: str) -> None:
        """The same command line in the same directory: its disk decides what it has."""
        server = self.servers[name]
        try:
            await asyncio.get_running_loop().run_in_executor(None, server.start)
        except ServerStartError as exc:
            raise DeploymentError(f"{name} did not come back: {exc}") from None
        self.pids.setdefault(name, []).append(server.pid or 0)

    def pause(self, name: str) -> None:
        self.servers[name].pause()

    def resume(self, name: str) -> None:
        self.servers[name].resume()

    def publishes(self) -> int | None:
        """PUBLISH commands every node has run (None: one cannot say, or restarted)."""
        total = 0
        for server in self.servers.values():
            try:
                with _probe(server.port) as probe:
                    stats = probe.info("commandstats")
            except (redis.RedisError, OSError):
                return None
            entry = stats.get("cmdstat_publish", {})
            total += int(entry.get("calls", 0)) if isinstance(entry, dict) else 0
        return total

    def close(self) -> None:
        """Sentinels first (no failover while the rest go), relays, then the servers."""
        for sentinel in self.sentinels:
            sentinel.stop()
        for relay in self.relays.values():
            relay.close()
        for server in self.servers.values():
            server.stop()
