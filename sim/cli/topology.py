"""The Redis topology options every command that runs a scenario shares.

``--redis single|redlock:N|replicas:N|sentinel:N``, ``--persistence`` and
``--restart-delay`` become scenario fields (``topology``, ``persistence``,
``restart_delay_ms``); a topology that cannot be built is one error line.
"""

from __future__ import annotations

import argparse
from typing import Any

from models.topology import TOPOLOGIES, TopologyError, parse_topology
from sim.cli.common import UsageError


def add_topology_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--redis", metavar="TOPOLOGY",
                   help=f"the Redis nodes: {', '.join(TOPOLOGIES)} (default single)")
    p.add_argument("--persistence", metavar="POLICY",
                   help="every Redis node's persistence: none (default), aof-always, "
                   "aof-everysec, rdb:MS")
    p.add_argument("--restart-delay", type=float, metavar="MS",
                   help="a crashed Redis node comes back no sooner than this (default 0)")


def topology_changes(args: argparse.Namespace, base: Any) -> dict[str, Any]:
    """Scenario changes for the options given; UsageError when they cannot be built."""
    changes: dict[str, Any] = {}
    if getattr(args, "redis", None) is not None:
        changes["topology"] = args.redis
    if getattr(args, "persistence", None) is not None:
        changes["persistence"] = args.persistence
    if getattr(args, "restart_delay", None) is not None:
        changes["restart_delay_ms"] = args.restart_delay
    if changes:
        try:
            parse_topology(changes.get("topology", base.topology),
                           changes.get("persistence", base.persistence),
                           changes.get("restart_delay_ms", base.restart_delay_ms),
                           base.redis_clocks)
        except TopologyError as exc:
            raise UsageError(f"--redis: {exc}") from None
    return changes
