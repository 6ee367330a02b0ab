"""What a successful acquisition hands back to the caller."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Held:
    """A held lock: the key, the caller's token, its fence (if any), its watchdog."""

    key: str
    token: str
    fence: int | None = None
    watchdog: object = None
