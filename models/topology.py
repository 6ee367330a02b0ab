"""Which Redis nodes a world has: the topology, as scenario data.

- ``single`` (default): one node named ``redis``, today's world bit for bit
  while its settings stay at their defaults (no persistence policy, no
  restart delay, no node clock).
- ``redlock:N``: N independent masters ``redis1`` .. ``redisN``, no
  replication between them (Redlock's deployment).
- ``replicas:N``: a master ``redis1`` and N asynchronous replicas
  ``redis2`` .. (``sim.world.replication``).
- ``sentinel:N``: the same plus Sentinels ``sentinel1`` .. (three by default),
  which promote the replica with the largest replication offset once a quorum
  of them has not reached the master for ``down_after_ms``
  (``sim.world.sentinel``).

Every node is its own pure ``RedisModel`` with its own keyspace, wall clock,
single thread, persistence policy and restart delay. Lock designs reach a
node by name (``Call(..., node="redis2")``); a ``Call`` without a node goes
to the primary (``redis`` or ``redis1``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from models.redis.persistence import Persistence, PersistenceError

TOPOLOGIES: dict[str, str] = {
    "single": "one Redis, named redis (the default)",
    "redlock:N": "N independent masters redis1..redisN (Redlock)",
    "replicas:N": "a master redis1 and N async replicas redis2.. (no failover)",
    "sentinel:N": "a master, N async replicas and three Sentinels; a quorum promotes one",
}
MAX_NODES = 15
SENTINEL_SERVICE = "mymaster"
"""The name the Sentinels monitor the master under (Redis's default), in both worlds, so a
handler's ``master_for("mymaster")`` finds it in simulation and on real Redis alike."""
MAX_SENTINELS = 9
NO_PERSISTENCE = Persistence()


class TopologyError(ValueError):
    """A topology that cannot be built: one line saying why."""


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """One Redis node's settings."""

    name: str
    role: str = "master"
    persistence: Persistence = NO_PERSISTENCE
    restart_delay_ms: float = 0.0
    clock_offset_ms: float = 0.0
    clock_drift: float = 0.0

    @property
    def legacy(self) -> bool:
        """Today's one Redis exactly: a crash empties it at once, connections kept."""
        return (self.name == "redis" and self.persistence.mode == "none"
                and self.restart_delay_ms == 0 and self.clock_offset_ms == 0
                and self.clock_drift == 0)


@dataclass(frozen=True, slots=True)
class Topology:
    kind: str
    nodes: tuple[NodeSpec, ...]
    sentinels: tuple[str, ...] = ()
    """The Sentinel processes (``sentinel:N``): ``sentinel1`` .."""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes)

    @property
    def masters(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes if n.role == "master")

    def has(self, feature: str) -> bool:
        """``replicas``: it replicates (replicas:N, sentinel:N); ``sentinel``: it fails over."""
        if feature == "sentinel":
            return self.kind == "sentinel"
        return self.kind in ("replicas", "sentinel")


def fault_targets(topology: Topology, servers: int) -> frozenset[str]:
    """Every end and link a fault may name: app servers, ``holder``, ``storage``, the
    nodes; with several nodes one app server's link to a node (``app1/redis3``), one
    link between two nodes (``redis1/redis2``), and with Sentinel its links to every
    Sentinel (``redis1/sentinel``, ``app1/sentinel``) or one (``redis1/sentinel2``),
    ``sentinel`` (every Sentinel), each Sentinel (``sentinel2``) and the link between two
    Sentinels (``sentinel1/sentinel3``)."""
    apps = {f"app{i + 1}" for i in range(servers)}
    names = apps | {"holder", "storage", *topology.names}
    if topology.kind != "single":
        names |= {f"{a}/{n}" for a in apps for n in topology.names}
        names |= {f"{n}/{m}" for n in topology.names for m in topology.names if n != m}
    if topology.kind == "sentinel":
        names |= {f"{n}/{s}" for n in (*apps, *topology.names)
                  for s in ("sentinel", *topology.sentinels)}
        names |= {"sentinel", *topology.sentinels}
        names |= {f"{s}/{t}" for s in topology.sentinels for t in topology.sentinels if s != t}
    return frozenset(names)


def parse_topology(spec: str, persistence: str = "none", restart_delay_ms: float = 0.0,
                   clocks: tuple[tuple[str, float, float], ...] = (),
                   sentinels: int = 3) -> Topology:
    """Build the topology ``spec`` names; TopologyError (one line) when it cannot be built.

    Every scenario validates its own, so each shape is parsed once (values that
    cannot be hashed, from a hostile file, are parsed every time and refused there)."""
    try:
        return _cached(spec, persistence, restart_delay_ms, clocks, sentinels)
    except TypeError:  # unhashable: not a shape worth remembering
        return _parse_topology(spec, persistence, restart_delay_ms, clocks, sentinels)


def _parse_topology(spec: str, persistence: str = "none", restart_delay_ms: float = 0.0,
                    clocks: tuple[tuple[str, float, float], ...] = (),
                    sentinels: int = 3) -> Topology:
    try:
        policy = Persistence.parse(persistence)
    except PersistenceError as exc:
        raise TopologyError(str(exc)) from None
    if not isinstance(restart_delay_ms, int | float) or not math.isfinite(restart_delay_ms) \
            or restart_delay_ms < 0:
        raise TopologyError(f"restart delay must be a number >= 0, not {restart_delay_ms!r}")
    head, _, count = spec.partition(":")
    names: tuple[str, ...]
    if spec == "single":
        names = ("redis",)
    elif head in ("redlock", "replicas", "sentinel") and count:
        try:
            n = int(count)
        except ValueError:
            raise TopologyError(f"cannot read topology {spec!r}: N must be an integer") from None
        if head == "redlock" and not 1 <= n <= MAX_NODES:
            raise TopologyError(f"redlock:N needs 1..{MAX_NODES} masters, not {n}")
        if head != "redlock" and not 1 <= n < MAX_NODES:
            raise TopologyError(f"{head}:N needs 1..{MAX_NODES - 1} replicas, not {n}")
        names = tuple(f"redis{i + 1}" for i in range(n if head == "redlock" else n + 1))
    else:
        raise TopologyError(f"unknown topology {spec!r}; known: {', '.join(TOPOLOGIES)}")
    offsets = {name: (0.0, 0.0) for name in names}
    for entry in clocks:
        if not (isinstance(entry, tuple | list) and len(entry) == 3):
            raise TopologyError(f"a node clock is [node, offset_ms, drift], not {entry!r}")
        name, offset, drift = entry
        if name not in offsets:
            raise TopologyError(f"clock for unknown node {name!r}; nodes: {', '.join(names)}")
        if not all(isinstance(x, int | float) and math.isfinite(x) for x in (offset, drift)) \
                or drift <= -1:
            raise TopologyError(f"bad clock for {name}: offset {offset!r}, drift {drift!r}")
        offsets[name] = (float(offset), float(drift))
    replicated = head in ("replicas", "sentinel")
    if not isinstance(sentinels, int) or not 1 <= sentinels <= MAX_SENTINELS:
        raise TopologyError(f"sentinels must be 1..{MAX_SENTINELS}, not {sentinels!r}")
    watchers = (tuple(f"sentinel{i + 1}" for i in range(sentinels)) if head == "sentinel"
                else ())
    return Topology(head if spec != "single" else "single", tuple(
        NodeSpec(name, "replica" if replicated and i else "master", policy,
                 float(restart_delay_ms), *offsets[name])
        for i, name in enumerate(names)), watchers)


_cached = functools.lru_cache(maxsize=256)(_parse_topology)
