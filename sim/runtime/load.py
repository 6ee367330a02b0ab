"""The load: k6-like virtual users (closed), an arrival rate (open), or scheduled arrivals.

One generator for both worlds: it decides when request ``n`` (of user
``user``) is sent; the host (``sim.world.World``, ``sim.real.cluster.Cluster``)
carries it to an app server behind its nginx ``least_conn`` and calls back
when the client has its answer. The order of draws (think times, gaps) is
part of every simulated trace hash: keep it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Protocol

from models.scenario import Scenario
from sim.runtime.chooser import Chooser


class Host(Protocol):
    """What the load needs from a world."""

    scenario: Scenario
    chooser: Chooser

    @property
    def now(self) -> float: ...

    def at(self, when: float, fn: Callable[[], None]) -> None: ...

    def send_request(self, n: int, user: int, done: Callable[[], None]) -> None:
        """Carry request ``n`` to an app server; ``done()`` once the client has its answer."""

    def finish(self) -> None: ...


class Load:
    """Hands out request numbers and user ids; counts completions; finishes the run."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.total = host.scenario.requests
        self.issued = 0
        self.completed = 0

    def start(self) -> None:
        host = self.host
        sc = host.scenario
        if self.total == 0:
            host.finish()
            return
        if sc.load == "closed":
            for vu in range(min(sc.vus, self.total)):
                host.at(0.0, partial(self._next, vu))
        elif sc.load == "scheduled":  # explicit arrival times, as exploration draws them
            for t in sc.arrivals_ms:
                host.at(t, self._scheduled)
        else:
            host.at(0.0, self._arrival)

    def _user(self, n: int) -> int:
        sc = self.host.scenario
        return sc.first_user + n // sc.repeat_users

    def _next(self, vu: int) -> None:
        """A closed-load virtual user sends its next request, if any remain."""
        if self.issued >= self.total:
            return
        n = self.issued
        self.issued += 1
        self._send(n, lambda: self._after(vu))

    def _after(self, vu: int) -> None:
        host = self.host
        think = host.scenario.think.sample(host.chooser)
        host.at(host.now + think, lambda: self._next(vu))

    def _scheduled(self) -> None:
        n = self.issued
        self.issued += 1
        self._send(n, _nothing)

    def _arrival(self) -> None:
        host = self.host
        if self.issued >= self.total:
            return
        n = self.issued
        self.issued += 1
        self._send(n, _nothing)
        gap = host.chooser.exponential(1000.0 / host.scenario.rate_rps)
        host.at(host.now + gap, self._arrival)

    def _send(self, n: int, then: Callable[[], None]) -> None:
        self.host.send_request(n, self._user(n), lambda: self._done(then))

    def _done(self, then: Callable[[], None]) -> None:
        self.completed += 1
        then()
        if self.completed >= self.total:
            self.host.finish()


def _nothing() -> None:
    pass
