"""Faults as data: what happens to which node, when, for how long.

A fault schedule is a tuple of these values, part of the scenario, so a
counterexample replays it exactly. ``node`` is an app server name (``app1``),
``redis``, or ``holder``: the app server whose request holds the lock when
the fault starts (resolved at that instant, deterministically).

Every kind is declared once, in ``FAULTS``: its value type, its spellings,
its CLI grammar, its story line, its history events, its swarm draws and its
Hypothesis strategy. Adding a kind is one declaration here plus one applier
case in each world (``sim/world/world.py``, ``sim/real/cluster.py``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Protocol


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


class FaultError(ValueError):
    """A fault spec or fault data that cannot be read: one line saying why."""


# -- the registry ----------------------------------------------------------------------------

Parse = Callable[[list[float], str], "Fault | None"]
"""(the spec's numbers, its node) -> the fault, or None when the arity is wrong."""
class Uniform(Protocol):
    """What a swarm draw needs: the explorer's seeded source (``sim.runtime.chooser``)."""

    def uniform(self, a: float, b: float) -> float: ...


Swarm = Callable[[float, "Uniform", str], "Fault"]
"""(the drawn start, the schedule's rng, the drawn node) -> the fault; draws in a fixed order."""
Strategy = Callable[[Any, Any, Any], Any]
"""(hypothesis.strategies, the start strategy, the node strategy) -> a strategy of faults."""


@dataclass(frozen=True, slots=True)
class FaultKind:
    """Everything the rest of locksim needs to know about one kind of fault."""

    name: str
    """The one user-facing name: JSON ``kind``, the CLI spec's head, ``--faults``."""
    type: type
    spec: str
    """The CLI grammar, for help texts."""
    parse: Parse
    describe: Callable[[Any], str]
    events: tuple[str, ...]
    """The nemesis ops the appliers record for it (history events, story lines)."""
    swarm: Swarm
    strategy: Strategy
    durations: tuple[str, ...] = ()
    """Fields that are spans of time (scaled with the real cluster's time scale)."""
    aliases: tuple[str, ...] = ()
    """Old spellings still accepted (counterexample files, scripts)."""
    seed_name: str = ""
    """The spelling mixed into a swarm schedule's seed: frozen, so schedule ids stay."""

    @property
    def swarm_seed_name(self) -> str:
        return self.seed_name or self.name


def _pause_parse(nums: list[float], node: str) -> Fault | None:
    return Pause(nums[0], nums[1], node) if len(nums) == 2 else None


def _crash_parse(nums: list[float], node: str) -> Fault | None:
    if len(nums) not in (1, 2):
        return None
    return Crash(nums[0], nums[1] if len(nums) == 2 else None, node)


def _delay_parse(nums: list[float], node: str) -> Fault | None:
    return Delay(nums[0], nums[1], nums[2], node) if len(nums) == 3 else None


def _partition_parse(nums: list[float], node: str) -> Fault | None:
    return Partition(nums[0], nums[1], node) if len(nums) == 2 else None


def _clock_parse(nums: list[float], node: str) -> Fault | None:
    if len(nums) not in (2, 3):
        return None
    return Clock(nums[0], nums[1], nums[2] if len(nums) == 3 else 0.0,
                 node if node != "holder" else "app1")


def _crash_story(f: Crash) -> str:
    again = (f", restarts {f.restart_after_ms:g} ms later"
             if f.restart_after_ms is not None else "")
    return f"{f.node} crashes{again}"


def _r(x: float, digits: int = 3) -> float:
    return round(x, digits)


FAULTS: dict[str, FaultKind] = {k.name: k for k in (
    FaultKind(
        "pause", Pause, "pause:AT:DURATION[:NODE]", _pause_parse,
        lambda f: f"{f.node} pauses (stop-the-world) for {f.duration_ms:g} ms",
        ("pause", "resume"),
        lambda at, rng, node: Pause(at, _r(rng.uniform(50.0, 9000.0)), node),
        lambda st, at, node: st.builds(Pause, at, st.integers(1, 9000).map(float), node),
        durations=("duration_ms",), aliases=("gc-pause",), seed_name="gc-pause"),
    FaultKind(
        "delay", Delay, "delay:AT:DURATION:EXTRA[:NODE]", _delay_parse,
        lambda f: f"{f.node}'s network slows by {f.extra_ms:g} ms for {f.duration_ms:g} ms",
        ("delay",),
        lambda at, rng, node: Delay(at, _r(rng.uniform(100.0, 6000.0)),
                                    _r(rng.uniform(1.0, 3000.0)), node),
        lambda st, at, node: st.builds(Delay, at, st.integers(1, 6000).map(float),
                                       st.integers(1, 3000).map(float), node),
        durations=("duration_ms",)),
    FaultKind(
        "partition", Partition, "partition:AT:DURATION[:NODE]", _partition_parse,
        lambda f: f"{f.node} is cut off from the network for {f.duration_ms:g} ms",
        ("partition", "heal"),
        lambda at, rng, node: Partition(at, _r(rng.uniform(50.0, 8000.0)), node),
        lambda st, at, node: st.builds(Partition, at, st.integers(1, 8000).map(float), node),
        durations=("duration_ms",)),
    FaultKind(
        "clock", Clock, "clock:AT:OFFSET[:DRIFT][:NODE]", _clock_parse,
        lambda f: f"{f.node}'s clock jumps {f.offset_ms:+g} ms (drift {f.drift:g})",
        ("clock",),
        lambda at, rng, node: Clock(at, _r(rng.uniform(-3000.0, 3000.0)),
                                    _r(rng.uniform(-0.2, 0.2), 4),
                                    "app1" if node == "holder" else node),
        lambda st, at, node: st.builds(Clock, at, st.integers(-3000, 3000).map(float),
                                       st.integers(-200, 200).map(lambda d: d / 1000.0),
                                       st.sampled_from(("app1", "app2")))),
    FaultKind(
        "crash", Crash, "crash:AT[:RESTART_AFTER][:NODE]", _crash_parse, _crash_story,
        ("crash", "restart"),
        lambda at, rng, node: Crash(at, _r(rng.uniform(100.0, 3000.0)), node),
        lambda st, at, node: st.builds(
            Crash, at, st.one_of(st.none(), st.integers(1, 3000).map(float)), node),
        durations=("restart_after_ms",)),
)}

ALIASES: dict[str, str] = {a: k.name for k in FAULTS.values() for a in k.aliases}
KNOWN_NAMES: tuple[str, ...] = (*FAULTS, *ALIASES)
"""Every accepted spelling: the names first, then the old ones."""
FAULT_EVENTS: frozenset[str] = frozenset(e for k in FAULTS.values() for e in k.events)
"""Every nemesis op a fault can record."""
FAULT_KINDS: dict[str, type] = {name: k.type for name, k in FAULTS.items()}
"""Name -> value type (kept for callers of the old mapping)."""
_BY_TYPE: dict[type, FaultKind] = {k.type: k for k in FAULTS.values()}


def kind(name: str) -> FaultKind:
    """The kind called ``name`` (or an old spelling of it); FaultError when unknown."""
    found = FAULTS.get(ALIASES.get(name, name))
    if found is None:
        raise FaultError(f"unknown fault kind {name!r}; known: {', '.join(FAULTS)}")
    return found


def kind_of(fault: Fault) -> FaultKind:
    return _BY_TYPE[type(fault)]


# -- validation, the CLI grammar, JSON -------------------------------------------------------

_NODE = re.compile(r"(holder|redis(?:[1-9][0-9]*)?|app[1-9][0-9]*(?:/redis[1-9][0-9]*)?)")


def validate(fault: Fault) -> Fault:
    """The fault if it makes sense: finite numbers, times not negative, a known target."""
    k = kind_of(fault)
    for f in fields(fault):
        value = getattr(fault, f.name)
        if isinstance(value, float | int) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise FaultError(f"{k.name} fault: {f.name} must be finite, not {value}")
            if (f.name == "at_ms" or f.name in k.durations or f.name == "extra_ms") and value < 0:
                raise FaultError(f"{k.name} fault: {f.name} must not be negative, not {value:g}")
    if not isinstance(fault.node, str) or not _NODE.fullmatch(fault.node):
        raise FaultError(f"{k.name} fault: unknown target {fault.node!r} "
                         "(app1.., redis, redis1.., app1/redis2 or holder)")
    return fault


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_fault(spec: str) -> Fault:
    """Read a CLI spec: ``pause:AT:DURATION[:NODE]``, ``crash:AT[:RESTART_AFTER][:NODE]``,
    ``delay:AT:DURATION:EXTRA[:NODE]``, ``partition:AT:DURATION[:NODE]``,
    ``clock:AT:OFFSET[:DRIFT][:NODE]``; times in ms, NODE app1.., redis or holder."""
    head, *rest = spec.split(":")
    k = FAULTS.get(ALIASES.get(head, head))
    if k is None:
        raise FaultError(f"cannot read fault {spec!r}: unknown kind {head!r}; "
                         f"known: {', '.join(FAULTS)}")
    node = "holder"
    if rest and not _is_number(rest[-1]):
        node = rest.pop()
    try:
        fault = k.parse([float(x) for x in rest], node)
    except ValueError:
        fault = None
    if fault is None:
        raise FaultError(f"cannot read fault {spec!r}; the form is {k.spec}")
    try:
        return validate(fault)
    except FaultError as exc:
        raise FaultError(f"cannot read fault {spec!r}: {exc}") from None


def fault_to_dict(fault: Fault) -> dict[str, Any]:
    return asdict(fault)


def fault_from_dict(data: dict[str, Any]) -> Fault:
    """Build a fault from JSON data; one clear ValueError line when it is wrong."""
    if not isinstance(data, dict):
        raise FaultError(f"a fault must be an object, not {type(data).__name__}")
    name = data.get("kind")
    k = FAULTS.get(ALIASES.get(name, name)) if isinstance(name, str) else None
    if k is None:
        raise FaultError(f"unknown fault kind {name!r}; known: {', '.join(FAULTS)}")
    try:
        fault = k.type(**{**data, "kind": k.name})
    except TypeError as exc:
        raise FaultError(f"bad {k.name} fault {data}: {exc}") from None
    try:
        return validate(fault)
    except FaultError as exc:
        raise FaultError(f"{exc}: {data}") from None


def describe(fault: Fault) -> str:
    """One line for a story: what, where, when."""
    return kind_of(fault).describe(fault)  # type: ignore[no-any-return]


def scaled(fault: Fault, x: float) -> Fault:
    """The same fault on a time axis stretched by ``x`` (start and durations)."""
    changes: dict[str, Any] = {"at_ms": fault.at_ms * x}
    for name in kind_of(fault).durations:
        value = getattr(fault, name)
        if value is not None:
            changes[name] = value * x
    return replace(fault, **changes)


def swarm_fault(name: str, rng: Uniform, node: str) -> Fault:
    """One swarm draw of kind ``name``: the start first, then the kind's own ranges."""
    k = kind(name)
    at = round(rng.uniform(0.0, 3000.0), 3)
    return k.swarm(at, rng, node)


# -- one node's network fault windows (a policy both worlds apply) ----------------------------


class NetFaults:
    """Active delay and partition windows of one node."""

    __slots__ = ("delays", "partitions")

    def __init__(self) -> None:
        self.delays: list[tuple[float, float, float]] = []  # start, end, extra
        self.partitions: list[tuple[float, float]] = []  # start, end

    def adjust(self, depart: float, arrive: float) -> float:
        for start, end, extra in self.delays:
            if start <= depart < end:
                arrive += extra
        for start, end in self.partitions:
            if start <= depart < end:
                arrive = max(arrive, end + (arrive - depart))
        return arrive
