"""Sweeps: a grid of scenarios, several seeds each, run in parallel, as pandas DataFrames.

``Grid`` is a frozen value; ``runs(grid)`` gives one row per (grid point, seed)
and ``summarize(runs)`` one row per grid point with means and 95% intervals
(Student t for means, Wilson for the probability of a violation). Seeds are
shared across grid points (common random numbers): every design meets the
same latencies' seed and the same GC pauses, so their differences are not
noise. Same grid, same frames, whatever the number of workers.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, fields
from itertools import product
from pathlib import Path
from typing import Any

from models.checkers import check_all
from models.dist import Dist
from models.locks import LOCKS, WAIT_STRATEGIES
from models.metrics import metrics, percentile
from models.scenario import STORAGE_LATENCY, Scenario, ScenarioError
from sim.sweep.gc import GcProcess

DEFAULT_CS_MS = 2 * (STORAGE_LATENCY.a + STORAGE_LATENCY.b)  # two round trips: 6.8 ms
SAFETY = ("mutual-exclusion", "no-over-issue", "no-duplicate-issue", "stock-conservation")
AXES = ("strategy", "vus", "rate_rps", "servers", "ttl_ms", "cs_ms", "gc_rate", "gc_pause",
        "requests")
METRICS = ("throughput_rps", "wait_p50_ms", "wait_p99_ms", "latency_p50_ms", "latency_p99_ms",
           "attempts_per_success", "commands_per_coupon", "issued", "duration_s")
LABELS = {
    "strategy": "wait strategy",
    "vus": "virtual users",
    "rate_rps": "arrival rate (requests/s)",
    "servers": "app servers",
    "ttl_ms": "lock TTL (ms)",
    "cs_ms": "database time in the critical section (ms)",
    "gc_rate": "GC pauses per second per server",
    "gc_pause": "GC pause length (ms)",
    "requests": "requests per run",
    "throughput_rps": "throughput (requests/s)",
    "wait_p50_ms": "lock wait p50 (ms)",
    "wait_p99_ms": "lock wait p99 (ms)",
    "latency_p50_ms": "request latency p50 (ms)",
    "latency_p99_ms": "request latency p99 (ms)",
    "attempts_per_success": "acquire attempts per success",
    "commands_per_coupon": "Redis commands per issued coupon",
    "violation": "P(safety violation)",
    "mutual_exclusion": "P(mutual-exclusion violation)",
    "issued": "coupons issued",
    "duration_s": "run duration (s)",
}


class SweepError(ValueError):
    """A grid no sweep can run; one line saying which axis and why."""


@dataclass(frozen=True)
class Grid:
    """Axes (tuples: every combination runs) and fixed settings of a sweep.

    ``cs_ms`` sets the database time inside the critical section (the
    report's two round trips, 6.8 ms on average, scaled); ``gc_rate`` and
    ``gc_pause`` add background GC pauses to every server (``sim.sweep.gc``);
    ``rate_rps`` matters only with ``load="open"``, ``vus`` only with
    ``load="closed"``.
    """

    strategy: tuple[str, ...] = WAIT_STRATEGIES
    vus: tuple[int, ...] = (1, 10, 25, 50, 100)
    rate_rps: tuple[float, ...] = (80.0,)
    servers: tuple[int, ...] = (2,)
    ttl_ms: tuple[int, ...] = (5000,)
    cs_ms: tuple[float, ...] = (DEFAULT_CS_MS,)
    gc_rate: tuple[float, ...] = (0.0,)
    gc_pause: tuple[str, ...] = ("lognormal:200:1",)
    requests: tuple[int, ...] = (200,)
    seeds: int = 3
    seed: int = 1
    load: str = "closed"
    gc_span_ms: float = 60_000.0  # GC pauses are drawn over this much of each run
    horizon_ms: float = 120_000.0  # a run stops here even if requests still wait
    lock_params: tuple[tuple[str, Any], ...] = ()  # extra parameters for every design

    def validate(self) -> Grid:
        for name in AXES:
            values = getattr(self, name)
            if not isinstance(values, tuple) or not values:
                raise SweepError(f"{name}: give at least one value")
        unknown = [s for s in self.strategy if s not in LOCKS]
        if unknown:
            raise SweepError(f"unknown strategy {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(LOCKS))}")
        for name in ("vus", "servers", "requests", "ttl_ms"):
            if any(not isinstance(v, int) or v < 1 for v in getattr(self, name)):
                raise SweepError(f"{name}: whole numbers of at least 1, not {getattr(self, name)}")
        for name in ("rate_rps", "cs_ms"):
            if any(not v > 0 for v in getattr(self, name)):
                raise SweepError(f"{name}: positive numbers, not {getattr(self, name)}")
        if any(v < 0 for v in self.gc_rate):
            raise SweepError(f"gc_rate: numbers of at least 0, not {self.gc_rate}")
        for text in self.gc_pause:
            try:
                Dist.parse(text)
            except ValueError as exc:
                raise SweepError(f"gc_pause: {exc}") from None
        if self.seeds < 1:
            raise SweepError("seeds: at least 1")
        if self.load not in ("closed", "open"):
            raise SweepError(f"load: 'closed' or 'open', not {self.load!r}")
        return self

    def points(self) -> list[dict[str, Any]]:
        """Every combination of the axes, in axis order."""
        self.validate()
        return [dict(zip(AXES, combo, strict=True))
                for combo in product(*(getattr(self, a) for a in AXES))]

    def scenario(self, point: dict[str, Any], seed: int) -> Scenario:
        """The scenario of one grid point and seed."""
        scale = point["cs_ms"] / DEFAULT_CS_MS
        storage = Dist("uniform", round(STORAGE_LATENCY.a * scale, 6),
                       round(STORAGE_LATENCY.b * scale, 6))
        gc = GcProcess(point["gc_rate"], Dist.parse(point["gc_pause"]))
        params = dict(self.lock_params)
        params["ttl_ms"] = point["ttl_ms"]
        return Scenario(
            servers=point["servers"], requests=point["requests"], vus=point["vus"],
            load=self.load, rate_rps=point["rate_rps"], lock=point["strategy"],
            lock_params=tuple(sorted(params.items())), storage_latency=storage,
            faults=gc.pauses(point["servers"], self.gc_span_ms, seed), seed=seed,
            horizon_ms=self.horizon_ms,
        ).validate()

    def tasks(self) -> list[tuple[int, dict[str, Any], int]]:
        """(row number, point, seed) for every run, in a fixed order."""
        seeds = range(self.seed, self.seed + self.seeds)
        return [(i, point, seed) for i, (point, seed) in
                enumerate(product(self.points(), seeds))]

    def size(self) -> int:
        return len(self.points()) * self.seeds

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["lock_params"] = dict(self.lock_params)
        return data


def grid_from_dict(data: dict[str, Any]) -> Grid:
    """A grid from plain data (JSON): lists become tuples; unknown fields are refused."""
    known = {f.name for f in fields(Grid)}
    unknown = set(data) - known
    if unknown:
        raise SweepError(f"unknown grid field(s): {', '.join(sorted(unknown))}")
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    if "lock_params" in kw and isinstance(kw["lock_params"], dict):
        kw["lock_params"] = tuple(sorted(kw["lock_params"].items()))
    return Grid(**kw).validate()


# -- one run ---------------------------------------------------------------------------------
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
             progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Every run's row, in the grid's order; ``workers`` processes (default: all cores)."""
    tasks = [(grid, i, point, seed) for i, point, seed in grid.tasks()]
    n = workers if workers is not None else (os.cpu_count() or 1)
    rows: list[dict[str, Any] | None] = [None] * len(tasks)
    if n <= 1 or len(tasks) <= 1:
        for task in tasks:
            i, row = _run_task(task)
            rows[i] = row
            if progress:
                progress(1)
    else:
        # slowest first (many users, many requests), so no worker is left with a long tail
        order = sorted(tasks, key=lambda t: -(t[2]["requests"] * max(t[2]["vus"], 1)))
        with ProcessPoolExecutor(max_workers=n) as pool:
            for i, row in pool.map(_run_task, order, chunksize=1):
                rows[i] = row
                if progress:
                    progress(1)
    return [r for r in rows if r is not None]


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


# -- statistics --------------------------------------------------------------------------------
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120,
        17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021, 60: 2.000,
        120: 1.980}


def t95(df: int) -> float:
    """Two-sided 95% Student t quantile (table; the next smaller tabled df above 20)."""
    if df < 1:
        return math.nan
    best = max(k for k in _T95 if k <= df)
    return _T95[best] if df <= 120 else 1.960


def mean_ci(values: Iterable[float]) -> tuple[float, float, float]:
    """Mean and 95% t interval of the finite values; NaNs when there are none."""
    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not xs:
        return math.nan, math.nan, math.nan
    mean = sum(xs) / len(xs)
    if len(xs) < 2:
        return mean, math.nan, math.nan
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))
    half = t95(len(xs) - 1) * sd / math.sqrt(len(xs))
    return mean, mean - half, mean + half


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float, float]:
    """Proportion k/n and its 95% Wilson score interval (sane at 0 and n)."""
    if n <= 0:
        return math.nan, math.nan, math.nan
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return p, max(0.0, centre - half), min(1.0, centre + half)


def summarize(frame: Any, metrics_: Sequence[str] = METRICS) -> Any:
    """One row per grid point: ``<m>``, ``<m>_lo``, ``<m>_hi`` for each metric; violations
    as proportions with Wilson intervals; ``runs`` the number of seeds."""
    import pandas as pd

    out = []
    for key, group in frame.groupby(list(AXES), sort=False, dropna=False):
        row: dict[str, Any] = dict(zip(AXES, key, strict=True))
        row["runs"] = len(group)
        for m in metrics_:
            row[m], row[f"{m}_lo"], row[f"{m}_hi"] = mean_ci(group[m])
        for v in ("violation", "mutual_exclusion", "lost_wakeup"):
            k = int(group[v].sum())
            row[f"{v}_runs"] = k
            row[v], row[f"{v}_lo"], row[f"{v}_hi"] = wilson(k, len(group))
        out.append(row)
    return pd.DataFrame(out)


def sweep(grid: Grid, workers: int | None = None, progress: bool = True) -> tuple[Any, Any]:
    """``(runs, summary)`` DataFrames of a grid."""
    frame = runs(grid, workers, progress)
    return frame, summarize(frame)


# -- plots -----------------------------------------------------------------------------------
def varying(grid: Grid) -> list[str]:
    """Axes with more than one value, strategy excluded: candidates for the x axis."""
    return [a for a in AXES if a != "strategy" and len(getattr(grid, a)) > 1]


def plot(summary: Any, y: str, x: str = "vus", ax: Any = None, log_y: bool = False,
         title: str | None = None) -> Any:
    """One line per wait strategy with 95% error bars; labelled axes with units."""
    import matplotlib.pyplot as plt

    if ax is None:
        _fig, ax = plt.subplots(figsize=(6.4, 4.2))
    others = [a for a in AXES if a not in (x, "strategy") and summary[a].nunique() > 1]
    for key, group in summary.groupby(["strategy", *others], sort=False):
        g = group.sort_values(x)
        if g[y].isna().all():
            continue
        label = key[0] if not others else ", ".join(
            [str(key[0])] + [f"{a}={v}" for a, v in zip(others, key[1:], strict=True)])
        lo, hi = g.get(f"{y}_lo"), g.get(f"{y}_hi")
        yerr = None
        if lo is not None and hi is not None and not (lo.isna().all() or hi.isna().all()):
            yerr = [(g[y] - lo).clip(lower=0).fillna(0), (hi - g[y]).clip(lower=0).fillna(0)]
        ax.errorbar(g[x], g[y], yerr=yerr, marker="o", capsize=3, label=label)
    xs = summary[x][summary[x] > 0]
    if len(xs) and xs.max() / xs.min() >= 20:  # contention spans decades: log x
        log_ticks(ax, sorted(xs.unique()))
    ax.set_xlabel(LABELS.get(x, x))
    ax.set_ylabel(LABELS.get(y, y))
    if log_y:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", title=LABELS["strategy"], title_fontsize="small")
    return ax


def log_ticks(ax: Any, values: Sequence[float]) -> None:
    """A log x axis ticked at the grid's own values, written plainly (25, not 2.5x10^1)."""
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(list(values)))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_locator(NullLocator())


PLOTS = (
    ("throughput_rps", True), ("wait_p99_ms", True), ("commands_per_coupon", True),
    ("attempts_per_success", True), ("latency_p99_ms", True),
)


def write_plots(summary: Any, x: str, out_dir: Any) -> list[Any]:
    """PNG files, one per figure, into ``out_dir``; returns their paths."""
    from matplotlib.figure import Figure  # no pyplot: no backend switch, no global state

    out = Path(out_dir)
    paths = []
    figures = list(PLOTS)
    if summary["violation"].gt(0).any() or summary["gc_rate"].gt(0).any():
        figures.append(("violation", False))
    for y, log_y in figures:
        if summary[y].isna().all():
            continue
        fig = Figure(figsize=(6.4, 4.2))
        ax = fig.subplots()
        title = f"{LABELS[y][0].upper()}{LABELS[y][1:]} vs {LABELS[x]}"
        plot(summary, y, x, ax=ax, log_y=log_y, title=title)
        fig.tight_layout()
        path = out / f"{y}.png"
        fig.savefig(path, dpi=110)
        paths.append(path)
    return paths


__all__ = [
    "AXES", "DEFAULT_CS_MS", "LABELS", "METRICS", "Grid", "ScenarioError", "SweepError",
    "grid_from_dict", "log_ticks", "mean_ci", "plot", "run_point", "runs", "summarize", "sweep",
    "t95", "varying", "wilson", "write_plots",
]
