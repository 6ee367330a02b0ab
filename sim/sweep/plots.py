"""The figures of a sweep: one line per wait strategy, 95% error bars, labelled axes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim.sweep.grid import AXES, LABELS


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


__all__ = ["PLOTS", "log_ticks", "plot", "write_plots"]
