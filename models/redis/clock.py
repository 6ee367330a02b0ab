"""A Redis node's wall clock: true time plus an offset and a drift, with step jumps.

Redis expires keys by its own wall clock (``mstime()``), so a node whose clock
jumps forward drops every lock early and one whose clock runs slow keeps them
late. The clock is piecewise linear in true time: one segment per jump, so a
deadline on the node's clock can be mapped back to the true instant it passed.
"""

from __future__ import annotations


class NodeClock:
    """``local(t) = t + offset + drift * (t - since)`` on the current segment."""

    __slots__ = ("segments",)

    def __init__(self, offset_ms: float = 0.0, drift: float = 0.0) -> None:
        # (since, offset at since, drift): the clock from ``since`` on
        self.segments: list[tuple[float, float, float]] = [(0.0, offset_ms, drift)]

    def local(self, t: float) -> float:
        since, offset, drift = self.segments[-1]
        return t + offset + drift * (t - since)

    def jump(self, t: float, step_ms: float, drift: float) -> None:
        """At true time ``t`` the clock steps by ``step_ms`` and runs at ``drift`` from then."""
        self.segments.append((t, self.local(t) - t + step_ms, drift))

    def true_time(self, local_ms: float) -> float:
        """The first true instant at which the clock read ``local_ms`` or more."""
        segs = self.segments
        for i, (since, offset, drift) in enumerate(segs):
            start_local = since + offset
            if start_local >= local_ms:
                return since
            t = since + (local_ms - start_local) / (1.0 + drift)
            if i + 1 == len(segs) or t < segs[i + 1][0]:
                return t
        return segs[-1][0]  # unreachable: the last segment always answers
