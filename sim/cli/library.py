"""``--handler MODULE:FUNCTION``: ``run`` and ``check`` on a team's own async handler.

The handler runs unmodified in the asyncio tier (``sim.aio``), twice (the
determinism self-check), and is judged by every checker plus the
library-level one. A handler that escaped the simulation (wall-clock sleep,
real socket, real thread) or is not deterministic is an error (exit 2), never
a verdict.
"""

from __future__ import annotations

import argparse
import json
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from models.scenario import Scenario, ScenarioError
from sim.cli.common import UsageError


def versions() -> dict[str, str]:
    """The library versions a handler run used (the ones the tier is tested with)."""
    out = {}
    for name in ("redis", "pottery", "python-redis-lock", "greenlet"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _run(scenario: Scenario) -> tuple[Any, Any]:
    from sim.aio import HandlerError, check_determinism

    try:
        run, same = check_determinism(scenario)
    except HandlerError as exc:
        raise UsageError(str(exc)) from None
    except ScenarioError as exc:
        raise UsageError(str(exc)) from None
    if not same.same:
        raise UsageError(f"{scenario.handler}: {same}; its run is not a result")
    return run, same


def payload(run: Any, same: Any, verdicts: Any, wall: float) -> dict[str, Any]:
    from models.metrics import metrics

    result = run.result
    m = metrics(result.history).as_dict()
    return {
        "handler": run.handler,
        "libraries": versions(),
        "scenario": result.scenario.to_dict(),
        "trace_hash": result.trace_hash,
        "deterministic": same.same,
        "simulated_ms": result.end_ms,
        "wall_s": round(wall, 3),
        "completed_requests": result.completed,
        "stock_left": result.stock_left,
        "redis_counts": result.redis_counts,
        "issued": m.get("issued"),
        "attempts": m.get("attempts"),
        "library_errors": [{"time_ms": t, "process": p, "call": c, "error": e}
                           for t, p, c, e in run.library_errors],
        "handler_errors": handler_errors(result.history),
        "violated": [v.property for v in verdicts.violated],
        "verdicts": [{"property": v.property, "valid": v.valid, "summary": v.summary,
                      "story": v.story} for v in verdicts.by_priority()],
    }


def handler_errors(history: Any) -> list[dict[str, Any]]:
    """Requests whose handler raised (answered ``fail``): what the user's code threw."""
    return [{"time_ms": op.time, "process": op.process, "error": str(op.value)}
            for op in history if op.f == "request" and op.type == "fail"]


def refuse_broken_handler(data: dict[str, Any]) -> None:
    """A handler that raised on every request and never reached Redis is broken, not a
    lock that held: its verdicts would say 'every property held' about nothing."""
    errors = data["handler_errors"]
    requests = data["scenario"]["requests"]
    if requests and len(errors) >= requests and not sum(data["redis_counts"].values()):
        raise UsageError(f"{data['handler']} raised on every request before it sent a "
                         f"Redis command ({errors[0]['error']}); its run is not a result")


def render(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    sc = data["scenario"]
    libs = ", ".join(f"{k} {v}" for k, v in data["libraries"].items())
    faults = ", ".join(f"{f['kind']}@{f.get('node', '?')}" for f in sc["faults"]) or "none"
    console.print(f"[bold]handler {data['handler']}[/] ({libs}): {sc['servers']} server(s), "
                  f"{sc['requests']} requests, {sc['vus']} VUs, seed {sc['seed']}, "
                  f"faults {faults}")
    console.print(f"{data['completed_requests']} requests answered, {data['issued']} coupons "
                  f"issued, stock left {data['stock_left']}, {data['attempts']} SET NX attempts, "
                  f"{data['simulated_ms'] / 1000:.2f} s simulated in {data['wall_s']:.2f} s; "
                  f"deterministic (2 runs, trace hash {data['trace_hash'][:16]})")
    for e in data["library_errors"][:5]:
        console.print(f"  library: {e['process']} {e['call']} at {e['time_ms']:.3f} ms raised "
                      f"{e['error']}")
    if len(data["library_errors"]) > 5:
        console.print(f"  library: ... {len(data['library_errors']) - 5} more")
    failed = data["handler_errors"]
    if failed:
        console.print(f"[yellow]warning: the handler raised in {len(failed)} of "
                      f"{data['scenario']['requests']} requests[/] (first: {failed[0]['process']} "
                      f"at {failed[0]['time_ms']:.3f} ms: {failed[0]['error']})")
    table = Table(title="properties", title_justify="left")
    table.add_column("property")
    table.add_column("verdict")
    table.add_column("summary")
    for v in data["verdicts"]:
        mark = {True: "[green]holds[/]", False: "[red]VIOLATED[/]", None: "[dim]n/a[/]"}[v["valid"]]
        table.add_row(v["property"], mark, v["summary"])
    console.print(table)
    bad = data["violated"]
    console.print(f"[bold red]verdict: VIOLATED ({', '.join(bad)})[/]" if bad else
                  "[bold green]verdict: every property held[/]")
    for v in data["verdicts"]:
        if v["valid"] is False and v["story"]:
            console.print(f"[bold red]{v['property']}[/]: {v['story']}")


def cmd_run_handler(args: argparse.Namespace, scenario: Scenario) -> int:
    """``locksim run --handler``: one scenario, run twice, judged."""
    from sim.aio.runner import judge

    if getattr(args, "lock", None):
        raise UsageError("--lock and --handler: the handler brings its own lock library")
    if getattr(args, "monitor_log", None):
        raise UsageError("--monitor-log is not written for --handler runs yet")
    real = bool(getattr(args, "real_redis", False))
    if real:
        _refuse_for_real(args, scenario)
    started = time.perf_counter()
    run, same = _run(scenario)
    wall = (time.perf_counter() - started) / 2
    verdicts = judge(run)
    data = payload(run, same, verdicts, wall)
    refuse_broken_handler(data)
    if real:
        data["comparison"] = _compare(args, run)
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        render(data)
        if real:
            render_real(data["comparison"])
    bad = data["violated"] or (real and any(
        v["valid"] is False for v in data["comparison"]["real"]["verdicts"]))
    return 1 if bad else 0


def render_real(comparison: dict[str, Any]) -> None:
    """After the simulated run's table: both worlds' figures, then the real verdicts."""
    from rich.console import Console

    from sim.views.report import render_comparison

    real = comparison["real"]
    render_comparison(comparison, worlds=("real",))
    n_a = sum(1 for v in real["verdicts"] if v["valid"] is None)
    Console().print(f"real: {real['completed_requests']} requests answered, stock left "
                    f"{real['stock_left']}, {real['wall_s']:.2f} s; {n_a} properties n/a "
                    "(no Redis log or wire on the real side)")


def _refuse_for_real(args: argparse.Namespace, scenario: Scenario) -> None:
    """What the real world cannot run, refused before either world runs (one line)."""
    from sim.real.cluster import ClusterError, refuse_for_real

    try:
        refuse_for_real(scenario, redis_url=args.redis_url)
    except ClusterError as exc:
        raise UsageError(str(exc)) from None


def _compare(args: argparse.Namespace, run: Any) -> dict[str, Any]:
    """``--real-redis``: the same scenario and library code on real processes and Redis."""
    from rich.console import Console
    from rich.progress import Progress

    from sim.aio.real_replay import compare_handler_runs
    from sim.cli.common import real_options
    from sim.real.cluster import ClusterError

    options = {k: v for k, v in real_options(args).items() if k in ("redis_server", "redis_url")}
    try:
        console = Console(stderr=True)  # no bar off a terminal: an error stays one line
        with Progress(console=console, transient=True,
                      disable=args.json or not console.is_terminal) as bar:
            task = bar.add_task("real redis run", total=run.result.scenario.requests)
            return compare_handler_runs(run, **options, progress=lambda n: bar.advance(task, n))
    except ClusterError as exc:
        raise UsageError(str(exc)) from None


def cmd_check_handler(args: argparse.Namespace) -> int:
    """``locksim check --handler``: swarm schedules, the first violation of each property
    shrunk and saved as a counterexample that ``locksim replay`` runs again."""
    from rich.console import Console

    from sim.aio import HandlerError
    from sim.aio.search import explore_handler
    from sim.search import counterexample
    from sim.search.explore import FAULT_KINDS

    if args.exhaustive or args.dask:
        raise UsageError("--handler explores random schedules in this process; "
                         f"{'--exhaustive' if args.exhaustive else '--dask'} needs a lock design")
    if getattr(args, "lock_given", False) or getattr(args, "lock", None):
        raise UsageError("--lock and --handler: the handler brings its own lock library")
    from models.faults import DEFAULT_KINDS
    from sim.aio.runner import UNSUPPORTED

    if getattr(args, "faults_given", args.faults is not None):
        kinds = [k.strip() for k in (args.faults or "").split(",")]
        if "" in kinds:
            usable = ", ".join(k for k in DEFAULT_KINDS if k not in UNSUPPORTED)
            raise UsageError(f"--faults has an empty name in {args.faults!r}; name fault "
                             f"kinds ({usable})")
    else:  # every kind the tier can apply
        kinds = [k for k in DEFAULT_KINDS if k not in UNSUPPORTED]
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown:
        raise UsageError(f"unknown fault kind {', '.join(unknown)}; known: "
                         f"{', '.join(FAULT_KINDS)}")
    cannot = [k for k in kinds if k in UNSUPPORTED]
    if cannot:
        raise UsageError(f"--faults {', '.join(cannot)}: simulator-only for lock designs; "
                         "a handler runs on redis-py's own connections")
    from sim.cli.check import refuse_unbuilt_kinds, swarm_template
    from sim.cli.topology import topology_changes
    from sim.search.explore import SWARM

    # --scenario and --redis shape the world the schedules are drawn onto, as for a design
    template = swarm_template(getattr(args, "scenario", None), None, {},
                              topology_changes(args, SWARM))
    refuse_unbuilt_kinds(kinds, template)
    console = Console(stderr=True) if args.json else Console()
    started = time.perf_counter()
    servers = getattr(args, "servers", None)
    try:
        found = explore_handler(args.handler, kinds, args.seed, args.schedules or 50,
                                servers=servers,
                                progress=None if args.json else console.print,
                                template=template)
    except HandlerError as exc:
        raise UsageError(str(exc)) from None
    from models.checkers import CHECKERS, PRIORITY

    written = []
    symptoms = []
    rank = {p: i for i, p in enumerate(PRIORITY)}
    wanted = set(args.properties.split(",")) if args.properties else None
    for prop, (index, small, run, verdict) in sorted(found.items(),
                                                     key=lambda kv: rank.get(kv[0], 99)):
        if wanted is not None and prop not in wanted:
            continue
        if prop not in CHECKERS:  # a library symptom alone: told, not a counterexample file
            symptoms.append({"property": prop, "schedule": index, "summary": verdict.summary,
                             "story": verdict.story})
            continue
        cx = counterexample.Counterexample(
            small, prop, run.trace_hash, verdict.story, verdict.witness,
            {"seed": args.seed, "index": index, "faults": kinds, "handler": args.handler})
        path = counterexample.save(cx, Path(args.out))
        written.append({"property": prop, "file": str(path), "schedule": index,
                        "faults": len(small.faults), "requests": small.requests,
                        "trace_hash": run.trace_hash, "story": verdict.story,
                        "replay": f"locksim replay {path}"})
    elapsed = time.perf_counter() - started
    summary = {"handler": args.handler, "libraries": versions(), "faults": kinds,
               "seed": args.seed, "seconds": round(elapsed, 3), "counterexamples": written,
               "library_symptoms": symptoms}
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        for sym in symptoms:
            console.print(f"[bold yellow]{sym['property']}[/] (schedule {sym['schedule']}, "
                          f"shrunk): {sym['story']}")
        if not written and not symptoms:
            console.print(f"no violation in {args.schedules or 50} schedules "
                          f"({elapsed:.1f} s)")
        for w in written:
            console.print(f"[bold red]{w['property']}[/] (schedule {w['schedule']}): shrunk to "
                          f"{w['faults']} fault(s), {w['requests']} request(s) -> {w['file']}\n"
                          f"  {w['story']}\n  replay: {w['replay']}")
    return 1 if written or symptoms else 0


def replayed(cx: Any) -> tuple[Any, Any]:
    """A counterexample whose scenario names a handler: its run and its property's verdict."""
    from sim.aio import HandlerError, run_handler
    from sim.aio.runner import judge

    try:
        run = run_handler(cx.scenario)
    except HandlerError as exc:
        raise UsageError(str(exc)) from None
    verdict = next((v for v in judge(run) if v.property == cx.property), None)
    return run.result, verdict
