"""The figures of the field report's table 7.1, computed from any history.

Standard library only, so a real-Redis run and a simulated one are measured
by the same code. Times are in ms. Percentiles use the nearest-rank method:
the p-th percentile of n sorted samples is the ceil(p/100 * n)-th smallest
(always an observed value, no interpolation), the usual choice for latency.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from models.history import NEMESIS, History, Op


def percentile(samples: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of ``samples`` (need not be sorted); None when empty."""
    if not samples:
        return None
    if not 0 < p <= 100:
        raise ValueError(f"percentile {p} outside (0, 100]")
    ordered = sorted(samples)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Metrics:
    """One run's figures; ``None`` where the history has no sample to measure."""

    duration_ms: float = 0.0  # first request invoke -> last request completion
    requests: int = 0  # requests completed ok
    requests_failed: int = 0  # completed fail or info (unknown outcome)
    issued: int = 0  # accepted issue writes
    throughput_rps: float = 0.0  # ok requests per second of duration
    acquires: int = 0  # successful lock acquisitions
    hold_mean_ms: float | None = None  # acquire ok -> the same process's release invoke
    hold_min_ms: float | None = None
    hold_max_ms: float | None = None
    wait_p50_ms: float | None = None  # acquire invoke -> acquire ok
    wait_p90_ms: float | None = None
    wait_p99_ms: float | None = None
    wait_max_ms: float | None = None
    attempts: int = 0  # SET NX tries (attempt invocations)
    attempts_per_success: float | None = None  # attempts / successful acquires
    publishes: int = 0  # publish ops, else releases that returned 1
    acquires_by_node: dict[str, int] = field(default_factory=dict)
    max_node_share_pct: float | None = None  # the busiest node's share of acquisitions
    extends_ok: int = 0  # watchdog extensions that returned 1
    extends_failed: int = 0  # completed otherwise: 0 (not owner), fail or info
    crashes: int = 0
    pauses: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (the node split copied)."""
        return asdict(self)


def _count(h: History, f: str, type_: str) -> int:
    return sum(1 for op in h if op.f == f and op.type == type_)


def _token_result(op: Op | None) -> tuple[object, object] | None:
    v = op.value if op is not None and op.type == "ok" else None
    return (v[0], v[1]) if isinstance(v, tuple) and len(v) >= 2 else None


def metrics(history: History | Iterable[Op]) -> Metrics:
    """Measure a history: throughput, hold and wait times, attempts, publishes, split."""
    h = history if isinstance(history, History) else History(history)
    requests = h.pairs("request")
    starts = [p.start for p in requests]
    ends = [p.end for p in requests if p.end is not None]
    duration = max(ends) - min(starts) if starts and ends else 0.0
    ok_requests = sum(1 for p in requests if p.ok)
    failed = sum(1 for p in requests if p.type in ("fail", "info"))

    acquires = [p for p in h.pairs("acquire") if p.ok]
    waits = [p.end - p.start for p in acquires if p.end is not None]
    by_node = Counter(p.completion.node for p in acquires if p.completion is not None)

    # hold: from an acquire's ok to the next release invoke of the same process
    holding: dict[str, float] = {}
    holds: list[float] = []
    for op in h:
        if op.f == "acquire" and op.type == "ok":
            holding[op.process] = op.time
        elif op.f == "release" and op.type == "invoke" and op.process in holding:
            holds.append(op.time - holding.pop(op.process))

    publish_ops = _count(h, "publish", "ok")
    if publish_ops:
        publishes = publish_ops
    else:
        publishes = sum(1 for p in h.pairs("release")
                        if (r := _token_result(p.completion)) is not None and r[1] == 1)

    extends = h.pairs("extend")
    extends_ok = sum(1 for p in extends
                     if (r := _token_result(p.completion)) is not None and r[1] == 1)
    extends_failed = sum(1 for p in extends if p.completion is not None) - extends_ok
    attempts = sum(1 for op in h if op.f == "attempt" and op.type == "invoke")
    nemesis = Counter(op.f for op in h if op.process == NEMESIS)
    total = sum(by_node.values())
    return Metrics(
        duration_ms=duration,
        requests=ok_requests,
        requests_failed=failed,
        issued=sum(1 for p in h.pairs("issue") if p.ok),
        throughput_rps=ok_requests / (duration / 1000.0) if duration > 0 else 0.0,
        acquires=len(acquires),
        hold_mean_ms=statistics.fmean(holds) if holds else None,
        hold_min_ms=min(holds) if holds else None,
        hold_max_ms=max(holds) if holds else None,
        wait_p50_ms=percentile(waits, 50),
        wait_p90_ms=percentile(waits, 90),
        wait_p99_ms=percentile(waits, 99),
        wait_max_ms=max(waits) if waits else None,
        attempts=attempts,
        attempts_per_success=attempts / len(acquires) if acquires else None,
        publishes=publishes,
        acquires_by_node=dict(sorted(by_node.items())),
        max_node_share_pct=100.0 * max(by_node.values()) / total if total else None,
        extends_ok=extends_ok,
        extends_failed=extends_failed,
        crashes=nemesis["crash"],
        pauses=nemesis["pause"],
    )


def _name(head: object) -> bytes:
    if isinstance(head, bytes):
        return head.lower()
    return str(head).lower().encode()


def publish_commands(commands: Iterable[Sequence[object]]) -> int | None:
    """PUBLISH commands Redis ran (top level and inside scripts: pass both), or None
    when none of the commands could ever publish (a design that never does).

    The history's release results cannot tell: a polling lock's release returns
    1 and publishes nothing, so the count must come from Redis's own commands."""
    count = 0
    could = False
    for argv in commands:
        if not argv:
            continue
        head = _name(argv[0])
        if head == b"publish":
            count += 1
        elif head in (b"eval", b"evalsha") and len(argv) > 1 and b"publish" in _name(argv[1]):
            could = True
    return count if count or could else None


__all__ = ["Metrics", "metrics", "percentile", "publish_commands"]
