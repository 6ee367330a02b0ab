"""Request priorities steering latencies: the data a PCT-style search adds to a scenario.

PCT (probabilistic concurrency testing) gives every process a random priority
and, at a few change points, demotes the highest one to the lowest. Here the
"processes" are requests (``req0``, ``req1``...: the load's numbering, whatever
server serves them) and a priority steers latency: the command of the request
ranked ``r`` of ``n`` reaches Redis with a latency drawn from the ``r``-th of
``n`` equal bands of ``redis_latency`` (rank 0 the fastest). Still one draw per
message, inside the scenario's own distribution, so a counterexample replays
from its scenario and Hypothesis choices still line up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from models.dist import Dist

NAME = re.compile(r"req[0-9]+")


def request_name(process: str) -> str:
    """``app1/req3`` -> ``req3`` (the load's number, not the server that served it)."""
    return process.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class Priorities:
    """An order of requests (highest first) and the times it rotates."""

    order: tuple[str, ...]
    changes_ms: tuple[float, ...] = ()

    def rank(self, process: str | None, now: float) -> int | None:
        """``process``'s rank at ``now`` (0 = highest), None when it has none."""
        if process is None:
            return None
        name = request_name(process)
        try:
            base = self.order.index(name)
        except ValueError:
            return None
        demoted = sum(1 for t in self.changes_ms if t <= now)  # each change: top -> bottom
        n = len(self.order)
        return (base - demoted) % n

    def band(self, latency: Dist, process: str | None, now: float) -> Dist:
        """The part of ``latency`` that ``process``'s messages draw from at ``now``."""
        rank = self.rank(process, now)
        if rank is None or latency.kind != "uniform":
            return latency
        n = len(self.order)
        width = (latency.b - latency.a) / n
        return Dist("uniform", latency.a + width * rank, latency.a + width * (rank + 1))


def check(order: tuple[str, ...], changes_ms: tuple[float, ...]) -> str | None:
    """Why these values cannot steer a run, or None."""
    for name in order:
        if not isinstance(name, str) or not NAME.fullmatch(name):
            return f"priorities: {name!r} is not a request name (req0, req1, ...)"
    if len(set(order)) != len(order):
        return "priorities: a request is named twice"
    if changes_ms and not order:
        return "priority_changes_ms needs priorities"
    for t in changes_ms:
        if isinstance(t, bool) or not isinstance(t, int | float) or not 0 <= t < float("inf"):
            return f"priority_changes_ms: {t!r} is not a time (ms, not negative)"
    return None
