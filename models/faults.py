"""Faults as data: what happens to which node, when, for how long.

A fault schedule is a tuple of these values, part of the scenario, so a
counterexample replays it exactly. ``node`` is an app server name (``app1``),
``redis``, or ``holder``: the app server whose request holds the lock when
the fault starts (resolved at that instant, deterministically).

A fault may also wait for a protocol event after ``at_ms`` (its ``trigger``):
the target request's k-th Redis command, a lease run down to a fraction by
Redis's TTL, a renewal or a release in flight, the holder's storage write.
Times alone almost never land in the few milliseconds where lock bugs live.

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

TRIGGER_EVENTS = ("cmd", "lease", "renewal", "release", "write")
_NET_EVENTS = ("cmd", "lease", "renewal", "release")  # storage traffic is not on the network
TRIGGER_FORMS = {"cmd": "cmd=K", "lease": "lease=F", "renewal": "renewal", "release": "release",
                 "write": "write"}
TRIGGER_DOCS = {
    "cmd": "Right after the target request's K-th Redis command after AT (between two commands).",
    "lease": "When the holder's key has fraction F of its TTL left, by Redis's own clock.",
    "renewal": "While a command the holder sends while it holds (a renewal, an extend) is in "
               "flight.",
    "release": "While the holder's release command is in flight.",
    "write": "Just before the holder sends its storage write, after the read it checked.",
}
"""The ``@TRIGGER`` forms and their one line each, for ``locksim list``."""


@dataclass(frozen=True, slots=True)
class Trigger:
    """The protocol event a fault waits for once ``at_ms`` has passed.

    ``cmd`` (``n``): the target request's n-th Redis command after ``at_ms`` (its
    SUBSCRIBEs, on the subscriber connection, do not count);
    ``lease`` (``fraction``): the holder's key has that fraction of its TTL
    left, by Redis's clock; ``renewal``: a command the holder sends while it
    holds (a renewal, an extend, a check) is in flight; ``release``: the
    release's command is in flight; ``write``: the holder is about to send its
    storage write (a pause lands between its last check and the write). A
    delay or partition catches the event's command itself; a crash or pause
    falls right after it is sent; a lost reply loses its reply.
    """

    event: str
    n: int = 1
    fraction: float = 0.0

    def __str__(self) -> str:
        if self.event == "cmd":
            return f"cmd={self.n}"
        if self.event == "lease":
            return f"lease={self.fraction!r}"  # repr: the text reads back exactly
        return self.event

    def tell(self) -> str:
        """The story's words for it."""
        if self.event == "cmd":
            return f"right after its {_ordinal(self.n)} Redis command"
        if self.event == "lease":
            return f"when its lease has {self.fraction:.0%} left"
        return {"renewal": "while a renewal is in flight",
                "release": "while its release is in flight",
                "write": "just before its storage write"}[self.event]


def _coerce_trigger(fault: object) -> None:
    """Accept a trigger as its text or as ``asdict`` left it: ``type(f)(**asdict(f))`` and
    ``Pause(..., trigger="cmd=2")`` both give a Trigger."""
    trigger = getattr(fault, "trigger", None)
    if isinstance(trigger, str):
        object.__setattr__(fault, "trigger", parse_trigger(trigger))
    elif isinstance(trigger, dict):
        try:
            object.__setattr__(fault, "trigger", Trigger(**trigger))
        except TypeError as exc:
            raise FaultError(f"bad trigger {trigger}: {exc}") from None


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def parse_trigger(text: str) -> Trigger:
    """Read ``cmd=K``, ``lease=F``, ``renewal``, ``release`` or ``write``; FaultError if not."""
    if not isinstance(text, str):
        raise FaultError(f"a trigger is a string such as 'cmd=2', not {text!r}")
    head, _, arg = text.partition("=")
    if head in ("renewal", "release", "write") and not arg:
        return Trigger(head)
    try:
        if head == "cmd" and arg:
            n = int(arg)
            if not 1 <= n <= 1000:
                raise FaultError(f"trigger {text!r}: cmd=K needs 1 <= K <= 1000")
            return Trigger("cmd", n=n)
        if head == "lease" and arg:
            fraction = float(arg)
            if not 0.0 < fraction <= 1.0:
                raise FaultError(f"trigger {text!r}: lease=F needs 0 < F <= 1")
            return Trigger("lease", fraction=fraction)
    except ValueError as exc:
        if isinstance(exc, FaultError):
            raise
    raise FaultError(f"cannot read trigger {text!r}; the forms are cmd=K, lease=F, "
                     "renewal, release, write")


@dataclass(frozen=True, slots=True)
class Pause:
    """Stop-the-world pause (GC, CPU starvation, SIGSTOP) of a whole app server."""

    at_ms: float
    duration_ms: float
    node: str = "holder"
    kind: str = "pause"
    trigger: Trigger | None = None

    def __post_init__(self) -> None:
        _coerce_trigger(self)


@dataclass(frozen=True, slots=True)
class Crash:
    """An app server dies: in-flight requests are lost, their locks left to expire."""

    at_ms: float
    restart_after_ms: float | None = 1000.0
    node: str = "holder"
    kind: str = "crash"
    trigger: Trigger | None = None

    def __post_init__(self) -> None:
        _coerce_trigger(self)


@dataclass(frozen=True, slots=True)
class Delay:
    """Extra one-way latency on every message to and from a node (both directions)."""

    at_ms: float
    duration_ms: float
    extra_ms: float
    node: str = "holder"
    kind: str = "delay"
    trigger: Trigger | None = None

    def __post_init__(self) -> None:
        _coerce_trigger(self)


@dataclass(frozen=True, slots=True)
class Partition:
    """A node's connections carry nothing until healed; TCP then delivers in order."""

    at_ms: float
    duration_ms: float
    node: str = "holder"
    kind: str = "partition"
    trigger: Trigger | None = None

    def __post_init__(self) -> None:
        _coerce_trigger(self)


@dataclass(frozen=True, slots=True)
class Clock:
    """An app server's local clock: a step ``offset_ms`` at ``at_ms``, and a drift rate."""

    at_ms: float
    offset_ms: float
    drift: float = 0.0
    node: str = "app1"
    kind: str = "clock"


@dataclass(frozen=True, slots=True)
class LostReply:
    """Redis runs the command but its reply never arrives: the client times out, outcome unknown.

    It strikes the target request's first command after ``at_ms`` (or the
    command of its trigger). The connection drops as the reply leaves Redis:
    the client gets ``TIMED_OUT`` then, or when its call's timeout fires first."""

    at_ms: float
    node: str = "holder"
    kind: str = "lost-reply"
    trigger: Trigger | None = None

    def __post_init__(self) -> None:
        _coerce_trigger(self)


@dataclass(frozen=True, slots=True)
class SlowStorage:
    """The database slows: each storage operation sent in the window takes ``extra_ms`` longer.

    Node ``storage``: everyone's; an app server or the holder: only its
    operations (a slow critical section, whose write can land after its
    lease ran out)."""

    at_ms: float
    duration_ms: float
    extra_ms: float
    node: str = "holder"
    kind: str = "slow-storage"
    trigger: Trigger | None = None

    def __post_init__(self) -> None:
        _coerce_trigger(self)


@dataclass(frozen=True, slots=True)
class RedisRestart:
    """Redis restarts without persistence: every key is gone; it is unreachable for ``down_ms``.

    Connections and subscriptions survive (clients reconnect at once); what
    is sent while it is down is served when it is back. A restart while Redis is
    paused or down strikes when it serves again."""

    at_ms: float
    down_ms: float = 0.0
    node: str = "redis"
    kind: str = "redis-restart"


@dataclass(frozen=True, slots=True)
class Failover:
    """Sentinel topologies: whichever node is master at ``at_ms`` dies, and Sentinel
    promotes a replica after ``down_after_ms``; the old master comes back (as a
    replica, its unreplicated writes gone) ``restart_after_ms`` later (None: never).

    ``node`` is always ``redis``: the master is resolved when it strikes."""

    at_ms: float
    restart_after_ms: float | None = None
    node: str = "redis"
    kind: str = "failover"


@dataclass(frozen=True, slots=True)
class Lag:
    """A replica lag spike: every write the master replicates to ``node`` (``redis``:
    every replica) in the window arrives ``extra_ms`` later, and so do its acks."""

    at_ms: float
    duration_ms: float
    extra_ms: float
    node: str = "redis"
    kind: str = "lag"


@dataclass(frozen=True, slots=True)
class Reconnect:
    """A connection reset mid-command; the client library reconnects, then errors or resends it.

    The target's connections to the node its command goes to break. ``ran``: Redis had
    run the command (its reply is lost with the connection) or the reset came first. The
    client library then does what ``client_library`` says: reconnect, and error the
    unanswered commands (redis-py, bare) or resend them (ioredis), resubscribe (redis-py,
    ioredis) or not (bare).

    It strikes the target request's first command after ``at_ms`` (or its trigger's)."""

    at_ms: float
    ran: bool = True
    node: str = "holder"
    kind: str = "reconnect"
    trigger: Trigger | None = None

    def __post_init__(self) -> None:
        _coerce_trigger(self)


Fault = (Pause | Crash | Delay | Partition | Clock | LostReply | SlowStorage | RedisRestart
         | Failover | Lag | Reconnect)


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
    triggers: tuple[str, ...] = ()
    """The ``Trigger`` events a fault of this kind may wait for (none: times only)."""
    targets: tuple[str, ...] = ("holder", "redis", "app")
    """What it may strike: ``holder``, ``redis``, ``storage``, ``app`` (app1, app2, ...)."""
    doc: str = ""
    """One line for ``locksim list`` when the type's docstring is not the whole story."""
    default: bool = True
    """In ``DEFAULT_KINDS``: a kind added later is asked for by name (``--faults reconnect``),
    so the default swarms (and their schedule ids) stay what they were."""
    ha: str = ""
    """Only for topologies with replicas (``replicas``: replicas:N or sentinel:N;
    ``sentinel``: sentinel:N). Such kinds are left out of ``DEFAULT_KINDS``, so the
    default swarms (and their schedule ids) stay what they were."""

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


def _lost_reply_parse(nums: list[float], node: str) -> Fault | None:
    return LostReply(nums[0], node) if len(nums) == 1 else None


def _slow_storage_parse(nums: list[float], node: str) -> Fault | None:
    return SlowStorage(nums[0], nums[1], nums[2], node) if len(nums) == 3 else None


def _restart_parse(nums: list[float], node: str) -> Fault | None:
    if len(nums) not in (1, 2):
        return None
    return RedisRestart(nums[0], nums[1] if len(nums) == 2 else 0.0,
                        "redis" if node == "holder" else node)


def _restart_story(f: RedisRestart) -> str:
    down = f", unreachable for {f.down_ms:g} ms" if f.down_ms else ""
    if f.node != "redis":  # a node of several: its persistence decides what it keeps
        return f"{f.node} restarts (it keeps what its persistence kept){down}"
    return f"redis restarts empty (every key lost){down}"


def _failover_parse(nums: list[float], node: str) -> Fault | None:
    if len(nums) not in (1, 2) or node not in ("holder", "redis"):
        return None
    return Failover(nums[0], nums[1] if len(nums) == 2 else None)


def _failover_story(f: Failover) -> str:
    back = (f", the old master is back {f.restart_after_ms:g} ms later"
            if f.restart_after_ms is not None else "")
    return f"the master dies and Sentinel promotes a replica{back}"


def _lag_parse(nums: list[float], node: str) -> Fault | None:
    if len(nums) != 3:
        return None
    return Lag(nums[0], nums[1], nums[2], "redis" if node == "holder" else node)


def _lag_story(f: Lag) -> str:
    who = "every replica" if f.node == "redis" else f.node
    return f"replication to {who} lags {f.extra_ms:g} ms more for {f.duration_ms:g} ms"


def _slow_storage_swarm(at: float, rng: Uniform, node: str) -> Fault:
    duration, extra = _r(rng.uniform(100.0, 6000.0)), _r(rng.uniform(50.0, 2000.0))
    return SlowStorage(at, duration, extra, "storage" if rng.uniform(0.0, 1.0) < 0.3 else node)


def _redis_swarm(at: float, rng: Uniform, node: str) -> Fault:
    """Redis itself: a restart, a pause (a slow script, a fork), a partition or a delay."""
    u = rng.uniform(0.0, 4.0)
    if u < 1.0:
        return RedisRestart(at, _r(rng.uniform(0.0, 2000.0)))
    if u < 2.0:
        return Pause(at, _r(rng.uniform(50.0, 6000.0)), "redis")
    if u < 3.0:
        return Partition(at, _r(rng.uniform(50.0, 6000.0)), "redis")
    return Delay(at, _r(rng.uniform(100.0, 6000.0)), _r(rng.uniform(1.0, 3000.0)), "redis")


def _redis_strategy(st: Any, at: Any, node: Any) -> Any:
    ms = st.integers(1, 6000).map(float)
    return st.one_of(st.builds(RedisRestart, at, st.integers(0, 2000).map(float)),
                     st.builds(Pause, at, ms, st.just("redis")),
                     st.builds(Partition, at, ms, st.just("redis")),
                     st.builds(Delay, at, ms, st.integers(1, 3000).map(float), st.just("redis")))


def _reconnect_parse(nums: list[float], node: str) -> Fault | None:
    if len(nums) not in (1, 2) or (len(nums) == 2 and nums[1] not in (0.0, 1.0)):
        return None
    return Reconnect(nums[0], len(nums) == 1 or nums[1] == 1.0, node)


def _reconnect_story(f: Reconnect) -> str:
    which = f"a Redis command of {f.node}" if f.trigger else f"{f.node}'s next Redis command"
    what = "after Redis ran it (the reply is lost)" if f.ran else "before Redis read it"
    return f"the connection under {which} resets {what}; its client library reconnects"


def _reconnect_swarm(at: float, rng: Uniform, node: str) -> Fault:
    ran = rng.uniform(0.0, 1.0) < 0.5
    lost = _lost_reply_swarm(at, rng, node)
    return Reconnect(at, ran, node, trigger=getattr(lost, "trigger", None))


def _reconnect_strategy(st: Any, at: Any, node: Any) -> Any:
    trigger = st.one_of(st.none(), st.integers(1, 4).map(lambda n: Trigger("cmd", n=n)),
                        st.sampled_from((Trigger("renewal"), Trigger("release"))))
    return st.builds(Reconnect, at, st.booleans(), node, trigger=trigger)


def _lost_reply_swarm(at: float, rng: Uniform, node: str) -> Fault:
    u = rng.uniform(0.0, 1.0)
    trigger = (None if u < 0.3 else Trigger("cmd", n=2) if u < 0.7
               else Trigger("renewal") if u < 0.85 else Trigger("release"))
    return LostReply(at, node, trigger=trigger)


def _lost_reply_strategy(st: Any, at: Any, node: Any) -> Any:
    trigger = st.one_of(st.none(), st.integers(1, 4).map(lambda n: Trigger("cmd", n=n)),
                        st.sampled_from((Trigger("renewal"), Trigger("release"))))
    return st.builds(LostReply, at, node, trigger=trigger)


# What an aimed draw may pick, and the events each of its kinds may wait for.
_AIMED = ("crash", "pause", "delay", "partition", "lost-reply", "slow-storage")


def _aimed_trigger(name: str, u: float, v: float) -> Trigger:
    events = FAULTS[name].triggers
    event = events[min(int(u * len(events)), len(events) - 1)]
    if event == "cmd":
        return Trigger("cmd", n=1 + min(int(v * 4), 3))
    if event == "lease":
        return Trigger("lease", fraction=round(0.02 + 0.48 * v, 3))
    return Trigger(event)


def _aimed_swarm(at: float, rng: Uniform, node: str) -> Fault:
    """A fault of one of the aimable kinds, waiting for a drawn protocol event."""
    name = _AIMED[min(int(rng.uniform(0.0, len(_AIMED))), len(_AIMED) - 1)]
    trigger = _aimed_trigger(name, rng.uniform(0.0, 1.0), rng.uniform(0.0, 1.0))
    target = node if node != "redis" else "holder"  # a trigger's event is an app's
    base = FAULTS[name].swarm(at, rng, target)
    return replace(base, node=target, trigger=trigger)  # type: ignore[type-var, arg-type]


def _aimed_strategy(st: Any, at: Any, node: Any) -> Any:
    def aim(name: str) -> Any:
        k = FAULTS[name]
        return st.tuples(k.strategy(st, at, node), node, st.floats(0, 1),
                         st.floats(0, 1)).map(
            lambda t, n=name: replace(t[0], node=t[1] if t[1] != "redis" else "holder",
                                      trigger=_aimed_trigger(n, t[2], t[3])))
    return st.one_of(*(aim(n) for n in _AIMED))


def _r(x: float, digits: int = 3) -> float:
    return round(x, digits)


FAULTS: dict[str, FaultKind] = {k.name: k for k in (
    FaultKind(
        "pause", Pause, "pause:AT:DURATION[:NODE][@TRIGGER]", _pause_parse,
        lambda f: f"{f.node} pauses (stop-the-world) for {f.duration_ms:g} ms",
        ("pause", "resume"),
        lambda at, rng, node: Pause(at, _r(rng.uniform(50.0, 9000.0)), node),
        lambda st, at, node: st.builds(Pause, at, st.integers(1, 9000).map(float), node),
        durations=("duration_ms",), aliases=("gc-pause",), seed_name="gc-pause",
        triggers=TRIGGER_EVENTS),
    FaultKind(
        "delay", Delay, "delay:AT:DURATION:EXTRA[:NODE][@TRIGGER]", _delay_parse,
        lambda f: f"{f.node}'s network slows by {f.extra_ms:g} ms for {f.duration_ms:g} ms",
        ("delay",),
        lambda at, rng, node: Delay(at, _r(rng.uniform(100.0, 6000.0)),
                                    _r(rng.uniform(1.0, 3000.0)), node),
        lambda st, at, node: st.builds(Delay, at, st.integers(1, 6000).map(float),
                                       st.integers(1, 3000).map(float), node),
        durations=("duration_ms",), triggers=_NET_EVENTS),
    FaultKind(
        "partition", Partition, "partition:AT:DURATION[:NODE][@TRIGGER]", _partition_parse,
        lambda f: f"{f.node} is cut off from the network for {f.duration_ms:g} ms",
        ("partition", "heal"),
        lambda at, rng, node: Partition(at, _r(rng.uniform(50.0, 8000.0)), node),
        lambda st, at, node: st.builds(Partition, at, st.integers(1, 8000).map(float), node),
        durations=("duration_ms",), triggers=_NET_EVENTS),
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
        "crash", Crash, "crash:AT[:RESTART_AFTER][:NODE][@TRIGGER]", _crash_parse, _crash_story,
        ("crash", "restart"),
        lambda at, rng, node: Crash(at, _r(rng.uniform(100.0, 3000.0)), node),
        lambda st, at, node: st.builds(
            Crash, at, st.one_of(st.none(), st.integers(1, 3000).map(float)), node),
        durations=("restart_after_ms",), triggers=TRIGGER_EVENTS),
    FaultKind(
        "lost-reply", LostReply, "lost-reply:AT[:NODE][@TRIGGER]", _lost_reply_parse,
        lambda f: (f"a Redis command of {f.node} runs but its reply is lost" if f.trigger
                   else f"{f.node}'s next Redis command runs but its reply is lost"),
        ("lost-reply",), _lost_reply_swarm, _lost_reply_strategy,
        triggers=("cmd", "lease", "renewal", "release"), targets=("holder", "app")),
    FaultKind(
        "slow-storage", SlowStorage, "slow-storage:AT:DURATION:EXTRA[:NODE][@TRIGGER]",
        _slow_storage_parse,
        lambda f: (f"the database answers {'every node' if f.node == 'storage' else f.node} "
                   f"{f.extra_ms:g} ms slower for {f.duration_ms:g} ms"),
        ("slow-storage",),
        _slow_storage_swarm,
        lambda st, at, node: st.builds(SlowStorage, at, st.integers(1, 6000).map(float),
                                       st.integers(1, 2000).map(float),
                                       st.one_of(node, st.just("storage"))),
        durations=("duration_ms",), triggers=("cmd", "lease", "write"),
        targets=("holder", "storage", "app")),
    FaultKind(
        "redis-restart", RedisRestart, "redis-restart:AT[:DOWN]", _restart_parse,
        _restart_story, ("crash", "restart"),
        lambda at, rng, node: RedisRestart(at, _r(rng.uniform(0.0, 2000.0))),
        lambda st, at, node: st.builds(RedisRestart, at, st.integers(0, 2000).map(float)),
        durations=("down_ms",), targets=("redis",)),
    FaultKind(
        "failover", Failover, "failover:AT[:RESTART_AFTER]", _failover_parse,
        _failover_story, ("crash", "restart", "failover"),
        lambda at, rng, node: Failover(
            at, None if rng.uniform(0.0, 1.0) < 0.5 else _r(rng.uniform(100.0, 3000.0))),
        lambda st, at, node: st.builds(
            Failover, at, st.one_of(st.none(), st.integers(1, 3000).map(float))),
        durations=("restart_after_ms",), targets=("redis",), ha="sentinel",
        doc="sentinel:N only: the master dies at AT and Sentinel promotes a replica "
            "(RESTART_AFTER: the old master returns, demoted)."),
    FaultKind(
        "lag", Lag, "lag:AT:DURATION:EXTRA[:NODE]", _lag_parse, _lag_story, ("lag",),
        lambda at, rng, node: Lag(at, _r(rng.uniform(100.0, 6000.0)),
                                  _r(rng.uniform(10.0, 3000.0))),
        lambda st, at, node: st.builds(Lag, at, st.integers(1, 6000).map(float),
                                       st.integers(1, 3000).map(float)),
        durations=("duration_ms",), targets=("redis",), ha="replicas",
        doc="replicas:N, sentinel:N: a replica lag spike; NODE a replica (default redis: "
            "every replica)."),
    FaultKind(
        "reconnect", Reconnect, "reconnect:AT[:RAN][:NODE][@TRIGGER]", _reconnect_parse,
        _reconnect_story, ("reconnect",), _reconnect_swarm, _reconnect_strategy,
        triggers=("cmd", "lease", "renewal", "release"), targets=("holder", "app"),
        default=False,
        doc="A connection reset mid-command between an app server and Redis; RAN 1 (the "
            "default): Redis ran it, 0: it never arrived. Then client_library: redis-py errors "
            "it, ioredis resends it (a SET NX that ran runs again), bare does not resubscribe."),
)}


class Aimed:
    """Not a value: a draw (``aimed``, ``redis``) yields faults of other kinds."""


DRAWS: dict[str, FaultKind] = {k.name: k for k in (
    FaultKind(
        "aimed", Aimed, "aimed", lambda nums, node: None, str, (),
        _aimed_swarm, _aimed_strategy, targets=("holder", "app"),
        doc="A crash, pause, delay, partition, lost reply or slow storage aimed at a "
            "protocol event (a drawn trigger): for --faults and Hypothesis."),
    FaultKind(
        "redis", Aimed, "redis", lambda nums, node: None, str, (),
        _redis_swarm, _redis_strategy, targets=("redis",),
        doc="Redis itself faulted: a restart, a pause, a partition or a delay of node "
            "redis (swarms never aim the other kinds at it)."),
)}
"""Names ``--faults`` and the strategies accept that draw faults of other kinds."""

DEFAULT_KINDS: tuple[str, ...] = (
    *(k for k in FAULTS if not FAULTS[k].ha and FAULTS[k].default), *DRAWS)
"""What ``check`` explores when ``--faults`` is not given: every kind that needs no
replicas, and the draws (``failover``, ``lag`` and ``reconnect`` are asked for by name)."""
HA_KINDS: tuple[str, ...] = tuple(k for k in FAULTS if FAULTS[k].ha)
"""Kinds that need a topology with replicas (``FaultKind.ha``)."""

ALIASES: dict[str, str] = {a: k.name for k in FAULTS.values() for a in k.aliases}
KNOWN_NAMES: tuple[str, ...] = (*FAULTS, *DRAWS, *ALIASES)
"""Every accepted spelling: the names first, the draws, then the old ones."""
FAULT_EVENTS: frozenset[str] = frozenset(e for k in FAULTS.values() for e in k.events)
"""Every nemesis op a fault can record."""
FAULT_KINDS: dict[str, type] = {name: k.type for name, k in FAULTS.items()}
"""Name -> value type (kept for callers of the old mapping)."""
_BY_TYPE: dict[type, FaultKind] = {k.type: k for k in FAULTS.values()}


def kind(name: str) -> FaultKind:
    """The kind called ``name`` (or an old spelling of it); FaultError when unknown."""
    found = FAULTS.get(ALIASES.get(name, name)) or DRAWS.get(name)
    if found is None:
        raise FaultError(f"unknown fault kind {name!r}; known: {', '.join((*FAULTS, *DRAWS))}")
    return found


def kind_of(fault: Fault) -> FaultKind:
    return _BY_TYPE[type(fault)]


# -- validation, the CLI grammar, JSON -------------------------------------------------------

_NODE = re.compile(r"(holder|storage|sentinel(?:[1-9][0-9]*)?|redis(?:[1-9][0-9]*)?"
                   r"|(?:app|redis)[1-9][0-9]*/(?:redis[1-9][0-9]*|sentinel(?:[1-9][0-9]*)?)"
                   r"|app[1-9][0-9]*)")
_APP = re.compile(r"app[1-9][0-9]*")
_REDIS = re.compile(r"redis(?:[1-9][0-9]*)?")
_LINK = re.compile(r"(?:app|redis)[1-9][0-9]*/(?:redis[1-9][0-9]*|sentinel(?:[1-9][0-9]*)?)"
                   r"|sentinel(?:[1-9][0-9]*)?")
"""One link between two ends (``app1/redis3``, ``redis1/redis2``, ``redis1/sentinel``:
to every Sentinel, ``redis1/sentinel2``: to one, ``app2/sentinel``), ``sentinel``: every
Sentinel cut from everyone (each other too), or ``sentinel2``: that one."""
_LINK_KINDS = ("delay", "partition")  # what one link between two ends can suffer


def _targets(k: FaultKind) -> str:
    if k.ha == "sentinel":
        return "redis: whichever node is master when it strikes"
    words = {"app": "app1..", "holder": "holder", "redis": "redis (redis1.. with several nodes)",
             "storage": "storage"}
    shown = [words[t] for t in k.targets]
    if k.name in _LINK_KINDS:
        shown.append("app1/redis2, redis1/redis2, redis1/sentinel, app1/sentinel, "
                      "redis1/sentinel2 (one link), sentinel, sentinel2, sentinel1/sentinel2")
    return ", ".join(shown)


def _allowed(k: FaultKind, node: str) -> bool:
    """Whether ``node`` is a kind of target ``k`` strikes (``redis2`` counts as redis)."""
    if node in k.targets:
        return True
    if _APP.fullmatch(node):
        return "app" in k.targets
    if _REDIS.fullmatch(node):
        return "redis" in k.targets
    return bool(_LINK.fullmatch(node)) and k.name in _LINK_KINDS


def validate(fault: Fault) -> Fault:
    """The fault if it makes sense: finite numbers, times not negative, a target and a
    trigger its kind allows."""
    k = kind_of(fault)
    for f in fields(fault):
        value = getattr(fault, f.name)
        if isinstance(value, float | int) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise FaultError(f"{k.name} fault: {f.name} must be finite, not {value}")
            if (f.name == "at_ms" or f.name in k.durations or f.name == "extra_ms") and value < 0:
                raise FaultError(f"{k.name} fault: {f.name} must not be negative, not {value:g}")
    if isinstance(fault, Reconnect) and not isinstance(fault.ran, bool):
        raise FaultError(f"reconnect fault: ran must be true or false, not {fault.ran!r}")
    node = fault.node
    if (not isinstance(node, str) or not _NODE.fullmatch(node)
            or not _allowed(k, node) or (k.ha == "sentinel" and node != "redis")):
        raise FaultError(f"{k.name} fault: unknown target {node!r} ({_targets(k)})")
    trigger = getattr(fault, "trigger", None)
    if trigger is not None:
        if not isinstance(trigger, Trigger):
            raise FaultError(f"{k.name} fault: trigger must be a Trigger, not {trigger!r}")
        try:
            again = parse_trigger(str(trigger))
        except FaultError as exc:
            raise FaultError(f"{k.name} fault: {exc}") from None
        if again != trigger:  # its text must say all of it: that is what JSON keeps
            raise FaultError(f"{k.name} fault: trigger {trigger!r} does not read back "
                             f"from its text {str(trigger)!r}")
        if trigger.event not in k.triggers:
            allowed = ", ".join(k.triggers) or "none"
            raise FaultError(f"{k.name} fault cannot wait for {trigger.event!r} "
                             f"(its triggers: {allowed})")
        if node != "holder" and not _APP.fullmatch(node):
            raise FaultError(f"{k.name} fault: a trigger needs a holder or app target, "
                             f"not {node!r}")
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
    ``clock:AT:OFFSET[:DRIFT][:NODE]``, ``lost-reply:AT[:NODE]``,
    ``slow-storage:AT:DURATION:EXTRA[:NODE]``, ``redis-restart:AT[:DOWN]``,
    ``failover:AT[:RESTART_AFTER]``, ``lag:AT:DURATION:EXTRA[:NODE]``,
    ``reconnect:AT[:RAN][:NODE]``; times in ms,
    NODE app1.., redis, storage, holder, or one link (``redis1/sentinel``). ``@TRIGGER``
    at the end makes it wait for a protocol event (``crash:0@cmd=1``,
    ``pause:0:3000@lease=0.1``, ``@renewal``, ...)."""
    body, at_sign, trigger_text = spec.partition("@")
    head, *rest = body.split(":")
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
        if at_sign:
            if not k.triggers:
                raise FaultError(f"{k.name} fault cannot wait for a protocol event")
            fault = replace(fault, trigger=parse_trigger(trigger_text))  # type: ignore[type-var, arg-type]
        return validate(fault)
    except FaultError as exc:
        raise FaultError(f"cannot read fault {spec!r}: {exc}") from None


def fault_to_dict(fault: Fault) -> dict[str, Any]:
    """JSON data; a fault with no trigger has no ``trigger`` key (old files stay as they were)."""
    data = asdict(fault)
    trigger = getattr(fault, "trigger", None)
    if trigger is None:
        data.pop("trigger", None)
    else:
        data["trigger"] = str(trigger)
    return data


def fault_from_dict(data: dict[str, Any]) -> Fault:
    """Build a fault from JSON data; one clear ValueError line when it is wrong."""
    if not isinstance(data, dict):
        raise FaultError(f"a fault must be an object, not {type(data).__name__}")
    name = data.get("kind")
    k = FAULTS.get(ALIASES.get(name, name)) if isinstance(name, str) else None
    if k is None:
        raise FaultError(f"unknown fault kind {name!r}; known: {', '.join(FAULTS)}")
    given = {**data, "kind": k.name}
    try:
        if given.get("trigger") is not None:
            if not k.triggers:
                raise FaultError(f"{k.name} fault cannot wait for a protocol event")
            given["trigger"] = parse_trigger(given["trigger"])
        fault = k.type(**given)
    except TypeError as exc:
        raise FaultError(f"bad {k.name} fault {data}: {exc}") from None
    except FaultError as exc:
        raise FaultError(f"{exc}: {data}") from None
    try:
        return validate(fault)
    except FaultError as exc:
        raise FaultError(f"{exc}: {data}") from None


def describe(fault: Fault) -> str:
    """One line for a story: what, where, and the protocol event it waited for."""
    line: str = kind_of(fault).describe(fault)
    trigger = getattr(fault, "trigger", None)
    if trigger is not None:
        line += f", {trigger.tell()} (@{trigger})"
    return line


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
