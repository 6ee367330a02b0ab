"""Background garbage collection: stop-the-world pauses at random times on every app server.

A scenario's faults are data fixed before the run, so a GC process turns a
rate and a pause-length distribution into a tuple of ``Pause`` faults, drawn
from a chooser seeded by the run's seed: the same seed gives the same pauses
in any process, and every lock design of a sweep meets the same pauses
(common random numbers make the designs' differences sharper).
"""

from __future__ import annotations

from dataclasses import dataclass

from models.dist import Dist
from models.faults import Pause
from sim.runtime.chooser import Chooser

_STREAM = 0x6C  # keeps the GC draws apart from the run's own stream of the same seed
FULL_GC = Dist("lognormal", 200.0, 1.0)  # median 200 ms, a heavy tail: 1% exceed ~2 s


@dataclass(frozen=True)
class GcProcess:
    """Poisson GC pauses: ``rate_per_s`` per server, each ``pause`` ms long."""

    rate_per_s: float = 0.0
    pause: Dist = FULL_GC

    def pauses(self, servers: int, span_ms: float, seed: int) -> tuple[Pause, ...]:
        """Every server's pauses that start before ``span_ms``, in time order."""
        if self.rate_per_s <= 0 or span_ms <= 0:
            return ()
        chooser = Chooser(seed * 1_000_003 + _STREAM)
        gap = Dist("exp", 1000.0 / self.rate_per_s)
        out: list[Pause] = []
        for i in range(servers):
            t = gap.sample(chooser)
            while t < span_ms:
                length = round(self.pause.sample(chooser), 3)
                out.append(Pause(round(t, 3), length, f"app{i + 1}"))
                t += length + gap.sample(chooser)  # a server pauses once at a time
        return tuple(sorted(out, key=lambda p: (p.at_ms, p.node)))
