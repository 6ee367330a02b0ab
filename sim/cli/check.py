"""``locksim check``: random swarms (or ``--exhaustive``), shrunk counterexample files."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from models.checkers import PRIORITY
from models.coverage import GOALS, tally, unreached
from models.faults import DEFAULT_KINDS
from models.scenario import Scenario, ScenarioError
from sim.cli.common import (
    UsageError,
    at_least,
    import_plugins,
    load_scenario,
    output_dir,
    output_file,
    property_names,
)
from sim.cli.listing import fault_kinds_help

ABOUT = {g.name: g.about for g in GOALS}

EXHAUSTIVE_ONLY = ("--graph", "--depth", "--levels", "--max-runs")
SWARM_ONLY = ("--faults", "--schedules", "--dask", "--check-determinism", "--strategy")


def validate_args(args: argparse.Namespace) -> None:
    """Every flag of ``check`` judged before any work: numbers, combinations, outputs."""
    if not args.exhaustive:
        for flag in EXHAUSTIVE_ONLY:
            if getattr(args, flag[2:].replace("-", "_")) is not None:
                raise UsageError(f"{flag} needs --exhaustive")
    else:
        for flag in SWARM_ONLY:
            if getattr(args, flag[2:].replace("-", "_")) not in (None, False):
                raise UsageError(f"{flag} means nothing with --exhaustive")
    at_least(args.schedules, 1, "--schedules")
    if args.schedules is not None and args.schedules > 10**7:
        raise UsageError(f"--schedules must be at most 10,000,000 per run, not {args.schedules:g}"
                         if args.schedules < 10**16 else "--schedules must be at most "
                         "10,000,000 per run")
    at_least(args.workers, 1, "--workers")
    if args.workers is not None and args.workers > 256:
        raise UsageError(f"--workers must be at most 256, not {args.workers}")
    at_least(args.max_runs, 1, "--max-runs")
    at_least(args.depth, 1, "--depth")
    at_least(args.max_counterexamples, 0, "--max-counterexamples")
    at_least(args.seed, 0, "--seed")
    if args.seed > 2**63 - 1:
        raise UsageError("--seed must be at most 2**63-1, as a scenario's seed")
    if args.max_runs is not None and args.max_runs > 10**7:
        raise UsageError("--max-runs must be at most 10,000,000")
    if args.max_counterexamples > 1000:
        raise UsageError("--max-counterexamples must be at most 1000")
    if args.depth is not None and args.depth > 30:
        raise UsageError(f"--depth must be at most 30, not {args.depth}")
    args.schedules = 1000 if args.schedules is None else args.schedules
    args.depth = 10 if args.depth is None else args.depth
    args.levels = "0,1000" if args.levels is None else args.levels
    args.max_runs = 20000 if args.max_runs is None else args.max_runs
    args.faults_given = args.faults is not None
    args.faults = ",".join(DEFAULT_KINDS) if args.faults is None else args.faults
    output_dir(args.out, "--out")
    output_file(args.graph, "--graph")
    if args.graph and Path(args.graph).suffix.lower() not in (".graphml", ".json", ".xml"):
        raise UsageError(f"--graph must end in .graphml or .json, not {Path(args.graph).name!r}")


def refuse_unbuilt_kinds(kinds: list[str], template: Any) -> None:
    """UsageError for a kind the template's topology cannot take (``failover``, ``lag``)."""
    from models.faults import kind as fault_kind

    topology = template.redis_topology()
    for name in kinds:
        need = fault_kind(name).ha
        if need and not topology.has(need):
            shape = "sentinel:N" if need == "sentinel" else "replicas:N or sentinel:N"
            raise UsageError(f"--faults {name} needs --redis {shape}, "
                             f"not {template.topology!r}")


def cmd_check(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from models.locks import LOCKS
    from sim.real.reaper import pool_worker_init, sigint_ignored_in_children
    from sim.search import counterexample
    from sim.search.dask_pool import DaskError
    from sim.search.explore import FAULT_KINDS, Interrupted, Job, explore, plan
    from sim.search.shrink import shrink_schedule

    validate_args(args)
    import_plugins(args.imports)
    if args.handler:  # the asyncio tier (sim/cli/library.py): a handler, not a lock design
        from sim.cli.library import cmd_check_handler

        return cmd_check_handler(args)
    args.lock_given = args.lock is not None
    if args.lock is not None and args.lock not in LOCKS:
        raise UsageError(f"unknown lock {args.lock!r}; known: {', '.join(sorted(LOCKS))}")
    params = lock_params(args.lock_param)
    if args.exhaustive:
        args.lock = args.lock or "seed"
        args.params = params
        return cmd_exhaustive(args)
    from sim.cli.topology import topology_changes
    from sim.search.explore import SWARM

    # the Redis nodes every schedule runs on (drawn Redis faults hit them)
    changes = topology_changes(args, SWARM)
    template = swarm_template(args.scenario, args.lock, params, changes)
    args.lock = template.lock
    strategy = args.strategy or "swarm"
    # `--faults ''` is "no faults" (documented); an empty name inside a list is a typo
    kinds = ([k.strip() for k in args.faults.split(",")]
             if args.faults is not None and args.faults.strip() else [])
    if "" in kinds:  # `--faults ''` or `pause,,delay`: not "no faults", not the defaults
        raise UsageError(f"--faults has an empty name in {args.faults!r}; name fault kinds "
                         f"({', '.join(FAULT_KINDS)})")
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown:
        raise UsageError(
            f"unknown fault kind {', '.join(unknown)}; known: {', '.join(FAULT_KINDS)}")
    refuse_unbuilt_kinds(kinds, template)
    if args.schedules < 1:
        raise UsageError("--schedules must be at least 1")
    properties = property_names(args.properties)
    console = Console(stderr=True) if args.json else Console()
    started = time.perf_counter()
    interrupted = False
    with Progress(console=console, transient=True, disable=args.json) as bar:
        task = bar.add_task(f"exploring {args.lock}", total=args.schedules)
        try:
            outcomes = explore(args.lock, kinds, args.seed, args.schedules, properties,
                               args.workers, args.check_determinism,
                               progress=lambda n: bar.advance(task, n),
                               dask=args.dask, imports=args.imports or (),
                               initializer=pool_worker_init,
                               start_pool=sigint_ignored_in_children,
                               template=template, strategy=strategy, coverage=True)
        except DaskError as exc:
            raise UsageError(str(exc)) from None
        except Interrupted as stop:  # Ctrl-C: report and save what ran, unshrunk
            outcomes, interrupted = stop.done, True
    elapsed = time.perf_counter() - started
    by_prop: dict[str, list[int]] = {}
    for o in outcomes:
        for prop in o.violated:
            by_prop.setdefault(prop, []).append(o.index)
    written: list[dict[str, Any]] = []
    for prop in sorted(by_prop, key=lambda p: PRIORITY.index(p) if p in PRIORITY else 99):
        if len(written) >= args.max_counterexamples:
            break
        index = by_prop[prop][0]
        small = (plan(Job(args.lock, tuple(kinds), args.seed, index, template=template,
                          strategy=strategy)) if interrupted
                 else shrink_schedule(args.lock, kinds, args.seed, index, prop,
                                      template=template, strategy=strategy))
        origin: dict[str, Any] = {"seed": args.seed, "index": index, "faults": kinds}
        if strategy != "swarm":
            origin["strategy"] = strategy
        if args.scenario or params:
            origin["template"] = template.to_dict()
        cx = counterexample.record(small, prop, origin, imports=tuple(args.imports or ()))
        path = counterexample.save(cx, Path(args.out))
        written.append({"property": prop, "file": str(path), "schedule": index,
                        "faults": len(small.faults), "requests": small.requests,
                        "trace_hash": cx.trace_hash,
                        "replay": replay_hint(str(path), args.imports)})
    coverage = tally(o.reached for o in outcomes)
    warnings = [f"coverage goal {name} was never reached: {ABOUT[name]}"
                for name in unreached(coverage)]
    summary = {
        "lock": args.lock, "lock_params": dict(template.lock_params), "strategy": strategy,
        "coverage": coverage, "warnings": warnings,
        "faults": kinds, "seed": args.seed, "schedules": args.schedules,
        "seconds": round(elapsed, 3), "schedules_per_second": round(args.schedules / elapsed, 1),
        "violations": {p: len(ix) for p, ix in sorted(by_prop.items())},
        "violating_schedules": {p: ix[:20] for p, ix in sorted(by_prop.items())},
        "counterexamples": written,
    }
    if interrupted:
        return _interrupted(len(outcomes), args.schedules, written, args.out)
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        table = Table(title=f"locksim check: {args.lock}, faults {','.join(kinds) or 'none'}, "
                            f"seed {args.seed}, {strategy}", title_justify="left")
        table.add_column("property")
        table.add_column("violating schedules", justify="right")
        table.add_column("first ids")
        names = properties or list(PRIORITY[:-1])
        for prop in names:
            ids = by_prop.get(prop, [])
            table.add_row(prop, str(len(ids)), ", ".join(map(str, ids[:5])))
        console.print(table)
        goals = Table(title="coverage goals (schedules that reached each)", title_justify="left")
        goals.add_column("goal")
        goals.add_column("schedules", justify="right")
        for name, n in coverage.items():
            goals.add_row(name, str(n))
        console.print(goals)
        for line in warnings:
            console.print(f"[yellow]warning[/]: {line}")
        console.print(f"{args.schedules} schedules in {elapsed:.1f} s "
                      f"({args.schedules / elapsed:.0f}/s)")
        for w in written:
            console.print(f"[bold]{w['property']}[/]: shrunk to {w['faults']} fault(s), "
                          f"{w['requests']} request(s) -> {w['file']}\n"
                          f"  replay: {replay_hint(w['file'], args.imports)}")
    return 1 if by_prop else 0


def lock_params(specs: list[str] | None) -> dict[str, Any]:
    """``--lock-param K=V`` (repeatable): V as JSON (5000, 2.5, true, "x"), else text."""
    params: dict[str, Any] = {}
    for spec in specs or ():
        name, sep, text = spec.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise UsageError(f"--lock-param takes NAME=VALUE (e.g. ttl_ms=2000), not {spec!r}")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        if isinstance(value, list | dict):
            raise UsageError(f"--lock-param {name}: a number, true/false or text, not {text!r}")
        params[name] = value
    return params


def swarm_template(path: str | None, lock: str | None, params: dict[str, Any],
                   topology: dict[str, Any] | None = None) -> Scenario:
    """The world swarm schedules are drawn onto: ``SWARM``, then the ``--scenario``
    file's fields (its ``requests``: the most a schedule draws; its arrivals and seed
    are the schedule's own), then ``--lock`` and ``--lock-param``. Judged once, here:
    a bad value is one line, exit 2."""
    from sim.search.counterexample import read_json
    from sim.search.explore import SWARM

    data = SWARM.to_dict()
    where = "--lock-param" if params else "--lock" if lock is not None else ""
    if path:
        raw = read_json(Path(path), UsageError, "scenario")
        if not isinstance(raw, dict):
            raise UsageError(f"{path}: a scenario must be a JSON object")
        data.update(raw)
        where = path
    if lock is not None and lock != data.get("lock"):
        data["lock"], data["lock_params"] = lock, {}
    if params:
        if not isinstance(data.get("lock_params"), dict):
            raise UsageError(f"{where}: lock_params must be an object")
        data["lock_params"] = {**data["lock_params"], **params}
        where = "--lock-param"
    for name, value in (topology or {}).items():  # --redis and its settings
        data[name] = value.to_dict() if hasattr(value, "to_dict") else value
    requests = data.get("requests")
    if data.get("load") == "scheduled" and isinstance(requests, int) and 0 <= requests <= 10**4:
        data["arrivals_ms"] = [0.0] * requests  # each schedule draws its own
    if topology:
        where = f"{where} and --redis".removeprefix(" and ") if not path else where
    said = f"{where}: " if where else ""
    try:
        return Scenario.from_dict(data).validate()
    except ScenarioError as exc:
        raise UsageError(f"{said}{exc}") from None
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise UsageError(f"{said}bad scenario: {' '.join(str(exc).split())}") from None


def replay_hint(file: str, imports: list[str] | None) -> str:
    """The command that replays ``file``, with the ``--import``s its lock needs."""
    return " ".join(["locksim", "replay", file, *(f"--import {m}" for m in imports or ())])


def _interrupted(ran: int, total: int, written: list[dict[str, Any]], out: str) -> int:
    """Ctrl-C's one line (stderr), exit 130: what ran, and where its violations went."""
    saved = (f"{len(written)} unshrunk counterexample(s) saved to {out}" if written
             else "no violation found in them")
    print(f"locksim: interrupted: {ran:,} of {total:,} schedules run; {saved}", file=sys.stderr)
    return 130


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
    if not levels or any(not 0 <= v <= 1000 for v in levels):
        raise UsageError("--levels must be integers within 0..1000")
    if args.scenario:
        scenario = load_scenario(Path(args.scenario))
        if args.lock_given and args.lock != scenario.lock:
            scenario = scenario.with_(lock=args.lock, lock_params=())
    else:
        scenario = tiny(args.lock)
    if args.params:
        try:
            scenario = scenario.with_(lock_params=tuple(sorted(
                {**scenario.lock_kwargs, **args.params}.items()))).validate()
        except ScenarioError as exc:
            raise UsageError(f"--lock-param: {exc}") from None
    properties = property_names(args.properties)
    console = Console(stderr=True) if args.json else Console()
    with Progress(console=console, transient=True, disable=args.json) as bar:
        task = bar.add_task(f"exhausting {scenario.lock}", total=None)
        started = time.perf_counter()
        found = exhaust(scenario, args.depth, levels, args.max_runs, properties,
                        progress=lambda n: bar.advance(task, n))
        found = dataclasses.replace(found, seconds=time.perf_counter() - started)
    written: list[dict[str, Any]] = []
    for prop in sorted(found.violations):
        if len(written) >= args.max_counterexamples:
            break
        finding = next(f for f in found.findings if prop in f.violated)
        cx = counterexample.record(
            finding.scenario, prop, {"exhaustive": {"depth": args.depth, "levels": list(levels)}},
            imports=tuple(args.imports or ()))
        path = counterexample.save(cx, Path(args.out))
        written.append({"property": prop, "file": str(path), "trace_hash": cx.trace_hash,
                        "replay": replay_hint(str(path), args.imports)})
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
                          f"  replay: {replay_hint(w['file'], args.imports)}")
    return 1 if found.violations else 0


def add_parser(sub: Any) -> None:
    check_p = sub.add_parser(
        "check", help="explore many randomized fault schedules and shrink what fails",
        description="Run N small schedules (swarm fault mixes) from one seed, each "
        "reproducible by its id; shrink the first violation of each property and write it "
        "as a counterexample file. Exit 0: nothing found; 1: a violation; 2: bad usage; "
        "3: internal error. A fault-free check (--faults '') proves little: the report's "
        "design passes its load test and still loses updates under one GC pause.")
    check_p.add_argument("--lock", help="lock design (default seed)")
    check_p.add_argument("--handler", metavar="MODULE:FUNCTION",  # sim/cli/library.py
                         help="explore your own async handler(redis, db, user) and the lock "
                         "library it uses, unmodified, instead of a lock design")
    check_p.add_argument("--exhaustive", action="store_true",
                         help="instead of random schedules, run every combination of a tiny "
                         "world's first --depth choice points (2 requests, 2 servers)")
    check_p.add_argument("--depth", type=int, default=None,
                         help="--exhaustive: choice points to branch on (default 10)")
    check_p.add_argument("--levels", default=None,
                         help="--exhaustive: values per choice point, 0..1000 from the low to "
                         "the high end of its distribution (default 0,1000)")
    check_p.add_argument("--max-runs", type=int, default=None,
                         help="--exhaustive: stop after this many runs (default 20000)")
    check_p.add_argument("--scenario", metavar="FILE",
                         help="a scenario file shaping the world: for random schedules the "
                         "template they are drawn onto (servers, stock, load, lock and its "
                         "params, storage, latencies; requests = the most a schedule draws; "
                         "its faults are in every schedule); with --exhaustive the tiny world")
    check_p.add_argument("--lock-param", action="append", metavar="NAME=VALUE",
                         help="a parameter of the lock design, e.g. ttl_ms=2000 (repeatable; "
                         "checked by the design itself)")
    check_p.add_argument("--strategy", choices=("swarm", "pct"), default=None,
                         help="swarm: uniform random fault mixes (default); pct: random "
                         "request priorities steering latencies, a few priority-change "
                         "points and 1-2 faults placed inside protocol windows")
    from sim.cli.topology import add_topology_options

    add_topology_options(check_p)
    check_p.add_argument("--graph", metavar="FILE",
                         help="--exhaustive: write the explored graph (GraphML, or .json)")
    check_p.add_argument("--faults", default=None,
                         help=f"comma-separated fault kinds: {fault_kinds_help()} "
                         "(default: every kind; '' for none, which proves little)")
    check_p.add_argument("--schedules", type=int, default=None, help="how many (default 1000)")
    check_p.add_argument("--seed", type=int, default=1, help="exploration seed (default 1)")
    check_p.add_argument("--properties", help="comma-separated checkers (default: all)")
    check_p.add_argument("--workers", type=int, default=None,
                         help="processes (default: all cores)")
    check_p.add_argument("--dask", metavar="ADDRESS",
                         help="run on Dask: a scheduler address (tcp://host:8786) or 'local' "
                         "for a LocalCluster of --workers processes")
    check_p.add_argument("--out", default="counterexamples",
                         help="folder for counterexample files (default ./counterexamples)")
    check_p.add_argument("--max-counterexamples", type=int, default=3,
                         help="shrink and write at most this many (default 3)")
    check_p.add_argument("--check-determinism", action="store_true",
                         help="run every schedule twice and compare trace hashes")
    check_p.add_argument("--json", action="store_true", help="print JSON")
    check_p.add_argument("--import", dest="imports", action="append", metavar="MODULE")
    check_p.set_defaults(func=cmd_check)
