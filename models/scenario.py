"""A scenario: everything a run depends on besides the code, as one immutable value.

Defaults describe the field report's system (2 NestJS servers, 1 Redis,
k6 with ~100 virtual users issuing 957 coupons) and are calibrated so the
fault-free run lands on the report's table 7.1 (see the README).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import operator
import typing
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from models.client_library import CLIENT_LIBRARIES
from models.dist import Dist
from models.faults import Fault, fault_from_dict, fault_to_dict, kind_of
from models.priorities import check as check_priorities
from models.topology import (
    MAX_SENTINELS,
    Topology,
    TopologyError,
    fault_targets,
    parse_topology,
)
from models.validation import (
    Checker,
    ValueProblem,
    at_least,
    at_most,
    check_fields,
    field_checkers,
    positive,
)


class ScenarioError(ValueError):
    """A scenario that cannot run; the message is one line saying why."""


NO_THINK = Dist("const", 0.0)
CLIENT_LATENCY = Dist("uniform", 0.3, 0.7)
REDIS_LATENCY = Dist("uniform", 0.05, 0.15)
STORAGE_LATENCY = Dist("uniform", 1.4, 2.0)
REPLICA_LAG = Dist("uniform", 0.1, 1.0)

# The smallest value each number may take (types come from the annotations).
MINIMUM = {
    "servers": 1, "requests": 0, "vus": 1, "first_user": 0, "repeat_users": 1, "stock": 0,
    "redis_service_ms": 0, "script_service_ms": 0, "callback_cpu_ms": 0, "handler_cpu_ms": 0,
    "seed": 0, "restart_delay_ms": 0, "down_after_ms": 0, "min_replicas_to_write": 0,
    "min_replicas_max_lag_s": 0, "sentinels": 1, "sentinel_quorum": 1,
}
# The largest: past these a run would take days or exhaust memory, which is never
# what the user meant (a typo, or a unit mixed up).
MAX_MS = 1e10
"""The longest time any field may name (about 115 days): a run, a delay or a lease past
it is a typo or a unit mixed up, and would be reported as 'never struck' or as a hang."""
MAXIMUM = {"servers": 1000, "requests": 10_000_000, "vus": 1_000_000, "horizon_ms": MAX_MS,
           "seed": 2**63 - 1, "stock": 2**62, "sentinels": MAX_SENTINELS,
           "sentinel_quorum": MAX_SENTINELS, "restart_delay_ms": MAX_MS,
           "down_after_ms": MAX_MS, "min_replicas_max_lag_s": MAX_MS / 1000,
           "min_replicas_to_write": 1000, "redis_service_ms": MAX_MS,
           "script_service_ms": MAX_MS, "callback_cpu_ms": MAX_MS, "handler_cpu_ms": MAX_MS,
           "first_user": 2**62, "repeat_users": 2**62}


TOPOLOGY_FIELDS = ("topology", "persistence", "restart_delay_ms", "redis_clocks", "replica_lag",
                   "down_after_ms", "min_replicas_to_write", "min_replicas_max_lag_s",
                   "client_library", "sentinels", "sentinel_quorum")
"""Fields of the multi-node world (issue 15); left out of JSON while at their defaults."""


def _check_fault(i: int, fault: object) -> None:
    def where() -> str:
        return f"faults: item {i} ({getattr(fault, 'kind', '?')})"

    cls: type = type(fault)
    if not dataclasses.is_dataclass(cls):
        raise ValueProblem(f"{where()}: not a fault but {cls.__name__}")
    for fname, checker, duration in _fault_fields(cls):
        value = getattr(fault, fname)
        problem = checker(value, False)
        if problem:
            raise ValueProblem(f"{where()}: {fname}: {problem}")
        if duration and value is not None and value < 0:
            raise ValueProblem(f"{where()}: {fname} must not be negative, not {value:g}")
        if duration and value is not None and value > MAX_MS:
            raise ValueProblem(f"{where()}: {fname} must be at most {MAX_MS:g} ms, "
                               f"not {value:g}")


@functools.cache
def _fault_fields(cls: type) -> tuple[tuple[str, Checker, bool], ...]:
    """Each field's type check, and whether it is a duration (``*_ms`` but an offset)."""
    return tuple((n, c, n.endswith("_ms") and n != "offset_ms") for n, c in field_checkers(cls))


def _check_design(lock: str, params: tuple[tuple[str, Any], ...]) -> None:
    """The design must exist and accept these parameters (designs validate their own).

    Remembered per (design factory, parameters): explorers validate thousands of
    scenarios that share one design.
    """
    from models.locks import LOCKS, UnknownLock, make_lock

    try:
        key = (lock, params, id(LOCKS.get(lock)))
        if key in _GOOD_DESIGNS:
            return
    except TypeError:  # a list among the values: check it every time
        key = None
    try:
        design = make_lock(lock, **dict(params))
    except UnknownLock as exc:
        raise ScenarioError(str(exc)) from None
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"lock {lock!r}: {_one_line(exc)}") from None
    if dataclasses.is_dataclass(design):
        try:
            check_fields(design, loose=True)
            _design_numbers_in_range(design)
        except ValueProblem as exc:
            raise ScenarioError(f"lock {lock!r}: {exc}") from None
    if not callable(getattr(design, "acquire", None)) or not callable(
            getattr(design, "release", None)):
        raise ScenarioError(f"lock {lock!r} is not a lock design: it needs acquire(key) and "
                            "release(held) generators")
    if key is not None:
        if len(_GOOD_DESIGNS) > 4096:
            _GOOD_DESIGNS.clear()
        _GOOD_DESIGNS.add(key)


def _design_numbers_in_range(design: object) -> None:
    """A lock's numeric parameters are times, counts or fractions: none past ``MAX_MS``."""
    for f in dataclasses.fields(design):  # type: ignore[arg-type]
        value = getattr(design, f.name)
        if (isinstance(value, (int, float)) and not isinstance(value, bool)
                and abs(value) > MAX_MS):
            raise ValueProblem(f"{f.name} must be at most {MAX_MS:g}, not {value:g}")


_GOOD_DESIGNS: set[object] = set()
PER_SCHEDULE = ("faults", "seed", "requests", "vus", "arrivals_ms", "choices", "priorities",
                "priority_changes_ms")
"""The fields a search draws anew for every schedule of one template (swarm, PCT,
exhaustive choices): ``validate`` checks them every time and the rest once per shape."""
_GOOD_SHAPES: dict[tuple[int, ...], tuple[Any, ...]] = {}  # ids -> the values (kept alive)


def _shape_of(scenario: Scenario) -> tuple[Any, ...]:
    return _shape_getter()(scenario)  # type: ignore[no-any-return]


@functools.cache
def _shape_getter() -> Callable[[Any], Any]:
    return operator.attrgetter(*(f.name for f in fields(Scenario) if f.name not in PER_SCHEDULE))


@functools.cache
def _field_names() -> frozenset[str]:
    return frozenset(f.name for f in fields(Scenario))


@functools.cache
def _schedule_checkers() -> tuple[tuple[str, Checker], ...]:
    return tuple((n, c) for n, c in field_checkers(Scenario) if n in PER_SCHEDULE)
_UNSTEERED = ("priorities", "priority_changes_ms")
"""PCT steering fields (``models.priorities``): written only when set."""


def _defaults() -> dict[str, Any]:
    return {f.name: f.default for f in fields(Scenario)}


def _design(lock: str, params: tuple[tuple[str, Any], ...]) -> object:
    """The design, already known to build (``_check_design`` ran)."""
    from models.locks import make_lock

    return make_lock(lock, **dict(params))


def _type_name(hint: Any) -> str:
    if isinstance(hint, type):
        return hint.__name__
    text = str(hint)
    for prefix in ("typing.", "models.dist.", "models.faults."):
        text = text.replace(prefix, "")
    return text.replace(" | ", " or ")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


_ONLY_WHEN_SET = ("handler", "client_params")
"""Fields a scenario's JSON carries only when they are set (added with ``sim.aio``)."""


def about(default: Any, doc: str) -> Any:
    """A field with its default and the one line the scenario reference prints for it."""
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class Scenario:
    """One run's world. Times in ms, rates per second."""

    servers: int = about(2, 'app servers (Node.js-like event loops) behind nginx least_conn')
    requests: int = about(957, 'requests the load issues in all')
    vus: int = about(100, 'closed load: k6 virtual users, each looping request after request')
    load: str = about(
        "closed", '"closed" (k6 VUs looping), "open" (arrival rate) or "scheduled" (arrivals_ms)')
    rate_rps: float = about(100.0, 'open load only: arrivals per second (Poisson)')
    think: Dist = about(NO_THINK, "closed load: pause between a VU's requests")
    first_user: int = about(
        848, "user id of the first request (the report's userIds ran 848..1804)")
    repeat_users: int = about(1, 'requests per user id (2 = every user clicks twice)')
    arrivals_ms: tuple[float, ...] = about(
        (), '"scheduled" load: request i arrives at arrivals_ms[i]')
    lock: str = about("seed", 'the lock design, by registered name (locksim list)')
    lock_params: tuple[tuple[str, Any], ...] = about(
        (), 'the design\'s parameters, e.g. {"ttl_ms": 2000}')
    handler: str = about(
        "", 'MODULE:FUNCTION, an async request handler run in place of the lock design: '
        'real library code in the asyncio tier (sim/aio)')
    client_params: tuple[tuple[str, Any], ...] = about(
        (), "the handler's redis.asyncio.Redis keyword arguments (socket_timeout, retries, ...)")
    stock: int = about(1000, 'coupons in stock at the start')
    fencing_storage: bool = about(
        True, 'the database refuses operations with a fence lower than one it has seen')
    client_latency: Dist = about(CLIENT_LATENCY, 'k6 -> nginx -> app, one way')
    redis_latency: Dist = about(REDIS_LATENCY, 'app <-> redis, one way')
    storage_latency: Dist = about(STORAGE_LATENCY, 'app <-> database, one way')
    redis_service_ms: float = about(0.02, "CPU per command on Redis's single thread")
    script_service_ms: float = about(0.04, 'Redis CPU per EVAL')
    callback_cpu_ms: float = about(0.08, 'event-loop CPU per callback (reply, timer, message)')
    handler_cpu_ms: float = about(0.3, 'request handling CPU (routing, JSON, session)')
    faults: tuple[Fault, ...] = about(
        (), 'the fault schedule (see the fault kinds in locksim list)')
    seed: int = about(1, "the run's seed: every latency, think time and token is drawn from it")
    choices: tuple[int, ...] = about(
        (), "answers (0..1000) to the run's first draws, then the seed takes over")
    priorities: tuple[str, ...] = about(
        (), "PCT search: requests (req0, req1..) from highest to lowest priority; rank r of n "
        "draws its commands' latency from the r-th of n bands of redis_latency (0: fastest)")
    priority_changes_ms: tuple[float, ...] = about(
        (), "PCT search: at each of these times the highest-priority request drops to the lowest")
    horizon_ms: float = about(600_000.0, 'a run stops here even if requests are still waiting')
    redis_version: tuple[int, int] = about(
        (7, 0), 'the Redis dialect modelled, [major, minor] (6 or 7)')
    topology: str = about(
        "single", 'the Redis nodes: single, redlock:N (locksim list names them)')
    persistence: str = about(
        "none", "every node's persistence: none, aof-always, aof-everysec or rdb:MS")
    restart_delay_ms: float = about(
        0.0, 'a crashed Redis node comes back no sooner than this after its crash')
    redis_clocks: tuple[tuple[str, float, float], ...] = about(
        (), "Redis nodes' wall clocks at the start: [node, offset_ms, drift] each")
    replica_lag: Dist = about(
        REPLICA_LAG, 'replicas:N, sentinel:N: master -> replica delay of each replicated write')
    down_after_ms: float = about(
        30_000.0, "sentinel:N: Sentinel's down-after-milliseconds before it fails over")
    sentinels: int = about(3, "sentinel:N: how many Sentinels watch the master (sentinel1..)")
    sentinel_quorum: int = about(
        2, "sentinel:N: how many Sentinels must agree the master is down before one, elected "
        "by a majority, fails it over")
    min_replicas_to_write: int = about(
        0, "replicas:N, sentinel:N: every master's min-replicas-to-write; a write with fewer "
        "good replicas gets NOREPLICAS (0: off)")
    min_replicas_max_lag_s: float = about(
        10.0, "min-replicas-max-lag: a replica is good while its last report (every second) "
        "is at most this many seconds old")
    client_library: str = about(
        "redis-py", "what a client does when its connection breaks: redis-py (reconnect, "
        "resubscribe, never resend) or ioredis (also resends unanswered commands), bare "
        "(reconnect only)")
    extra: tuple[tuple[str, Any], ...] = about(
        (), 'reserved; kept for files written by older versions')

    @staticmethod
    def reference() -> str:
        """The scenario file reference (Markdown), made from the type itself (docs/scenario.md)."""
        hints = typing.get_type_hints(Scenario)
        rows = ["| field | type | default | minimum | maximum | meaning |",
                "|---|---|---|---|---|---|"]
        for f in fields(Scenario):
            default = Scenario().to_dict(full=True)[f.name]
            low = MINIMUM.get(f.name, "")
            high = MAXIMUM.get(f.name, "")
            kind = _type_name(hints[f.name])
            top = f"{high:g}" if high != "" else ""
            rows.append(f"| `{f.name}` | {kind} | `{json.dumps(default)}` | {low} | {top} | "
                        f"{f.metadata['doc']} |")
        return "\n".join([
            "# Scenario files",
            "",
            "A scenario is one JSON object; every field is optional and takes the default below.",
            "`locksim run --json` prints one; `--scenario FILE` reads one. Unknown fields, wrong",
            "types, NaN or infinite numbers and values below the minimum are refused with one",
            "line naming the field. A distribution is `{\"kind\": K, \"a\": A, \"b\": B}` or the",
            'text `"uniform:0.05:0.15"` (kinds: const, uniform, exp, lognormal). Generated from',
            "`models/scenario.py` (`Scenario.reference()`); a test keeps this file equal to it.",
            "",
            *rows,
            "",
        ])

    def with_(self, **changes: Any) -> Scenario:
        """``dataclasses.replace`` without its field-by-field frozen ``__init__`` (hot in
        searches): the other fields stay the very same objects, which ``validate`` knows."""
        unknown = changes.keys() - _field_names()
        if unknown:
            raise TypeError(f"Scenario has no field(s) {', '.join(sorted(unknown))}")
        new = object.__new__(Scenario)
        new.__dict__.update(self.__dict__)
        new.__dict__.update(changes)
        return new

    @property
    def lock_kwargs(self) -> dict[str, Any]:
        return dict(self.lock_params)

    def validate(self) -> Scenario:
        """Raise ScenarioError (one line) for values no run can use.

        Types first (a file may say ``"servers": "2"``), then ranges, then
        combinations; the lock and its parameters are built once to be checked.
        A scenario whose other fields are the very objects of one validated before
        (``with_`` keeps them: a search draws thousands of schedules on one template)
        has only its ``PER_SCHEDULE`` fields checked again.
        """
        values = _shape_of(self)
        ids = tuple(map(id, values))
        if _GOOD_SHAPES.get(ids) is not None:  # the very objects validated before (held)
            return self._validate_schedule()
        self._validate_all()
        try:
            hash(values)  # immutable all through: nothing can change them after the check
        except TypeError:
            return self
        if len(_GOOD_SHAPES) > 256:
            _GOOD_SHAPES.clear()
        _GOOD_SHAPES[ids] = values
        return self

    def _validate_schedule(self) -> Scenario:
        """The checks that read a ``PER_SCHEDULE`` field (the rest held for this shape)."""
        try:
            for name, checker in _schedule_checkers():
                problem = checker(getattr(self, name), False)
                if problem:
                    raise ValueProblem(f"{name}: {problem}")
            for name in PER_SCHEDULE:
                if name in MINIMUM:
                    at_least(name, getattr(self, name), MINIMUM[name])
                if name in MAXIMUM:
                    at_most(name, getattr(self, name), MAXIMUM[name])
            self._check_steering()
            for i, fault in enumerate(self.faults):
                _check_fault(i, fault)
        except ValueProblem as exc:
            raise ScenarioError(str(exc)) from None
        self._check_arrivals()
        self._check_fault_nodes(self.redis_topology())
        return self

    def _check_steering(self) -> None:
        for i, choice in enumerate(self.choices):
            if not 0 <= choice <= 1000:
                raise ValueProblem(f"choices: item {i} must be 0..1000, not {choice}")
        steering = check_priorities(self.priorities, self.priority_changes_ms)
        if steering:
            raise ValueProblem(steering)

    def _check_arrivals(self) -> None:
        if self.load == "scheduled" and len(self.arrivals_ms) != self.requests:
            raise ScenarioError("a scheduled load needs one arrival time per request")
        if any(t < 0 for t in self.arrivals_ms):
            raise ScenarioError("arrival times must not be negative")

    def _check_fault_nodes(self, topology: Topology) -> None:
        names = fault_targets(topology, self.servers)
        for fault in self.faults:
            need = kind_of(fault).ha
            if need and not topology.has(need):
                shape = "sentinel:N" if need == "sentinel" else "replicas:N or sentinel:N"
                raise ScenarioError(f"a {fault.kind} fault needs a {shape} topology, "
                                    f"not {self.topology!r} (--redis {shape})")
            if fault.node not in names and not (need and fault.node == "redis"):
                raise ScenarioError(f"fault on unknown node {fault.node!r}: {fault}")

    def _validate_all(self) -> None:
        try:
            check_fields(self)
            for name, low in MINIMUM.items():
                at_least(name, getattr(self, name), low)
            for name, high in MAXIMUM.items():
                at_most(name, getattr(self, name), high)
            positive("horizon_ms", self.horizon_ms)
            self._check_steering()
            if self.redis_version[0] not in (6, 7) or self.redis_version[1] < 0:
                raise ValueProblem(f"redis_version must be 6.x or 7.x, not {self.redis_version}")
            for name in ("think", "client_latency", "redis_latency", "storage_latency",
                         "replica_lag"):
                try:
                    getattr(self, name).validate()
                except ValueError as exc:
                    raise ValueProblem(f"{name}: {exc}") from None
            for i, fault in enumerate(self.faults):
                _check_fault(i, fault)
        except ValueProblem as exc:
            raise ScenarioError(str(exc)) from None
        if self.load not in ("closed", "open", "scheduled"):
            raise ScenarioError(
                f"load must be 'closed', 'open' or 'scheduled', not {self.load!r}")
        self._check_arrivals()
        if self.load == "open" and self.rate_rps <= 0:
            raise ScenarioError("rate_rps must be positive for an open load")
        topology = self.redis_topology()
        self._check_fault_nodes(topology)
        if self.min_replicas_to_write and not topology.has("replicas"):
            raise ScenarioError("min_replicas_to_write needs replicas:N or sentinel:N, "
                                f"not {self.topology!r}")
        if (self.sentinels, self.sentinel_quorum) != (3, 2) and not topology.has("sentinel"):
            raise ScenarioError(f"sentinels and sentinel_quorum need sentinel:N, "
                                f"not {self.topology!r}")
        if self.sentinel_quorum > self.sentinels:
            raise ScenarioError(f"sentinel_quorum {self.sentinel_quorum} is more than the "
                                f"{self.sentinels} sentinels")
        if self.client_library not in CLIENT_LIBRARIES:
            raise ScenarioError(f"unknown client_library {self.client_library!r}; known: "
                                f"{', '.join(CLIENT_LIBRARIES)}")
        self._check_lock()
        wanted = getattr(_design(self.lock, self.lock_params), "nodes", None)
        if isinstance(wanted, tuple):
            missing = [n for n in wanted if n not in topology.names]
            if missing:
                raise ScenarioError(f"lock {self.lock!r} needs Redis node(s) "
                                    f"{', '.join(missing)}, which topology {self.topology!r} "
                                    f"does not have (nodes: {', '.join(topology.names)})")

    def redis_topology(self) -> Topology:
        """The Redis nodes this scenario runs; ScenarioError when they cannot be built."""
        try:
            return parse_topology(self.topology, self.persistence, self.restart_delay_ms,
                                  self.redis_clocks, self.sentinels)
        except TopologyError as exc:
            raise ScenarioError(str(exc)) from None

    def _check_lock(self) -> None:
        """The design must exist and accept these parameters (designs validate their own)."""
        keys = [k for k, _ in self.lock_params]
        if any(not isinstance(k, str) for k in keys) or len(set(keys)) != len(keys):
            raise ScenarioError("lock_params must map distinct names to values")
        _check_design(self.lock, self.lock_params)

    # -- JSON --------------------------------------------------------------
    def to_dict(self, full: bool = False) -> dict[str, Any]:
        """JSON data; the asyncio tier's fields only when set (or ``full``), so files
        written before them round-trip unchanged."""
        data = asdict(self)
        data["faults"] = [fault_to_dict(f) for f in self.faults]
        data["lock_params"] = dict(self.lock_params)
        data["client_params"] = dict(self.client_params)
        data["extra"] = dict(self.extra)
        data["redis_version"] = list(self.redis_version)
        data["arrivals_ms"] = list(self.arrivals_ms)
        data["choices"] = list(self.choices)
        data["redis_clocks"] = [list(c) for c in self.redis_clocks]
        for name in _UNSTEERED:
            data[name] = list(getattr(self, name))
        if not full:  # left out unless used: files stay as older versions wrote them
            for name in TOPOLOGY_FIELDS:
                if getattr(self, name) == _DEFAULTS[name]:
                    del data[name]
            for name in (*_UNSTEERED, *_ONLY_WHEN_SET):
                if not data[name]:
                    del data[name]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Scenario:
        """Read a scenario from JSON data, refusing unknown or malformed fields."""
        if not isinstance(data, dict):
            raise ScenarioError("a scenario must be a JSON object")
        known = {f.name for f in fields(Scenario)}
        unknown = set(data) - known
        if unknown:
            raise ScenarioError(f"unknown scenario field(s): {', '.join(sorted(unknown))}")
        kw: dict[str, Any] = {}
        try:
            for key, value in data.items():
                if key in ("think", "client_latency", "redis_latency", "storage_latency",
                           "replica_lag"):
                    if isinstance(value, dict):
                        kw[key] = Dist(**value)
                    elif isinstance(value, str):
                        kw[key] = Dist.parse(value)
                    else:
                        raise ScenarioError(f"{key}: expected a distribution, got {value!r}")
                elif key == "faults":
                    if not isinstance(value, list):
                        raise ScenarioError(f"faults: expected a list, got {type(value).__name__}")
                    kw[key] = tuple(fault_from_dict(f) for f in value)
                elif key in ("lock_params", "extra", "client_params"):
                    if not isinstance(value, dict):
                        raise ScenarioError(
                            f"{key}: expected an object, got {type(value).__name__}")
                    kw[key] = tuple(sorted(value.items()))
                elif key == "redis_clocks":
                    if not isinstance(value, list | tuple):
                        raise ScenarioError(f"{key}: expected a list, got {type(value).__name__}")
                    kw[key] = tuple(tuple(c) if isinstance(c, list | tuple) else c
                                    for c in value)
                elif key in ("redis_version", "choices", "arrivals_ms", "priorities",
                             "priority_changes_ms"):
                    if not isinstance(value, list | tuple):
                        raise ScenarioError(f"{key}: expected a list, got {type(value).__name__}")
                    kw[key] = tuple(value)
                else:
                    kw[key] = value
        except ScenarioError:
            raise
        except (TypeError, ValueError) as exc:
            raise ScenarioError(f"bad scenario field: {_one_line(exc)}") from None
        return Scenario(**kw).validate()


_DEFAULTS = _defaults()
