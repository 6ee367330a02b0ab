"""A scenario: everything a run depends on besides the code, as one immutable value.

Defaults describe the field report's system (2 NestJS servers, 1 Redis,
k6 with ~100 virtual users issuing 957 coupons) and are calibrated so the
fault-free run lands on the report's table 7.1 (see the README).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from models.dist import Dist
from models.faults import Fault, fault_from_dict, fault_to_dict


class ScenarioError(ValueError):
    """A scenario that cannot run; the message is one line saying why."""


NO_THINK = Dist("const", 0.0)
CLIENT_LATENCY = Dist("uniform", 0.3, 0.7)
REDIS_LATENCY = Dist("uniform", 0.05, 0.15)
STORAGE_LATENCY = Dist("uniform", 1.4, 2.0)


@dataclass(frozen=True)
class Scenario:
    """One run's world. Times in ms, rates per second."""

    servers: int = 2
    requests: int = 957
    vus: int = 100
    load: str = "closed"  # "closed" (k6 VUs looping) or "open" (arrival rate)
    rate_rps: float = 100.0  # open load only
    think: Dist = NO_THINK  # closed load: pause between a VU's requests
    first_user: int = 848  # the report's userIds ran 848..1804
    repeat_users: int = 1  # requests per user id (2 = every user clicks twice)
    arrivals_ms: tuple[float, ...] = ()  # "scheduled" load: request i arrives at arrivals_ms[i]
    lock: str = "seed"
    lock_params: tuple[tuple[str, Any], ...] = ()
    stock: int = 1000
    fencing_storage: bool = True  # the database checks fences when the lock gives them
    client_latency: Dist = CLIENT_LATENCY  # k6 -> nginx -> app, one way
    redis_latency: Dist = REDIS_LATENCY  # app <-> redis, one way
    storage_latency: Dist = STORAGE_LATENCY  # app <-> database, one way
    redis_service_ms: float = 0.02  # CPU per command on Redis's single thread
    script_service_ms: float = 0.04  # per EVAL
    callback_cpu_ms: float = 0.08  # event-loop CPU per callback (reply, timer, message)
    handler_cpu_ms: float = 0.3  # request handling CPU (routing, JSON, session)
    faults: tuple[Fault, ...] = ()
    seed: int = 1
    choices: tuple[int, ...] = ()  # answers to the first draws (0..1000), then the seed
    horizon_ms: float = 600_000.0  # a run stops here even if requests are still waiting
    redis_version: tuple[int, int] = (7, 0)
    extra: tuple[tuple[str, Any], ...] = field(default=())

    def with_(self, **changes: Any) -> Scenario:
        return replace(self, **changes)

    @property
    def lock_kwargs(self) -> dict[str, Any]:
        return dict(self.lock_params)

    def validate(self) -> Scenario:
        """Raise ScenarioError (one line) for values no run can use."""
        if self.servers < 1:
            raise ScenarioError("servers must be at least 1")
        if self.requests < 0 or self.vus < 1:
            raise ScenarioError("requests must be >= 0 and vus >= 1")
        if self.load not in ("closed", "open", "scheduled"):
            raise ScenarioError(
                f"load must be 'closed', 'open' or 'scheduled', not {self.load!r}")
        if self.load == "scheduled" and len(self.arrivals_ms) != self.requests:
            raise ScenarioError("a scheduled load needs one arrival time per request")
        if any(t < 0 for t in self.arrivals_ms):
            raise ScenarioError("arrival times must not be negative")
        if self.load == "open" and self.rate_rps <= 0:
            raise ScenarioError("rate_rps must be positive for an open load")
        if self.repeat_users < 1:
            raise ScenarioError("repeat_users must be at least 1")
        for name in ("think", "client_latency", "redis_latency", "storage_latency"):
            try:
                getattr(self, name).validate()
            except ValueError as exc:
                raise ScenarioError(f"{name}: {exc}") from None
        names = {f"app{i + 1}" for i in range(self.servers)} | {"holder", "redis"}
        for fault in self.faults:
            if fault.node not in names:
                raise ScenarioError(f"fault on unknown node {fault.node!r}: {fault}")
        return self

    # -- JSON --------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["faults"] = [fault_to_dict(f) for f in self.faults]
        data["lock_params"] = dict(self.lock_params)
        data["extra"] = dict(self.extra)
        data["redis_version"] = list(self.redis_version)
        data["arrivals_ms"] = list(self.arrivals_ms)
        data["choices"] = list(self.choices)
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
                if key in ("think", "client_latency", "redis_latency", "storage_latency"):
                    kw[key] = Dist(**value) if isinstance(value, dict) else Dist.parse(str(value))
                elif key == "faults":
                    kw[key] = tuple(fault_from_dict(f) for f in value)
                elif key in ("lock_params", "extra"):
                    kw[key] = tuple(sorted(dict(value).items()))
                elif key == "redis_version" or key == "choices":
                    kw[key] = tuple(int(v) for v in value)
                elif key == "arrivals_ms":
                    kw[key] = tuple(float(v) for v in value)
                else:
                    kw[key] = value
        except (TypeError, ValueError) as exc:
            raise ScenarioError(f"bad scenario field: {exc}") from None
        return Scenario(**kw).validate()
