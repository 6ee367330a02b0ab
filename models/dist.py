"""A latency distribution: a plain value, sampled from whatever draws the run's choices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from models.validation import check_fields


class Draws(Protocol):
    """What a distribution needs from the run's source of choices (``Chooser``)."""

    def uniform(self, low: float, high: float) -> float: ...
    def exponential(self, mean: float) -> float: ...
    def lognormal(self, median: float, sigma: float) -> float: ...


@dataclass(frozen=True, slots=True)
class Dist:
    """A latency distribution in ms: ``const``, ``uniform``, ``exp`` or ``lognormal``.

    ``a``/``b``: const value; uniform low/high; exp mean (``b`` = minimum);
    lognormal median/sigma.
    """

    kind: str = "const"
    a: float = 0.0
    b: float = 0.0

    def sample(self, chooser: Draws) -> float:
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
        if _CHECKED.get(id(self)) is self:  # this very object passed: it is frozen
            return
        check_fields(self)  # first: a list in a field would not even hash
        if self not in _GOOD:  # every run validates the same few distributions
            if self.kind not in ("const", "uniform", "exp", "lognormal"):
                raise ValueError(
                    f"unknown distribution kind {self.kind!r} (const, uniform, exp, lognormal)"
                )
            if self.a < 0 or self.b < 0 or (self.kind == "uniform" and self.b < self.a):
                raise ValueError(f"bad distribution parameters {self}")
            if self.a > 1e10 or self.b > 1e10 or (self.kind == "lognormal" and self.b > 10):
                # a sample must stay a time: exp(sigma * z) overflows long before 1e300
                raise ValueError(f"distribution parameters out of range {self} (at most "
                                 "1e10 ms; a lognormal sigma at most 10)")
            if len(_GOOD) < 4096:
                _GOOD.add(self)
        if len(_CHECKED) < 4096:  # (kept alive here, so an id is never reused)
            _CHECKED[id(self)] = self

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


_GOOD: set[Dist] = set()
_CHECKED: dict[int, Dist] = {}  # id -> the very Dist object that passed validate
