"""Leases as Redis saw them: who held a lock key, from when, until when and why it ended.

The apps' histories say what each request *believed*; Redis's command log
says what the server did. A lease that expired while its holder was still
inside the critical section is the usual cause of a broken lock, and only
the log shows it. Rather than parse each design's scripts, the log is
replayed through a fresh ``RedisModel`` (pure and deterministic, the same
one the simulator ran) and each lock key's owner and deadline are read back
after every command: PX/EX, PEXPIRE from watchdog scripts, DEL and EVAL
releases and expiry all come out the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from models.redis import RedisModel

LogEntry = tuple[float, int, tuple[object, ...], object]


@dataclass(frozen=True, slots=True)
class Lease:
    """One holder's tenure of a key, as Redis saw it.

    ``end_cause``: "expired" (deadline passed), "deleted" (DEL or a release
    script), "overwritten" (another owner), "flushed" (Redis restarted) or
    "open" (still held when the log ends)."""

    key: str
    owner: str
    start: float
    end: float
    end_cause: str
    extensions: tuple[float, ...] = ()
    """Times at which a command moved the deadline (watchdog PEXPIREs)."""


def _owner(value: object) -> str | None:
    """A string key's value, or a Redisson-style hash's first field."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, dict) and value:
        return next(iter(value)).decode(errors="replace")
    return None


def leases(log: Iterable[LogEntry], keys: Iterable[str], end_time: float,
           version: tuple[int, ...] = (7, 0), flushes: Sequence[float] = ()) -> list[Lease]:
    """Every tenure of each of ``keys`` in Redis's command ``log``, in start order.

    ``flushes``: times Redis lost its data (a crash without persistence),
    which the log alone does not show. Pure: the log is only read."""
    wanted = {k.encode(): k for k in keys}
    model = RedisModel(version)
    live: dict[bytes, tuple[str, float, int | None, list[float]]] = {}
    out: list[Lease] = []
    pending_flushes = sorted(flushes)

    def close(key: bytes, at: float, cause: str) -> None:
        owner, start, _deadline, ext = live.pop(key)
        out.append(Lease(wanted[key], owner, start, at, cause, tuple(ext)))

    def expire_before(now: float) -> None:
        for key, (_o, _s, deadline, _e) in list(live.items()):
            if deadline is not None and now > deadline:
                close(key, float(deadline), "expired")

    try:
        for start, client, argv, _reply in log:
            while pending_flushes and pending_flushes[0] <= start:
                at = pending_flushes.pop(0)
                expire_before(at)
                for key in list(live):
                    close(key, at, "flushed")
                model.flush()
            expire_before(start)
            model.execute(argv, start, client)
            ks = model.ks
            for key in wanted:
                owner = _owner(ks.data.get(key))
                deadline = ks.deadlines.get(key)
                if owner is not None and deadline is not None and int(start) > deadline:
                    owner = None  # logically expired, not yet lazily deleted
                held = live.get(key)
                if held is not None and held[0] != owner:
                    close(key, start, "deleted" if owner is None else "overwritten")
                    held = None
                if owner is None:
                    continue
                if held is None:
                    live[key] = (owner, start, deadline, [])
                elif held[2] != deadline:
                    held[3].append(start)
                    live[key] = (owner, held[1], deadline, held[3])
    finally:
        model.release_scripts()
    expire_before(end_time)
    for key in list(live):
        close(key, end_time, "open")
    return sorted(out, key=lambda lease: (lease.start, lease.key))


__all__ = ["Lease", "LogEntry", "leases"]
