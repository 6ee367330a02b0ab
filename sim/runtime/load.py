"""The load: k6-like virtual users (closed) or an arrival rate (open), behind nginx.

Nginx ``least_conn`` sends each request to the live server with the fewest
requests in progress; ties go round-robin, as nginx does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from models.balancer import Balancer

if TYPE_CHECKING:
    from sim.world import World


class Load:
    """Hands out request numbers, user ids and sessions; counts completions."""

    def __init__(self, world: World) -> None:
        self.world = world
        sc = world.scenario
        self.total = sc.requests
        self.issued = 0
        self.completed = 0
        self.balancer = Balancer(world.servers)

    def start(self) -> None:
        sc = self.world.scenario
        if self.total == 0:
            self.world.finish()
            return
        if sc.load == "closed":
            for vu in range(min(sc.vus, self.total)):
                self.world.at(0.0, lambda vu=vu: self._next(vu))
        elif sc.load == "scheduled":  # explicit arrival times, as exploration draws them
            for t in sc.arrivals_ms:
                self.world.at(t, self._scheduled)
        else:
            self.world.at(0.0, self._arrival)

    def _user(self, n: int) -> int:
        sc = self.world.scenario
        return sc.first_user + n // sc.repeat_users

    def _next(self, vu: int) -> None:
        """A closed-load virtual user sends its next request, if any remain."""
        if self.issued >= self.total:
            return
        n = self.issued
        self.issued += 1
        self._send(n, lambda: self._after(vu))

    def _after(self, vu: int) -> None:
        world = self.world
        think = world.scenario.think.sample(world.chooser)
        world.at(world.now + think, lambda: self._next(vu))

    def _scheduled(self) -> None:
        n = self.issued
        self.issued += 1
        self._send(n, lambda: None)

    def _arrival(self) -> None:
        world = self.world
        if self.issued >= self.total:
            return
        n = self.issued
        self.issued += 1
        self._send(n, lambda: None)
        gap = world.chooser.exponential(1000.0 / world.scenario.rate_rps)
        world.at(world.now + gap, self._arrival)

    def _send(self, n: int, then: object) -> None:
        world = self.world
        lat = world.scenario.client_latency
        user = self._user(n)
        server = self.balancer.pick()
        if server is None:  # nginx: no upstream alive, 502 at once
            world.at(world.now + 2 * lat.sample(world.chooser), lambda: self._done(then))
            return
        server.active += 1

        def arrive() -> None:
            if not server.alive:
                server.active = max(server.active - 1, 0)
                world.at(world.now + lat.sample(world.chooser), lambda: self._done(then))
                return

            def done(_result: object) -> None:
                server.active = max(server.active - 1, 0)
                world.at(world.now + lat.sample(world.chooser), lambda: self._done(then))

            world.start_request(server, n, user, done)

        world.at(world.now + lat.sample(world.chooser), arrive)

    def _done(self, then: object) -> None:
        self.completed += 1
        then()  # type: ignore[operator]
        if self.completed >= self.total:
            self.world.finish()
