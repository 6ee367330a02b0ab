"""Faults as data: what happens to which node, when, for how long.

A fault schedule is a tuple of these values, part of the scenario, so a
counterexample replays it exactly. ``node`` is an app server name (``app1``),
``redis``, or ``holder``: the app server whose request holds the lock when
the fault starts (resolved at that instant, deterministically).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Pause:
    """Stop-the-world pause (GC, CPU starvation, SIGSTOP) of a whole app server."""

    at_ms: float
    duration_ms: float
    node: str = "holder"
    kind: str = "pause"


@dataclass(frozen=True, slots=True)
class Crash:
    """An app server dies: in-flight requests are lost, their locks left to expire."""

    at_ms: float
    restart_after_ms: float | None = 1000.0
    node: str = "holder"
    kind: str = "crash"


@dataclass(frozen=True, slots=True)
class Delay:
    """Extra one-way latency on every message to and from a node (both directions)."""

    at_ms: float
    duration_ms: float
    extra_ms: float
    node: str = "holder"
    kind: str = "delay"


@dataclass(frozen=True, slots=True)
class Partition:
    """A node's connections carry nothing until healed; TCP then delivers in order."""

    at_ms: float
    duration_ms: float
    node: str = "holder"
    kind: str = "partition"


@dataclass(frozen=True, slots=True)
class Clock:
    """An app server's local clock: a step ``offset_ms`` at ``at_ms``, and a drift rate."""

    at_ms: float
    offset_ms: float
    drift: float = 0.0
    node: str = "app1"
    kind: str = "clock"


Fault = Pause | Crash | Delay | Partition | Clock
FAULT_KINDS: dict[str, type] = {
    "pause": Pause,
    "crash": Crash,
    "delay": Delay,
    "partition": Partition,
    "clock": Clock,
}


def fault_to_dict(fault: Fault) -> dict[str, Any]:
    return asdict(fault)


def fault_from_dict(data: dict[str, Any]) -> Fault:
    """Build a fault from JSON data; one clear ValueError line when it is wrong."""
    if not isinstance(data, dict):
        raise ValueError(f"a fault must be an object, not {type(data).__name__}")
    kind = data.get("kind")
    cls = FAULT_KINDS.get(kind)  # type: ignore[arg-type]
    if cls is None:
        raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
    try:
        fault = cls(**data)
    except TypeError as exc:
        raise ValueError(f"bad {kind} fault {data}: {exc}") from None
    if fault.at_ms < 0 or getattr(fault, "duration_ms", 0) < 0:
        raise ValueError(f"fault times must not be negative: {data}")
    return fault


def describe(fault: Fault) -> str:
    """One line for a story: what, where, when."""
    if isinstance(fault, Pause):
        return f"{fault.node} pauses (stop-the-world) for {fault.duration_ms:g} ms"
    if isinstance(fault, Crash):
        again = (
            f", restarts {fault.restart_after_ms:g} ms later"
            if fault.restart_after_ms is not None
            else ""
        )
        return f"{fault.node} crashes{again}"
    if isinstance(fault, Delay):
        return f"{fault.node}'s network slows by {fault.extra_ms:g} ms for {fault.duration_ms:g} ms"
    if isinstance(fault, Partition):
        return f"{fault.node} is cut off from the network for {fault.duration_ms:g} ms"
    return f"{fault.node}'s clock jumps {fault.offset_ms:+g} ms (drift {fault.drift:g})"
