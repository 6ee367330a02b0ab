"""``locksim run``: one scenario, its figures beside the report's, every verdict."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from models import faults
from models.dist import Dist
from models.faults import Fault
from models.field_report import REPORT
from models.scenario import Scenario, ScenarioError
from sim.cli.common import (
    UsageError,
    add_real_options,
    import_plugins,
    load_scenario,
    only_with,
    output_file,
    property_names,
    real_options,
)
from sim.cli.listing import fault_help
from sim.cli.topology import add_topology_options, topology_changes


def parse_fault(text: str) -> Fault:
    """A ``--fault`` spec, read by the fault registry (``models.faults``)."""
    try:
        return faults.parse_fault(text)
    except faults.FaultError as exc:
        raise UsageError(f"{exc}; see `locksim run --help` for the forms") from None


def _scenario_from_args(args: argparse.Namespace) -> Scenario:
    base = Scenario()
    if args.scenario:
        base = load_scenario(Path(args.scenario))
    changes: dict[str, Any] = {}
    for name in ("servers", "vus", "stock", "seed"):
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    if args.users is not None:
        changes["requests"] = args.users
    if args.lock is not None:
        changes["lock"] = args.lock
    if args.handler is not None:
        changes["handler"] = args.handler
    params = dict(base.lock_params)
    if args.ttl is not None:
        params["ttl_ms"] = args.ttl
    if args.wait_timeout is not None:
        params["wait_timeout_ms"] = args.wait_timeout
    if args.subscribe is not None:
        params["subscribe"] = args.subscribe
    changes["lock_params"] = tuple(sorted(params.items()))
    if args.load is not None:
        changes["load"] = args.load
    if args.rate is not None:
        changes["rate_rps"] = args.rate
    if args.redis_latency is not None:
        try:
            changes["redis_latency"] = Dist.parse(args.redis_latency)
        except ValueError as exc:
            raise UsageError(f"--redis-latency: {exc}") from None
    changes.update(topology_changes(args, base))
    if args.fault:
        changes["faults"] = base.faults + tuple(parse_fault(f) for f in args.fault)
    if args.rate is not None and changes.get("load", base.load) != "open":
        raise UsageError("--rate needs --load open (a closed load has no arrival rate)")
    try:
        return base.with_(**changes).validate()
    except (ScenarioError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def cmd_run(args: argparse.Namespace) -> int:
    from models.checkers import check_all
    from models.locks import UnknownLock, make_lock
    from models.metrics import metrics, publish_commands
    from sim.views.report import render_run, run_payload
    from sim.world import run

    only_with(args, "--real-redis", ("--redis-server", "--redis-url"))
    output_file(args.monitor_log, "--monitor-log")
    import_plugins(args.imports)
    scenario = _scenario_from_args(args)
    try:
        lock = make_lock(scenario.lock, **scenario.lock_kwargs)
    except UnknownLock as exc:
        raise UsageError(str(exc)) from None
    except TypeError as exc:
        raise UsageError(f"bad parameter for lock {scenario.lock!r}: {exc}") from None
    properties = property_names(args.properties)
    if scenario.handler:  # the asyncio tier: the team's own handler and library
        from sim.cli.library import cmd_run_handler

        return cmd_run_handler(args, scenario)
    if args.real_redis:
        return cmd_run_real(args, scenario)
    started = time.perf_counter()
    result = run(scenario, lock, monitor=True)  # the MONITOR lines count script PUBLISHes
    wall = time.perf_counter() - started
    m = metrics(result.history)
    verdicts = check_all(result.history, properties, truth=result)
    if args.monitor_log:
        from sim.monitor.log import write_monitor_log

        write_monitor_log(result, Path(args.monitor_log))
    publish = publish_commands(argv for *_, argv in result.monitor or ())
    payload = run_payload(result, m, verdicts, wall, REPORT, publish)
    if args.json:
        print(json.dumps(payload, indent=2, sort_keys=True))
    else:
        render_run(payload)
    return 1 if any(v.valid is False for v in verdicts) else 0


def cmd_run_real(args: argparse.Namespace, scenario: Scenario) -> int:
    from rich.console import Console
    from rich.progress import Progress

    from sim.compare import compare_runs
    from sim.real.cluster import ClusterError
    from sim.views.report import render_comparison

    console = Console(stderr=True)
    try:
        with Progress(console=console, transient=True,  # off a terminal: errors one line
                      disable=args.json or not console.is_terminal) as bar:
            task = bar.add_task("real redis run", total=scenario.requests)
            payload = compare_runs(scenario, **real_options(args),
                                   progress=lambda n: bar.advance(task, n))
    except ClusterError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(payload, indent=2, sort_keys=True, default=str))
    else:
        render_comparison(payload)
    worlds = (payload["simulated"], payload["real"])
    return 1 if any(v["valid"] is False for w in worlds for v in w["verdicts"]) else 0


class _WholeSpecs(argparse.HelpFormatter):
    """Wraps help text without breaking a fault spec at a hyphen (``lost-reply:AT``)."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        import textwrap

        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def add_parser(sub: Any) -> None:
    run_p = sub.add_parser(
        "run", formatter_class=_WholeSpecs,
        help="run one scenario (default: the field report's) and print its figures",
        description="Run one scenario and print its metrics beside the report's table 7.1, "
        "and the verdict of every checker. Exit 1 if a property was violated.",
    )
    run_p.add_argument("--scenario", help="a scenario JSON file (options below override it)")
    run_p.add_argument("--servers", type=int, help="app servers (default 2)")
    run_p.add_argument("--users", type=int, help="requests, one per user (default 957)")
    run_p.add_argument("--vus", type=int, help="k6 virtual users (default 100)")
    run_p.add_argument("--ttl", type=int, help="lock TTL in ms (default 5000)")
    run_p.add_argument("--lock", help="lock design: seed, seed-fenced, polling, blpop, redisson, "
                       "lua-atomic, redlock (default seed)")
    run_p.add_argument("--handler", metavar="MODULE:FUNCTION",
                       help="run your own async handler(redis, db, user) and the lock library "
                       "it uses, unmodified, instead of a lock design (README: Checking your "
                       "own library code)")
    run_p.add_argument("--subscribe", choices=("before", "after"),
                       help="waiters subscribe before or after their failed SET (default after)")
    run_p.add_argument("--wait-timeout", type=float,
                       help="bound on each pub/sub wait in ms (default: none)")
    run_p.add_argument("--stock", type=int, help="coupons in stock (default 1000)")
    run_p.add_argument("--seed", type=int, help="the run's seed (default 1)")
    run_p.add_argument("--redis-latency",
                       help="one-way app<->redis latency, e.g. uniform:0.05:0.15")
    run_p.add_argument("--load", choices=("closed", "open"),
                       help="closed: k6 VUs looping (default); open: an arrival rate")
    run_p.add_argument("--rate", type=float, help="arrivals per second for --load open")
    run_p.add_argument("--fault", action="append", metavar="SPEC",
                       help=f"add a fault: {fault_help()}; times in ms, NODE is app1.., redis "
                       "(redis1.. and app1/redis2 with --redis redlock:N), storage or holder "
                       "(default holder); @cmd=K, @lease=F, @renewal, @release or @write makes "
                       "it wait for that protocol event; `locksim list` explains each")
    run_p.add_argument("--properties", help="comma-separated checkers (default: all)")
    run_p.add_argument("--import", dest="imports", action="append", metavar="MODULE",
                       help="import a module that registers lock designs (see the README)")
    run_p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    run_p.add_argument("--monitor-log", metavar="FILE",
                       help="also write the run's Redis commands as a MONITOR log "
                       "(with --real-redis: the real server's MONITOR capture)")
    add_topology_options(run_p)
    add_real_options(run_p)
    run_p.set_defaults(func=cmd_run)
