"""What every checker shares: the verdict value and small helpers over ops."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from models.frozen import quick_init
from models.history import History, Op, format_ms

_ms = format_ms
_INDEX = attrgetter("index")


@quick_init  # 19 per explored schedule: the generated __init__ cost 1.2 µs each
@dataclass(frozen=True, slots=True)
class Verdict:
    """One property's judgement of one history."""

    property: str
    valid: bool | None
    summary: str
    witness: tuple[Op, ...] = ()
    story: str = ""
    cause: str = ""
    """A short stable name of what went wrong ("overlap", "deleted-successor"): set by every
    checker when ``valid`` is False, so a shrunk counterexample can be required to keep it."""


Checker = Callable[..., Verdict]


def _history(h: History | Iterable[Op]) -> History:
    return h if isinstance(h, History) else History(h)


def _events_of(h: History, *fs: str) -> list[Op]:
    """The events of these kinds in history order, merged from ``h.events(f)`` (indexed
    once per history) rather than read off a pass over every event."""
    out = [op for f in fs for op in h.events(f)]
    out.sort(key=_INDEX)
    return out


def _tuple(value: object, n: int) -> tuple[Any, ...] | None:
    """``value`` if it is a tuple of at least ``n`` items (lenient about extra fields)."""
    return value if isinstance(value, tuple) and len(value) >= n else None


def _ops(*ops: Op | None) -> tuple[Op, ...]:
    """Witness ops in history order, without duplicates or Nones."""
    return tuple(sorted({o.index: o for o in ops if o is not None}.values(),
                        key=lambda o: o.index))


def _short(token: object) -> str:
    text = str(token)
    return text if len(text) <= 12 else text[:8] + "…"


def _initial_stock(h: History) -> Op | None:
    for op in h.events("init"):
        if op.type == "ok" and isinstance(op.value, int) and not isinstance(op.value, bool):
            return op
    return None


def _is_num(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)
