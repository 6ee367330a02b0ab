"""Running a grid: one row per (grid point, seed), in parallel, the same whatever the workers.

``runs(grid)`` is the runs DataFrame, ``sweep(grid)`` that and its summary
(``sim.sweep.stats.summarize``).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from models.checkers import check_all
from models.metrics import metrics, percentile
from sim.search.explore import Interrupted, abandon
from sim.sweep.grid import SAFETY, Grid
from sim.sweep.stats import summarize


def run_point(grid: Grid, point: dict[str, Any], seed: int) -> dict[str, Any]:
    """Run one scenario and measure it: one row of the runs frame (no wall times)."""
    from sim.world import run

    scenario = grid.scenario(point, seed)
    result = run(scenario)
    h = result.history
    m = metrics(h)
    latencies = [p.end - p.start for p in h.pairs("request") if p.ok and p.end is not None]
    verdicts = {v.property: v.valid for v in check_all(h, [*SAFETY, "no-lost-wakeup"])}
    nan = math.nan
    row: dict[str, Any] = dict(point)
    row.update(
        seed=seed,
        completed=result.completed,
        issued=m.issued,
        duration_s=m.duration_ms / 1000.0,
        throughput_rps=m.throughput_rps,
        wait_p50_ms=_num(m.wait_p50_ms),
        wait_p99_ms=_num(m.wait_p99_ms),
        latency_p50_ms=_num(percentile(latencies, 50)),
        latency_p99_ms=_num(percentile(latencies, 99)),
        attempts_per_success=_num(m.attempts_per_success),
        redis_commands=result.redis_commands,
        commands_per_coupon=result.redis_commands / m.issued if m.issued else nan,
        pauses=m.pauses,
        violation=any(verdicts[p] is False for p in SAFETY),
        mutual_exclusion=verdicts["mutual-exclusion"] is False,
        storage_unsafe=any(verdicts[p] is False for p in SAFETY if p != "mutual-exclusion"),
        lost_wakeup=verdicts["no-lost-wakeup"] is False,
        trace_hash=result.trace_hash,
    )
    return row


def _num(x: float | None) -> float:
    return math.nan if x is None else float(x)


def _run_task(args: tuple[Grid, int, dict[str, Any], int]) -> tuple[int, dict[str, Any]]:
    grid, i, point, seed = args
    return i, run_point(grid, point, seed)


# -- the sweep ---------------------------------------------------------------------------------
def run_rows(grid: Grid, workers: int | None = None,
             progress: Callable[[int], None] | None = None,
             initializer: Callable[[], None] | None = None) -> list[dict[str, Any]]:
    """Every run's row, in the grid's order; ``workers`` processes (default: all cores).

    ``initializer`` runs first in each worker (the command line's: die with the
    parent, leave Ctrl-C to it). Ctrl-C raises ``Interrupted`` with the rows done."""
    tasks = [(grid, i, point, seed) for i, point, seed in grid.tasks()]
    n = workers if workers is not None else (os.cpu_count() or 1)
    rows: list[dict[str, Any] | None] = [None] * len(tasks)

    def done() -> list[dict[str, Any]]:
        return [r for r in rows if r is not None]

    if n <= 1 or len(tasks) <= 1:
        try:
            for task in tasks:
                i, row = _run_task(task)
                rows[i] = row
                if progress:
                    progress(1)
        except KeyboardInterrupt:
            raise Interrupted(done(), len(tasks)) from None
        return done()
    # slowest first (many users, many requests), so no worker is left with a long tail
    order = sorted(tasks, key=lambda t: -(t[2]["requests"] * max(t[2]["vus"], 1)))
    pool = ProcessPoolExecutor(max_workers=n, initializer=initializer)
    try:
        futures = [pool.submit(_run_task, task) for task in order]
        for future in as_completed(futures):
            i, row = future.result()
            rows[i] = row
            if progress:
                progress(1)
    except KeyboardInterrupt:
        abandon(pool)
        raise Interrupted(done(), len(tasks)) from None
    except BaseException:
        abandon(pool)
        raise
    pool.shutdown()
    return done()


def runs(grid: Grid, workers: int | None = None, progress: bool = True) -> Any:
    """One row per run, as a pandas DataFrame (with a rich progress bar)."""
    import pandas as pd

    grid.validate()
    if not progress:
        return pd.DataFrame(run_rows(grid, workers))
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with warnings.catch_warnings():  # rich asks for ipywidgets in Jupyter; it draws without
        warnings.simplefilter("ignore", UserWarning)
        with Progress("[progress.description]{task.description}", BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(), transient=True) as bar:
            task = bar.add_task("sweep", total=grid.size())
            rows = run_rows(grid, workers, lambda k: bar.advance(task, k))
    return pd.DataFrame(rows)


def sweep(grid: Grid, workers: int | None = None, progress: bool = True) -> tuple[Any, Any]:
    """``(runs, summary)`` DataFrames of a grid."""
    frame = runs(grid, workers, progress)
    return frame, summarize(frame)


__all__ = ["run_point", "run_rows", "runs", "sweep"]
