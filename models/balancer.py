"""Nginx ``least_conn``: each request goes to the live server with the fewest in progress.

Ties go round-robin, as nginx does. A plain policy over anything with ``alive``
and ``active``, so both worlds balance the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar


class Server(Protocol):
    @property
    def alive(self) -> bool: ...
    @property
    def active(self) -> int: ...


S = TypeVar("S", bound=Server)


class Balancer(Generic[S]):
    """least_conn over live servers, round-robin among ties."""

    def __init__(self, servers: Sequence[S]) -> None:
        self.servers = servers
        self.turn = 0

    def pick(self) -> S | None:
        live = [s for s in self.servers if s.alive]
        if not live:
            return None
        fewest = min(s.active for s in live)
        tied = [s for s in live if s.active == fewest]
        choice = tied[self.turn % len(tied)]
        self.turn += 1
        return choice


