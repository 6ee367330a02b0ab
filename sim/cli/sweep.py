"""``locksim sweep``: a grid of scenarios, CSV, JSON and PNG plots."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from sim.cli.common import UsageError, at_least, import_plugins, output_dir


def _axis(text: str | None, name: str, kind: type) -> tuple[Any, ...] | None:
    """``"1,10,100"`` -> ``(1, 10, 100)``; one line naming the axis when it cannot."""
    if text is None:
        return None
    items = [t.strip() for t in text.split(",")]
    if not any(items):
        raise UsageError(f"--{name}: give at least one value")
    if not all(items):  # "1,,2": a value lost in typing, not a grid of two
        raise UsageError(f"--{name}: an empty value in {text!r}")
    try:
        values = tuple(kind(t) for t in items)
    except ValueError:
        raise UsageError(f"--{name}: cannot read {text!r} as a comma list of "
                         f"{'whole numbers' if kind is int else 'numbers'}") from None
    if kind is not str and any(not math.isfinite(v) or v < 0 or v > 1e10 for v in values):
        # nan, inf, -1 or 1e99 gc pauses a second, ms of work: a typo, never a grid point
        raise UsageError(f"--{name}: numbers from 0 to 1e10, not {text!r}")
    return values


def _ha_axes(args: argparse.Namespace) -> dict[str, Any]:
    """``--redis`` and the per-node options as grid fields (axes and fixed settings)."""
    changes: dict[str, Any] = {}
    if args.redis is not None:
        changes["topology"] = _axis(args.redis, "redis", str)
    for name, dest in (("replica-lag", "replica_lag_ms"), ("down-after", "down_after_ms"),
                       ("failover", "failover_at_ms")):
        text = getattr(args, name.replace("-", "_"))
        value = _axis(text, name, float)
        if value is not None:
            least = "positive" if name == "replica-lag" else "at least 0"
            if any(not math.isfinite(v) or v < 0 or (v == 0 and least == "positive")
                   for v in value):
                raise UsageError(f"--{name}: {least} numbers of ms, not {text!r}")
            changes[dest] = value
    if args.persistence is not None:
        changes["persistence"] = args.persistence
    for option in ("sentinels", "sentinel_quorum"):  # fixed settings, checked as run checks
        value = getattr(args, option)
        if value is not None:
            if value < 1:
                raise UsageError(f"--{option.replace('_', '-')} must be at least 1, not {value}")
            changes[option] = value
    if args.restart_delay is not None:
        if not math.isfinite(args.restart_delay) or args.restart_delay < 0:
            raise UsageError(f"--restart-delay must be a number >= 0, not {args.restart_delay:g}")
        changes["restart_delay_ms"] = args.restart_delay
    from models.topology import TopologyError, parse_topology

    for spec in changes.get("topology", ("single",)):
        try:
            parse_topology(spec, changes.get("persistence", "none"),
                           changes.get("restart_delay_ms", 0.0))
        except TopologyError as exc:
            raise UsageError(f"--redis: {exc}") from None
    return changes


def cmd_sweep(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from sim.real.reaper import pool_worker_init
    from sim.search.explore import Interrupted
    from sim.sweep import AXES, Grid, SweepError, run_rows, summarize, varying, write_plots

    at_least(args.workers, 1, "--workers")
    if args.workers is not None and args.workers > 256:
        raise UsageError(f"--workers must be at most 256, not {args.workers}")
    at_least(args.seeds, 1, "--seeds")
    if args.seeds > 10_000:
        raise UsageError("--seeds must be at most 10,000 per grid point")
    at_least(args.seed, 0, "--seed")
    output_dir(args.out, "--out")
    import_plugins(args.imports)
    changes: dict[str, Any] = {}
    for name, dest, kind in (("strategies", "strategy", str), ("vus", "vus", int),
                             ("rate", "rate_rps", float), ("servers", "servers", int),
                             ("ttl", "ttl_ms", int), ("cs", "cs_ms", float),
                             ("gc-rate", "gc_rate", float), ("gc-pause", "gc_pause", str),
                             ("requests", "requests", int)):
        value = _axis(getattr(args, name.replace("-", "_")), name, kind)
        if value is not None:
            changes[dest] = value
    changes.update(_ha_axes(args))
    try:
        grid = Grid(seeds=args.seeds, seed=args.seed, load=args.load, **changes).validate()
    except SweepError as exc:
        raise UsageError(str(exc)) from None
    from models.scenario import ScenarioError

    for point in grid.points():  # every grid point is a scenario the run rules accept
        try:
            grid.scenario(point, grid.seed).validate()
        except (ScenarioError, ValueError) as exc:
            raise UsageError(" ".join(str(exc).split())) from None
    x = args.x if args.x is not None else next(iter(varying(grid)), "vus")
    if x not in AXES or x == "strategy":
        raise UsageError(f"--x: one of {', '.join(a for a in AXES if a != 'strategy')}")
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1")
    import pandas as pd

    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out}: {exc.strerror or exc}") from None
    console = Console(stderr=True)
    started = time.perf_counter()
    interrupted = False
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  transient=True) as bar:
        task = bar.add_task(f"sweep: {grid.size()} runs", total=grid.size())
        try:
            rows = run_rows(grid, args.workers, lambda k: bar.advance(task, k),
                            initializer=pool_worker_init)
        except Interrupted as stop:
            rows = stop.done
            interrupted = True
    if interrupted:  # Ctrl-C: the rows done so far, one line, exit 130
        pd.DataFrame(rows).to_csv(out / "runs.csv", index=False)
        print(f"locksim: interrupted: {len(rows):,} of {grid.size():,} runs done; "
              f"partial rows saved to {out}/runs.csv", file=sys.stderr)
        return 130
    wall = time.perf_counter() - started
    frame = pd.DataFrame(rows)
    summary = summarize(frame)
    frame.to_csv(out / "runs.csv", index=False)
    summary.to_csv(out / "summary.csv", index=False)
    payload = {"grid": grid.as_dict(), "x": x, "runs": len(frame), "seconds": round(wall, 2),
               "summary": json.loads(summary.to_json(orient="records"))}
    (out / "summary.json").write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    plots = write_plots(summary, x, out)
    if args.json:
        print(json.dumps({k: payload[k] for k in ("x", "runs", "seconds")}
                         | {"files": sorted(str(p) for p in out.iterdir())}, indent=2))
        return 0
    from rich.table import Table

    table = Table(title=f"locksim sweep: {len(frame)} runs in {wall:.1f} s",
                  title_justify="left")
    cols = ["strategy", x, "throughput_rps", "wait_p99_ms", "attempts_per_success",
            "commands_per_coupon", "violation"]
    heads = {"throughput_rps": "req/s", "wait_p99_ms": "wait p99 ms",
             "attempts_per_success": "tries/lock", "commands_per_coupon": "cmds/coupon",
             "violation": "P(unsafe)"}
    for c in cols:
        table.add_column(heads.get(c, c), justify="left" if c == "strategy" else "right")
    for rec in summary.to_dict("records"):
        table.add_row(*(_cell(rec[c]) for c in cols))
    Console().print(table)
    print(f"wrote {out}/runs.csv, summary.csv, summary.json and "
          f"{', '.join(p.name for p in plots)}")
    return 0


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "-" if value != value else f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def add_parser(sub: Any) -> None:
    sweep_p = sub.add_parser(
        "sweep", help="run a grid of scenarios over several seeds; CSV, JSON and PNG plots",
        description="Every combination of the comma-separated axes, each with --seeds seeds, "
        "in parallel. Writes runs.csv (one row per run), summary.csv and summary.json (means "
        "and 95%% intervals per grid point) and PNG plots (one line per strategy) to --out.")
    sweep_p.add_argument("--strategies", help="lock designs (default: seed,polling,blpop,"
                         "redisson,lua-atomic)")
    sweep_p.add_argument("--vus", help="virtual users, closed load (default 1,10,25,50,100)")
    sweep_p.add_argument("--rate", help="arrivals per second, open load (default 80)")
    sweep_p.add_argument("--servers", help="app servers (default 2)")
    sweep_p.add_argument("--ttl", help="lock TTL in ms (default 5000)")
    sweep_p.add_argument("--cs", help="database time in the critical section, ms (default 6.8)")
    sweep_p.add_argument("--gc-rate", help="background GC pauses per second per server "
                         "(default 0)")
    sweep_p.add_argument("--gc-pause", help="GC pause length distributions in ms, e.g. "
                         "lognormal:200:1,exp:50 (default lognormal:200:1)")
    sweep_p.add_argument("--requests", help="requests per run (default 200)")
    from sim.cli.topology import add_topology_options

    add_topology_options(sweep_p, axes=True)
    sweep_p.add_argument("--load", choices=("closed", "open"), default="closed",
                         help="closed: --vus looping (default); open: --rate arrivals")
    sweep_p.add_argument("--seeds", type=int, default=3, help="seeds per grid point (default 3)")
    sweep_p.add_argument("--seed", type=int, default=1, help="first seed (default 1)")
    sweep_p.add_argument("--x", help="the plots' x axis (default: the first axis with "
                         "several values)")
    sweep_p.add_argument("--workers", type=int, default=None,
                         help="processes (default: all cores)")
    sweep_p.add_argument("--out", default="out/sweep", help="output folder (default out/sweep)")
    sweep_p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    sweep_p.add_argument("--import", dest="imports", action="append", metavar="MODULE")
    sweep_p.set_defaults(func=cmd_sweep)
