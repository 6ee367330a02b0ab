"""``locksim monitor analyze``: the report's lock figures from a MONITOR capture."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sim.cli.common import UsageError, at_least


def cmd_monitor_analyze(args: argparse.Namespace) -> int:
    from sim.monitor.analyze import MonitorError, analyze, render

    at_least(args.db, 0, "--db")
    if args.db > 15:
        raise UsageError(f"--db must be 0..15 (Redis's default databases), not {args.db}")
    try:
        report = analyze(Path(args.file), lock_key=args.lock_key,
                         session_prefix=args.session_prefix, db=args.db)
    except MonitorError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, sort_keys=True))
    else:
        render(report)
    return 0


def add_parser(sub: Any) -> None:
    monitor_p = sub.add_parser("monitor", help="read a Redis MONITOR capture")
    monitor_sub = monitor_p.add_subparsers(dest="monitor_command", metavar="ACTION",
                                           required=True)
    analyze_p = monitor_sub.add_parser(
        "analyze", help="the report's lock figures from a capture (real or --monitor-log)",
        description="Replay a MONITOR capture through the Redis model and print SET NX "
        "attempts and successes, PUBLISH, hold times, the split by client, overlaps of "
        "holders and sessions. Exit 0, or 2 when FILE is not a MONITOR capture.")
    analyze_p.add_argument("file")
    analyze_p.add_argument("--lock-key", default="lock:coupon:issue:1",
                           help="the lock's key (default lock:coupon:issue:1)")
    analyze_p.add_argument("--session-prefix", default="sess:",
                           help="prefix of session keys (default sess:)")
    analyze_p.add_argument("--db", type=int, default=0, help="the lock's database (default 0)")
    analyze_p.add_argument("--json", action="store_true", help="print JSON")
    analyze_p.set_defaults(func=cmd_monitor_analyze)
