"""The Redis topology options every command that runs a scenario shares.

``--redis single|redlock:N|replicas:N|sentinel:N``, ``--persistence``,
``--restart-delay``, ``--min-replicas``, ``--min-replicas-max-lag``,
``--client-library``, ``--sentinels`` and ``--sentinel-quorum`` become scenario
fields (``topology``, ``persistence``, ``restart_delay_ms``, ``min_replicas_to_write``,
``min_replicas_max_lag_s``, ``client_library``, ``sentinels``, ``sentinel_quorum``); a
topology that cannot be built is one error line.
"""

from __future__ import annotations

import argparse
from typing import Any

from models.client_library import CLIENT_LIBRARIES
from models.dist import Dist
from models.topology import TOPOLOGIES, TopologyError, parse_topology
from sim.cli.common import UsageError


def add_topology_options(p: argparse.ArgumentParser, axes: bool = False) -> None:
    """The options; with ``axes`` (``sweep``) the topology, down-after and replica lag
    are comma lists, every combination a grid point, and ``--failover`` is added."""
    many = ", comma list: each a grid axis" if axes else ""
    p.add_argument("--redis", metavar="TOPOLOGY",
                   help=f"the Redis nodes: {', '.join(TOPOLOGIES)} (default single{many})")
    p.add_argument("--persistence", metavar="POLICY",
                   help="every Redis node's persistence: none (default), aof-always, "
                   "aof-everysec, rdb:MS")
    p.add_argument("--restart-delay", type=float, metavar="MS",
                   help="a crashed Redis node comes back no sooner than this (default 0)")
    p.add_argument("--down-after", type=str if axes else float, metavar="MS",
                   help="sentinel:N: Sentinel fails over after the master is down this long "
                   f"(default 30000, Sentinel's own{many})")
    p.add_argument("--sentinels", type=int, metavar="N",
                   help="sentinel:N: how many Sentinels watch the master (default 3)")
    p.add_argument("--sentinel-quorum", type=int, metavar="Q",
                   help="sentinel:N: how many Sentinels must agree it is down (default 2); "
                   "a majority of them elects the one that fails it over")
    if axes:
        p.add_argument("--replica-lag", metavar="MS",
                       help="replicas:N, sentinel:N: mean delay of each replicated write in "
                       "ms, drawn uniformly from half to 1.5 times it (comma list: an axis)")
        p.add_argument("--failover", metavar="AT",
                       help="the master (redis1) dies for good at AT ms; with sentinel:N "
                       "Sentinel promotes a replica (comma list: an axis)")
        return
    p.add_argument("--replica-lag", metavar="DIST",
                   help="replicas:N, sentinel:N: delay of each replicated write, e.g. "
                   "uniform:0.1:1.0 (the default)")
    p.add_argument("--min-replicas", type=int, metavar="N",
                   help="replicas:N, sentinel:N: every master's min-replicas-to-write: it "
                   "answers writes with NOREPLICAS while fewer replicas are good (default 0: off)")
    p.add_argument("--min-replicas-max-lag", type=float, metavar="S",
                   help="min-replicas-max-lag: a replica is good while its last report is at "
                   "most S seconds old (default 10)")
    p.add_argument("--client-library", metavar="NAME",
                   help=f"what clients do when a connection breaks: {', '.join(CLIENT_LIBRARIES)}"
                   " (default redis-py; ioredis resends unanswered commands)")


def topology_changes(args: argparse.Namespace, base: Any) -> dict[str, Any]:
    """Scenario changes for the options given; UsageError when they cannot be built."""
    changes: dict[str, Any] = {}
    if getattr(args, "redis", None) is not None:
        changes["topology"] = args.redis
    if getattr(args, "persistence", None) is not None:
        changes["persistence"] = args.persistence
    if getattr(args, "restart_delay", None) is not None:
        changes["restart_delay_ms"] = args.restart_delay
    if getattr(args, "down_after", None) is not None:
        if args.down_after < 0:
            raise UsageError(f"--down-after must not be negative, not {args.down_after:g}")
        changes["down_after_ms"] = args.down_after
    for option, name in (("sentinels", "sentinels"), ("sentinel_quorum", "sentinel_quorum")):
        value = getattr(args, option, None)
        if value is not None:
            if value < 1:
                raise UsageError(f"--{option.replace('_', '-')} must be at least 1, not {value}")
            changes[name] = value
    if getattr(args, "replica_lag", None) is not None:
        try:
            changes["replica_lag"] = Dist.parse(args.replica_lag)
        except ValueError as exc:
            raise UsageError(f"--replica-lag: {exc}") from None
    if getattr(args, "min_replicas", None) is not None:
        if args.min_replicas < 0:
            raise UsageError(f"--min-replicas must not be negative, not {args.min_replicas}")
        changes["min_replicas_to_write"] = args.min_replicas
    lag = getattr(args, "min_replicas_max_lag", None)
    if lag is not None:
        if not 0 <= lag < float("inf"):
            raise UsageError(f"--min-replicas-max-lag must be a number >= 0, not {lag:g}")
        changes["min_replicas_max_lag_s"] = lag
    library = getattr(args, "client_library", None)
    if library is not None:
        if library not in CLIENT_LIBRARIES:
            raise UsageError(f"--client-library: unknown {library!r}; known: "
                             f"{', '.join(CLIENT_LIBRARIES)}")
        changes["client_library"] = library
    if changes.get("min_replicas_to_write"):
        kind = str(changes.get("topology", base.topology)).partition(":")[0]
        if kind not in ("replicas", "sentinel"):
            raise UsageError("--min-replicas needs --redis replicas:N or sentinel:N")
    if changes:
        try:
            parse_topology(changes.get("topology", base.topology),
                           changes.get("persistence", base.persistence),
                           changes.get("restart_delay_ms", base.restart_delay_ms),
                           base.redis_clocks)
        except TopologyError as exc:
            raise UsageError(f"--redis: {exc}") from None
    return changes
