"""The run's one source of nondeterminism.

Every choice a run makes (latencies, tokens, think times) is drawn here, in
the order the simulation reaches it, so one seed fixes the whole trace. It is the only
user of ``random`` in the package (a test checks it).
A subclass can answer the same calls from Hypothesis draws instead.
"""

from __future__ import annotations

import math
import random


class Chooser:
    """A seeded PRNG behind a small vocabulary of draws.

    ``choices`` (integers 0..1000) answer the first draws instead of the PRNG:
    Hypothesis draws them (``sim.search.strategies``), so shrinking moves latencies
    toward their minimum, and a counterexample replays them exactly.
    """

    def __init__(self, seed: int, choices: tuple[int, ...] = ()) -> None:
        self.seed = seed
        self._rng = random.Random(seed)
        self._random = self._rng.random  # uniform's draw, without random.uniform's call
        self._choices = choices
        self._next = 0
        self._tokens = 0

    def _unit(self) -> float | None:
        i = self._next
        if i < len(self._choices):
            self._next = i + 1
            return min(max(self._choices[i], 0), 1000) / 1000.0
        return None

    def uniform(self, low: float, high: float) -> float:
        if self._next >= len(self._choices):  # the common case, without _unit's call
            return low + (high - low) * self._random()  # random.uniform's formula, inlined
        u = self._unit()
        return self._rng.uniform(low, high) if u is None else low + (high - low) * u

    def exponential(self, mean: float) -> float:
        if mean <= 0:
            return 0.0
        u = self._unit()
        if u is None:
            return self._rng.expovariate(1.0 / mean)
        return -mean * math.log(1.0 - min(u, 0.999))

    def lognormal(self, median: float, sigma: float) -> float:
        u = self._unit()
        z = self._rng.gauss(0.0, sigma) if u is None else (u - 0.5) * 4.0 * sigma
        return median * math.exp(z)

    def integer(self, low: int, high: int) -> int:
        u = self._unit()
        return self._rng.randint(low, high) if u is None else low + round((high - low) * u)

    def token(self) -> str:
        """A uuid4-shaped lock token, but drawn from the seed (unique per run)."""
        self._tokens += 1
        u = self._unit()
        if u is not None:
            return f"{self._tokens:08x}-{round(u * 1000):04x}-4000-a000-000000000000"
        bits = self._rng.getrandbits(128)
        h = f"{bits:032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def swarm_source(text: str) -> random.Random:
    """The explorer's source for one schedule's plan, seeded by its id text.

    A schedule is drawn before its run's Chooser exists (the plan picks the
    fault mix and arrivals); it still comes from this module, the only user of
    ``random``.
    """
    return random.Random(text)


def library_source(seed: int) -> random.Random:
    """What a library's own randomness is served from in the asyncio tier (``sim.aio.shims``):
    ``uuid1``/``uuid4``, ``os.urandom`` and the seed of ``random``'s global state.

    A source of its own, so a library drawing more or fewer numbers never shifts
    the run's latencies; seeded from the run's seed, so it replays."""
    return random.Random(f"library:{seed}")


class GlobalRandom:
    """``random``'s module-level state, seeded for a simulated run and put back after.

    Libraries call ``random.random()``/``uniform`` (redis-py's backoff jitter,
    pottery's retry delay); their draws come from the run's seed meanwhile."""

    def __init__(self, source: random.Random) -> None:
        self._seed = source.getrandbits(64)
        self._saved: object = None

    def __enter__(self) -> GlobalRandom:
        self._saved = random.getstate()
        random.seed(self._seed)
        return self

    def __exit__(self, *exc: object) -> None:
        random.setstate(self._saved)  # type: ignore[arg-type]
