"""The Redis topology options every command that runs a scenario shares.

``--redis single|redlock:N|replicas:N|sentinel:N``, ``--persistence`` and
``--restart-delay`` become scenario fields (``topology``, ``persistence``,
``restart_delay_ms``); a topology that cannot be built is one error line.
"""

from __future__ import annotations

import argparse
from typing import Any

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
    if getattr(args, "replica_lag", None) is not None:
        try:
            changes["replica_lag"] = Dist.parse(args.replica_lag)
        except ValueError as exc:
            raise UsageError(f"--replica-lag: {exc}") from None
    if changes:
        try:
            parse_topology(changes.get("topology", base.topology),
                           changes.get("persistence", base.persistence),
                           changes.get("restart_delay_ms", base.restart_delay_ms),
                           base.redis_clocks)
        except TopologyError as exc:
            raise UsageError(f"--redis: {exc}") from None
    return changes
