"""The statistics of a sweep: means with Student t intervals, proportions with Wilson's.

Plain functions, no SciPy: a sweep has a few seeds per point, and a table of t
quantiles is exact enough for that.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from sim.sweep.grid import AXES, METRICS

PROPORTIONS = ("violation", "mutual_exclusion", "storage_unsafe", "lost_wakeup")
"""The runs frame's yes/no columns, summarised as proportions with Wilson intervals."""

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
        for v in PROPORTIONS:
            if v not in group:  # a runs frame saved before the column existed
                continue
            k = int(group[v].sum())
            row[f"{v}_runs"] = k
            row[v], row[f"{v}_lo"], row[f"{v}_hi"] = wilson(k, len(group))
        out.append(row)
    return pd.DataFrame(out)


__all__ = ["mean_ci", "summarize", "t95", "wilson"]
