"""The grid of a sweep: its axes, fixed settings, and the scenario of each point.

``Grid`` is a frozen value. Seeds are shared across grid points (common random
numbers): every design meets the same latencies' seed and the same GC pauses,
so their differences are not noise. Running it is ``sim.sweep.runner``; its
statistics ``sim.sweep.stats``; its figures ``sim.sweep.plots``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from itertools import product
from typing import Any

from models.dist import Dist
from models.faults import Crash
from models.locks import LOCKS, WAIT_STRATEGIES
from models.scenario import STORAGE_LATENCY, Scenario, ScenarioError
from sim.sweep.gc import GcProcess

DEFAULT_CS_MS = 2 * (STORAGE_LATENCY.a + STORAGE_LATENCY.b)  # two round trips: 6.8 ms
SAFETY = ("mutual-exclusion", "no-over-issue", "no-duplicate-issue", "stock-conservation")
AXES = ("strategy", "vus", "rate_rps", "servers", "ttl_ms", "cs_ms", "gc_rate", "gc_pause",
        "requests", "topology", "replica_lag_ms", "down_after_ms", "failover_at_ms")
HA_DEFAULTS: dict[str, Any] = {"topology": "single", "replica_lag_ms": None,
                               "down_after_ms": None, "failover_at_ms": None}
"""The high-availability axes' "as the scenario has it": a point at these runs the
scenario it ran before these axes existed, trace hash for trace hash."""
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
    "topology": "Redis topology",
    "replica_lag_ms": "replica lag, mean per write (ms)",
    "down_after_ms": "Sentinel down-after, i.e. time to fail over (ms)",
    "failover_at_ms": "master crash time (ms)",
    "throughput_rps": "throughput (requests/s)",
    "wait_p50_ms": "lock wait p50 (ms)",
    "wait_p99_ms": "lock wait p99 (ms)",
    "latency_p50_ms": "request latency p50 (ms)",
    "latency_p99_ms": "request latency p99 (ms)",
    "attempts_per_success": "acquire attempts per success",
    "commands_per_coupon": "Redis commands per issued coupon",
    "violation": "P(safety violation)",
    "mutual_exclusion": "P(mutual-exclusion violation)",
    "storage_unsafe": "P(storage harmed: over-issue, duplicate or lost stock)",
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
    ``load="closed"``. High availability (``topology`` other than ``single``):
    ``replica_lag_ms`` is each replicated write's mean delay (uniform from half
    to one and a half times it), ``down_after_ms`` Sentinel's detection time,
    ``failover_at_ms`` when the master ``redis1`` dies for good; None keeps the
    scenario's own. ``persistence`` and ``restart_delay_ms`` apply to every node.
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
    topology: tuple[str, ...] = ("single",)
    replica_lag_ms: tuple[float | None, ...] = (None,)
    down_after_ms: tuple[float | None, ...] = (None,)
    failover_at_ms: tuple[float | None, ...] = (None,)
    seeds: int = 3
    seed: int = 1
    load: str = "closed"
    gc_span_ms: float = 60_000.0  # GC pauses are drawn over this much of each run
    horizon_ms: float = 120_000.0  # a run stops here even if requests still wait
    lock_params: tuple[tuple[str, Any], ...] = ()  # every design's, or ``design:name``
    persistence: str = "none"  # every Redis node's (``--persistence``)
    restart_delay_ms: float = 0.0  # a crashed node comes back no sooner (``--restart-delay``)
    sentinels: int = 3  # sentinel:N: how many Sentinels (``--sentinels``)
    sentinel_quorum: int = 2  # and how many must agree (``--sentinel-quorum``)

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
        self._validate_ha()
        if self.seeds < 1:
            raise SweepError("seeds: at least 1")
        if self.load not in ("closed", "open"):
            raise SweepError(f"load: 'closed' or 'open', not {self.load!r}")
        return self

    def params_of(self, design: str) -> dict[str, Any]:
        """``lock_params`` for ``design``: plain names go to every design, ``design:name``
        only to that one (a waiting timeout polling has no use for)."""
        params: dict[str, Any] = {}
        for name, value in self.lock_params:
            head, _, own = name.rpartition(":")
            if not head or head == design:
                params[own] = value
        return params

    def _validate_ha(self) -> None:
        from models.topology import TopologyError, parse_topology

        for spec in self.topology:
            try:
                parse_topology(spec, self.persistence, self.restart_delay_ms)
            except (TopologyError, TypeError, AttributeError) as exc:
                raise SweepError(f"topology: {exc}") from None
        for name, least in (("replica_lag_ms", "positive"), ("down_after_ms", "at least 0"),
                            ("failover_at_ms", "at least 0")):
            for v in getattr(self, name):
                ok = v is None or (isinstance(v, int | float) and not isinstance(v, bool)
                                   and math.isfinite(v) and (v > 0 if least == "positive"
                                                             else v >= 0))
                if not ok:
                    raise SweepError(f"{name}: {least} numbers of ms, not {v!r}")

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
        params = self.params_of(point["strategy"])
        params["ttl_ms"] = point["ttl_ms"]
        scenario = Scenario(
            servers=point["servers"], requests=point["requests"], vus=point["vus"],
            load=self.load, rate_rps=point["rate_rps"], lock=point["strategy"],
            lock_params=tuple(sorted(params.items())), storage_latency=storage,
            faults=gc.pauses(point["servers"], self.gc_span_ms, seed), seed=seed,
            horizon_ms=self.horizon_ms,
        )
        return self._ha(scenario, point).validate()

    def _ha(self, scenario: Scenario, point: dict[str, Any]) -> Scenario:
        """The point's Redis topology and failover on ``scenario`` (untouched at defaults)."""
        ha = {k: point.get(k, v) for k, v in HA_DEFAULTS.items()}
        settings = (self.persistence, self.restart_delay_ms, self.sentinels, self.sentinel_quorum)
        if ha == HA_DEFAULTS and settings == ("none", 0.0, 3, 2):
            return scenario
        changes: dict[str, Any] = {"topology": ha["topology"], "persistence": self.persistence,
                                   "restart_delay_ms": float(self.restart_delay_ms)}
        if (self.sentinels, self.sentinel_quorum) != (3, 2):
            changes.update(sentinels=self.sentinels, sentinel_quorum=self.sentinel_quorum)
        lag = ha["replica_lag_ms"]
        if lag is not None:
            changes["replica_lag"] = Dist("uniform", round(lag / 2, 6), round(lag * 1.5, 6))
        if ha["down_after_ms"] is not None:
            changes["down_after_ms"] = float(ha["down_after_ms"])
        if ha["failover_at_ms"] is not None:
            primary = "redis" if ha["topology"] == "single" else "redis1"
            changes["faults"] = tuple(sorted(
                (*scenario.faults, Crash(float(ha["failover_at_ms"]), None, primary)),
                key=lambda f: f.at_ms))
        return scenario.with_(**changes)

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
    kw: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    if "lock_params" in kw and isinstance(kw["lock_params"], dict):
        kw["lock_params"] = tuple(sorted(kw["lock_params"].items()))
    return Grid(**kw).validate()


def varying(grid: Grid) -> list[str]:
    """Axes with more than one value, strategy excluded: candidates for the x axis."""
    return [a for a in AXES if a != "strategy" and len(getattr(grid, a)) > 1]


__all__ = ["AXES", "DEFAULT_CS_MS", "HA_DEFAULTS", "LABELS", "METRICS", "SAFETY", "Grid",
           "ScenarioError", "SweepError", "grid_from_dict", "varying"]
