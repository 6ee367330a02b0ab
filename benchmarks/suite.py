"""The benchmark suite: each figure, its target, and the floor measured in the same run.

Throughputs are best-of-N (the least disturbed repeat); the floor is measured
before and after the other figures and its best is kept, so a figure and its
floor see the same machine. ``--quick`` keeps the whole run near a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.bound import events_alone, programs_alone
from benchmarks.floor import round_trips_per_second

LOCK = "seed"
SMALL_FAULTS = ("gc-pause", "delay")
COUPON_RULES = ("stock-conservation", "no-over-issue", "no-duplicate-issue")
DEFAULT_JSON = Path("benchmarks") / "results.json"


@dataclass(frozen=True)
class Sizes:
    """How much work each figure does; ``tiny`` only proves the code runs."""

    floor_trips: int
    repeats: int  # best-of for the floor, the scenario and the exploration
    scenario_requests: int  # the report's 957, smaller only in ``tiny``
    scenario_vus: int
    explore_schedules: int
    workers_schedules: int
    memory_schedules: int


SIZES = {
    "full": Sizes(300_000, 3, 957, 100, 3000, 6000, 10_000),
    "quick": Sizes(100_000, 1, 957, 100, 1000, 2000, 10_000),
    "tiny": Sizes(5_000, 1, 40, 10, 20, 16, 30),
}


@dataclass(frozen=True)
class Figure:
    """One measured number, with its target when it has one."""

    name: str
    value: float
    unit: str
    target: str = ""
    passed: bool | None = None
    vs_floor: float | None = None  # value / floor round trips per second, for rates
    note: str = ""


def _best(repeats: int, fn: Callable[[], float]) -> float:
    return min(fn() for _ in range(max(1, repeats)))


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


# -- figures -------------------------------------------------------------------


def report_scenario(sizes: Sizes, floor: float) -> tuple[list[Figure], dict[str, Any]]:
    """The field report's fault-free run: 957 issues, 2 servers, ~100 VUs."""
    from models.checkers import check_all
    from models.scenario import Scenario
    from sim.world import run

    scenario = Scenario(requests=sizes.scenario_requests, vus=sizes.scenario_vus)
    results = []
    for _ in range(max(1, sizes.repeats)):
        results.append(_timed(lambda: run(scenario)))
    wall, result = min(results, key=lambda r: r[0])
    check_s, _ = _timed(lambda: check_all(result.history))
    simulated_s = result.end_ms / 1000.0
    speedup = simulated_s / wall
    rate = result.redis_commands / wall
    figures = [
        Figure("report scenario: wall time", wall, "s", note=f"{result.completed} requests"),
        Figure("report scenario: simulated time", simulated_s, "s"),
        Figure("report scenario: speed-up over real time", speedup, "x", ">= 20",
               speedup >= 20.0),
        Figure("report scenario: Redis commands/s", rate, "cmd/s", ">= 0.5 floor",
               rate >= 0.5 * floor, vs_floor=rate / floor),
        Figure("report scenario: 7 checkers", check_s, "s",
               note=f"{len(result.history)} history ops"),
    ]
    # The programs alone: what no kernel, network or model can save (benchmarks/bound.py).
    # The kernel alone: as many of the simulator's cheapest events as the run
    # scheduled, each doing nothing but schedule the next.
    alone = programs_alone(scenario, sizes.repeats)
    kernel_s = events_alone(result.events, repeats=sizes.repeats)
    least = alone["seconds"] + kernel_s
    figures += [
        Figure("report scenario: lock programs + history alone", alone["seconds"], "s",
               note=f"{alone['ops']} ops recorded; the rest of the run is "
                    f"{max(0.0, wall - alone['seconds']):.2f} s"),
        Figure("report scenario: its events alone", kernel_s, "s",
               note=f"{result.events} events"),
        Figure("report scenario: best speed-up with a free network and Redis model",
               simulated_s / least, "x", note="simulated time / (programs + events)"),
        Figure("report scenario: best Redis commands/s with a free network and Redis model",
               result.redis_commands / least, "cmd/s",
               vs_floor=result.redis_commands / least / floor),
    ]
    facts = {"redis_commands": result.redis_commands, "history_ops": len(result.history),
             "trace_hash": result.trace_hash, "programs_alone_s": alone["seconds"],
             "events": result.events}
    return figures, facts


def exploration(sizes: Sizes, floor: float) -> list[Figure]:
    """Schedules per second on one core: 2 servers, 2-4 requests (mean 3), pauses and delays."""
    from sim.search.explore import explore

    n = sizes.explore_schedules
    wall = _best(sizes.repeats, lambda: _timed(
        lambda: explore(LOCK, SMALL_FAULTS, 1, n, workers=1))[0])
    rate = n / wall
    return [Figure("small exploration, 1 core", rate, "schedules/s", ">= 1000",
                   rate >= 1000.0, vs_floor=rate / floor, note=f"{n} schedules")]


def find_and_shrink(sizes: Sizes) -> tuple[list[Figure], dict[str, Any]]:
    """The seed lock's GC-pause coupon-rule violation: first violating id, then shrink."""
    from sim.search.shrink import find, first_violation

    wall, small = _timed(lambda: find(LOCK, ("gc-pause",), 1, 100_000, COUPON_RULES))
    index, prop = first_violation(LOCK, ("gc-pause",), 1, 100_000, COUPON_RULES)
    size = f"{len(small.faults)} fault(s), {small.requests} request(s)"
    return ([Figure("GC-pause coupon rule: find + shrink", wall, "s", "< 10",
                    wall < 10.0, note=f"{prop} at schedule {index}; shrunk to {size}")],
            {"property": prop, "schedule": index, "faults": len(small.faults),
             "requests": small.requests})


def workers(sizes: Sizes) -> list[Figure]:
    """The same exploration on 1 and on 2 worker processes (start-up included)."""
    from sim.search.explore import explore

    n = sizes.workers_schedules
    one, a = _timed(lambda: explore(LOCK, SMALL_FAULTS, 2, n, workers=1))
    two, b = _timed(lambda: explore(LOCK, SMALL_FAULTS, 2, n, workers=2))
    if a != b:
        raise RuntimeError("1 and 2 workers disagree: exploration is not deterministic")
    speedup = one / two
    return [Figure("2 workers over 1 worker", speedup, "x", ">= 1.7", speedup >= 1.7,
                   note=f"{n} schedules: {one:.2f} s vs {two:.2f} s; "
                        f"{os.cpu_count()} CPUs")]


def peak_memory(sizes: Sizes) -> list[Figure]:
    """ru_maxrss of a fresh process that explores ``memory_schedules`` schedules."""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)}
    out = subprocess.run([sys.executable, "-m", "benchmarks.peak_memory",
                          str(sizes.memory_schedules)], capture_output=True, text=True,
                         check=True, cwd=root, env=env)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    peak = data["peak_mb"]
    return [Figure(f"peak memory, {data['schedules']} schedules", peak, "MB", "< 300",
                   peak < 300.0, note=f"{data['baseline_mb']} MB after imports")]


# -- the run -----------------------------------------------------------------------


def run_suite(sizes: Sizes, say: Callable[[str], None] = lambda _s: None) -> dict[str, Any]:
    """Measure every figure; return the JSON-ready result."""
    say("floor")
    floor = max(round_trips_per_second(sizes.floor_trips) for _ in range(sizes.repeats))
    say("report scenario")
    figures, scenario_facts = report_scenario(sizes, floor)
    say("small exploration")
    figures += exploration(sizes, floor)
    say("find and shrink")
    found, shrink_facts = find_and_shrink(sizes)
    figures += found
    say("1 vs 2 workers")
    figures += workers(sizes)
    say("peak memory")
    figures += peak_memory(sizes)
    say("floor again")
    floor_after = round_trips_per_second(sizes.floor_trips)
    floor = max(floor, floor_after)
    # Rates are judged against the best floor seen, the stricter reading.
    for i, f in enumerate(figures):
        if f.vs_floor is not None:
            ratio = f.value / floor
            passed = f.passed
            if f.target.endswith("floor"):
                passed = ratio >= float(f.target.split()[1])
            figures[i] = Figure(f.name, f.value, f.unit, f.target, passed, ratio, f.note)
    figures.insert(0, Figure("floor: SimPy request/reply loop", floor, "round trips/s",
                             note=f"best of {sizes.repeats + 1} runs of "
                                  f"{sizes.floor_trips} trips"))
    return {
        "kind": "locksim-benchmarks",
        "format": 1,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "sizes": asdict(sizes),
        "floor_round_trips_per_second": floor,
        "figures": [asdict(f) for f in figures],
        "scenario": scenario_facts,
        "shrink": shrink_facts,
        "all_targets_met": all(f.passed for f in figures if f.passed is not None),
    }


def _fmt(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def print_table(result: dict[str, Any], out: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="locksim benchmarks", title_justify="left")
    for col, just in (("figure", "left"), ("value", "right"), ("unit", "left"),
                      ("vs floor", "right"), ("target", "left"), ("", "left"),
                      ("note", "left")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for f in result["figures"]:
        mark = {True: "[green]pass[/]", False: "[red]FAIL[/]", None: ""}[f["passed"]]
        ratio = f"{f['vs_floor']:.3g}" if f["vs_floor"] is not None else ""
        table.add_row(f["name"], _fmt(f["value"]), f["unit"], ratio, f["target"], mark,
                      f["note"])
    Console(file=out, width=160).print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, about a minute")
    parser.add_argument("--sizes", choices=sorted(SIZES), help="full (default), quick, tiny")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, metavar="PATH",
                        help=f"where to write the figures (default {DEFAULT_JSON})")
    args = parser.parse_args(argv)
    name = args.sizes or ("quick" if args.quick else "full")
    from rich.console import Console

    console = Console(stderr=True)
    with console.status("measuring") as status:
        result = run_suite(SIZES[name], lambda s: status.update(f"measuring: {s}"))
    result["sizes_name"] = name
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    print(f"figures written to {args.json}")
    return 0
