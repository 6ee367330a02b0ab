"""Issue 15's known results as stories: two clients, one lock, one Redis fault.

One place for the schedules that ``tests/world/test_ha_*.py``,
``properties/test_topologies.py`` and notebook 4 run, so a verdict in the
README's table and the test behind it run the same scenario. The builders
are pure (a ``Scenario`` value); ``promise`` runs one design on one topology's
story and says whether the property the design promises survived it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.dist import Dist
from models.faults import Crash, Fault, Partition, Pause, Trigger
from models.scenario import Scenario

TTL_MS = 3000
SLOW = Dist("uniform", 50.0, 100.0)  # the master dies before its SET reaches a replica
FAST = Dist("uniform", 0.1, 1.0)  # replicated long before the master dies
HOLD = Pause(2.0, 2000.0, "app1")  # app1 holds the lock, frozen inside, for 2 s
Params = tuple[tuple[str, Any], ...]


def two_clients(faults: tuple[Fault, ...], arrivals: tuple[float, ...] = (0.0, 50.0),
                lock: str = "polling", params: Params = (), topology: str = "single",
                **settings: Any) -> Scenario:
    """app1's and app2's requests for the same coupon on two servers, TTL 3000 ms,
    constant client and storage latencies: only the fault decides who holds."""
    return Scenario(servers=2, requests=len(arrivals), vus=len(arrivals), load="scheduled",
                    arrivals_ms=arrivals, lock=lock, lock_params=(("ttl_ms", TTL_MS), *params),
                    stock=10, horizon_ms=30_000.0, client_latency=Dist("const", 0.5),
                    storage_latency=Dist("const", 0.3), topology=topology, faults=faults,
                    **settings)


def primary(topology: str) -> str:
    """The node a design without ``node=`` talks to."""
    return "redis" if topology == "single" else "redis1"


def failover(lag: Dist, lock: str = "polling", params: Params = (),
             faults: tuple[Fault, ...] = (Crash(10.0, None, "redis1"),),
             topology: str = "sentinel:2") -> Scenario:
    """app1 frozen holding; the master dies at 10 ms for good; Sentinel (down-after 500 ms)
    promotes a replica; app2, trying since 50 ms, asks Sentinel and tries there."""
    return two_clients((HOLD, *faults), lock=lock, params=params, topology=topology,
                       replica_lag=lag, down_after_ms=500.0)


def restart(persistence: str = "none", restart_delay_ms: float = 0.0, crash_at: float = 100.0,
            topology: str = "single") -> Scenario:
    """app1 (polling) frozen holding; Redis crashes at ``crash_at`` and restarts 10 ms later
    (or after the restart delay); app2, polling since 50 ms, finds the key or not."""
    return two_clients((HOLD, Crash(crash_at, 10.0, primary(topology))), topology=topology,
                       persistence=persistence, restart_delay_ms=restart_delay_ms)


# -- Redlock: 3 masters, 2 clients, TTL 3 units of 1000 ms (the public TLA+ spec's) ----------
FROZEN = Pause(0.0, 4000.0, "holder")  # the holder freezes past its validity (~2965 ms)
CUT = Partition(0.0, 10_000.0, "app1/redis3")  # app1 never reaches redis3: it holds 2 of 3
INSIDE = Pause(0.0, 2000.0, "holder")  # frozen, but well within its validity


def redlock(faults: tuple[Fault, ...], second_at: float = 600.0, **settings: Any) -> Scenario:
    """Redlock on redlock:3, app2 arriving at ``second_at``; Redis latencies vary, so the
    explorer has choices to branch on."""
    return two_clients(faults, (0.0, second_at), "redlock", topology="redlock:3",
                       redis_latency=Dist("uniform", 0.05, 2.0), **settings)


# -- what each design promises on each topology ----------------------------------------------
ME = ("mutual-exclusion",)
COUPON_RULES = ("no-over-issue", "stock-conservation", "no-duplicate-issue")
DESIGNS: dict[str, tuple[str, Params, tuple[str, ...]]] = {
    "seed": ("seed", (), ME),
    "seed-fenced": ("seed-fenced", (("wait_timeout_ms", 200.0),), COUPON_RULES),  # waits bounded
    "polling": ("polling", (), ME),
    "blpop": ("blpop", (), ME),
    "redisson": ("redisson", (), ME),
    "redisson wait_replicas=1": ("redisson", (("wait_replicas", 1),), ME),
    "lua-atomic": ("lua-atomic", (), COUPON_RULES),  # no lock: one script takes the stock
    "redlock": ("redlock", (), ("validity-exclusion",)),
}
"""Design name: (lock, lock parameters, the properties it promises)."""
TOPOLOGIES = ("single", "replicas:2", "sentinel:2", "redlock:3")
STORIES = {
    "single": ("Redis restarts without persistence", "aof-always, restart delay 4000 ms > TTL"),
    "replicas:2": ("the master restarts without persistence",
                   "aof-always, restart delay 4000 ms > TTL"),
    "sentinel:2": ("the master dies before replicating (lag 50-100 ms)",
                   "the same, replicated in time (lag 0.1-1 ms)"),
    "redlock:3": ("app1 cut from redis3, redis2 restarts without persistence",
                  "the same with aof-always"),
}
"""Topology: (its failure story, its remedy), for ``trial``'s two schedules."""
IN_CS = Pause(0.0, 2000.0, "app1", trigger=Trigger("write"))
"""app1 frozen just before its storage write: inside its critical section, whatever its
design did to acquire (a Redisson WAIT, Redlock's fan-out)."""
LATE = (0.0, 600.0)  # app2 arrives after the fault: a fresh SET NX, no wake-up to miss


def trial(design: str, topology: str, remedy: bool = False) -> Scenario:
    """The topology's failure story (``STORIES``) for ``design``, or with its remedy."""
    lock, params, _ = DESIGNS[design]
    if topology == "sentinel:2":
        return two_clients((IN_CS, Crash(10.0, None, "redis1")), LATE, lock, params, topology,
                           replica_lag=FAST if remedy else SLOW, down_after_ms=500.0)
    settings: dict[str, Any] = {"persistence": "aof-always"} if remedy else {}
    if topology == "redlock:3":
        faults: tuple[Fault, ...] = (CUT, IN_CS, Crash(100.0, 10.0, "redis2"))
    else:
        faults = (IN_CS, Crash(100.0, 10.0, primary(topology)))
        if remedy:
            settings["restart_delay_ms"] = 4000.0
    if topology != "single":
        settings["replica_lag"] = FAST
    return two_clients(faults, LATE, lock, params, topology, **settings)


@dataclass(frozen=True)
class Promise:
    """One design on one topology's story: what broke of what it promises."""

    design: str
    topology: str
    remedy: bool
    failed: tuple[str, ...] = ()  # promised properties violated
    na: str = ""  # why the pair means nothing (the design cannot run there, or never enters)

    def __str__(self) -> str:
        if self.na:
            return f"n/a ({self.na})"
        return f"fails ({', '.join(self.failed)})" if self.failed else "holds"


def promise(design: str, topology: str, remedy: bool = False) -> Promise:
    """Run ``trial`` and judge the design's promised properties over its history.

    Not applicable: Redlock off its N masters (refused on ``single``; on the others
    redis2.. are replicas and answer its SETs with READONLY), Redisson's WAIT with no
    replica to acknowledge (it undoes and retries for ever), and a one-node design on
    ``redlock:3`` (it talks to redis1 only: the single column's verdict)."""
    from models.checkers import check_all
    from sim.world import World

    lock, params, promised = DESIGNS[design]
    if lock == "redlock" and not topology.startswith("redlock"):
        return Promise(design, topology, remedy, na="needs N masters")
    if dict(params).get("wait_replicas") and topology in ("single", "redlock:3"):
        return Promise(design, topology, remedy, na="no replica acks: never enters")
    world = World(trial(design, topology, remedy))
    result = world.run()
    if lock != "redlock" and topology.startswith("redlock"):
        talked = tuple(n for n, node in world.nodes.items() if node.commands)
        if talked == ("redis1",):
            return Promise(design, topology, remedy, na="one node: as single")
    failed = tuple(v.property for v in check_all(result.history, list(promised), truth=result)
                   if v.valid is False)
    return Promise(design, topology, remedy, failed)


def cell(design: str, topology: str) -> str:
    """The README table's cell: the failure story's verdict / the remedy's."""
    bad = promise(design, topology)
    return str(bad) if bad.na else f"{bad} / {promise(design, topology, remedy=True)}"


__all__ = ["CUT", "DESIGNS", "FAST", "FROZEN", "HOLD", "INSIDE", "SLOW", "STORIES",
           "TOPOLOGIES", "TTL_MS", "Promise", "cell", "failover", "primary", "promise",
           "redlock", "restart", "trial", "two_clients"]
