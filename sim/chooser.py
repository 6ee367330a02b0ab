"""The run's one source of nondeterminism.

Every choice a run makes (latencies, tokens, think times) is drawn here, in
the order the simulation reaches it, so one seed fixes the whole trace. No
module in ``sim/`` or ``models/`` may use ``random``, ``time`` or ``uuid``.
A subclass can answer the same calls from Hypothesis draws instead.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


class Chooser:
    """A seeded PRNG behind a small vocabulary of draws."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._rng = random.Random(seed)

    def uniform(self, low: float, high: float) -> float:
        return self._rng.uniform(low, high)

    def exponential(self, mean: float) -> float:
        return self._rng.expovariate(1.0 / mean) if mean > 0 else 0.0

    def lognormal(self, median: float, sigma: float) -> float:
        return median * math.exp(self._rng.gauss(0.0, sigma))

    def integer(self, low: int, high: int) -> int:
        return self._rng.randint(low, high)

    def token(self) -> str:
        """A uuid4-shaped lock token, but drawn from the seed."""
        bits = self._rng.getrandbits(128)
        h = f"{bits:032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


@dataclass(frozen=True, slots=True)
class Dist:
    """A latency distribution in ms: ``const``, ``uniform``, ``exp`` or ``lognormal``.

    ``a``/``b``: const value; uniform low/high; exp mean (``b`` = minimum);
    lognormal median/sigma.
    """

    kind: str = "const"
    a: float = 0.0
    b: float = 0.0

    def sample(self, chooser: Chooser) -> float:
        kind = self.kind
        if kind == "const":
            return self.a
        if kind == "uniform":
            return chooser.uniform(self.a, self.b)
        if kind == "exp":
            return self.b + chooser.exponential(self.a)
        if kind == "lognormal":
            return chooser.lognormal(self.a, self.b)
        raise ValueError(f"unknown distribution kind {kind!r}")

    def validate(self) -> None:
        if self.kind not in ("const", "uniform", "exp", "lognormal"):
            raise ValueError(
                f"unknown distribution kind {self.kind!r} (const, uniform, exp, lognormal)"
            )
        if self.a < 0 or self.b < 0 or (self.kind == "uniform" and self.b < self.a):
            raise ValueError(f"bad distribution parameters {self}")

    @staticmethod
    def parse(text: str) -> Dist:
        """``"0.2"``, ``"uniform:0.1:0.3"``, ``"exp:1.0"``, ``"lognormal:2:0.3"``."""
        parts = text.split(":")
        try:
            if len(parts) == 1:
                dist = Dist("const", float(parts[0]))
            else:
                nums = [float(p) for p in parts[1:]]
                dist = Dist(parts[0], *nums)
        except (TypeError, ValueError):
            raise ValueError(f"cannot read distribution {text!r}") from None
        dist.validate()
        return dist
