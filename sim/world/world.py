"""The simulated world: wires Redis, app servers, the database, the load and faults.

``run(scenario)`` is the whole API: same scenario and seed, same history and
same trace hash, byte for byte, in any process. Nothing here reads a clock
or a global random source; every choice comes from ``world.chooser``.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from heapq import heappush
from typing import Any, assert_never

import simpy

from models.balancer import Balancer
from models.checkers.ground_truth import KeyEffect, RequestSpan
from models.database import Database
from models.faults import (
    Clock,
    Crash,
    Delay,
    Failover,
    Fault,
    Lag,
    LostReply,
    NetFaults,
    Partition,
    Pause,
    Reconnect,
    RedisRestart,
    SlowStorage,
)
from models.frozen import quick_new
from models.history import History, Recorder
from models.locks import LockDesign, make_lock
from models.locks.effect import Record, Storage
from models.scenario import Scenario
from models.workload import CouponService
from sim.runtime.chooser import Chooser
from sim.runtime.load import Load
from sim.runtime.nemesis import Nemesis
from sim.world.app_server import AppServer, Task
from sim.world.kernel import NORMAL, call_after, drive, run_to
from sim.world.redis_node import RedisNode, trace_digest
from sim.world.sentinel import Sentinel
from sim.world.topology import ClusterNode, build_nodes, merged_log

_span = quick_new(RequestSpan)  # RequestSpan(...), cheaper: one per request of every run


@dataclass(frozen=True)
class RunResult:
    """What one run produced: the history and the facts to reproduce and compare it.

    ``trace_hash`` is computed when first read: hashing a big history costs a
    quarter of a 957-request run, and sweeps and benchmarks never read it."""

    scenario: Scenario
    history: History
    redis_log: list[tuple[float, int, tuple[object, ...], object]] = field(repr=False)
    """Every command Redis ran: (start, client, argv, reply), hashed into the trace."""
    end_ms: float
    completed: int
    redis_commands: int
    redis_counts: dict[str, int] = field(default_factory=dict)
    stock_left: int = 0
    monitor: tuple[tuple[float, int, str, tuple[object, ...]], ...] | None = None  # RedisNode's
    events: int = 0  # kernel events scheduled: messages, CPU bursts, timers
    effects: tuple[KeyEffect, ...] = field(default=(), repr=False)
    """Ground truth: what Redis did to each key, per request (never hashed)."""
    requests: tuple[RequestSpan, ...] = field(default=(), repr=False)
    """Each request's life on its server: start, answer, crash."""

    @cached_property
    def trace_hash(self) -> str:
        """sha256 over the history's digest and Redis's command log: equal iff same run."""
        trace = hashlib.sha256()
        trace.update(self.history.digest().encode())
        trace.update(trace_digest(self.redis_log).encode())
        return trace.hexdigest()


class World:
    """One run's state. Build it with a scenario, then call ``run()`` once."""

    def __init__(self, scenario: Scenario, lock: LockDesign | None = None,
                 monitor: bool = False, chooser: Chooser | None = None) -> None:
        self.scenario = scenario.validate()
        self.env = simpy.Environment()
        self.chooser = (chooser if chooser is not None
                        else Chooser(scenario.seed, scenario.choices))
        self.lock = lock if lock is not None else make_lock(scenario.lock, **scenario.lock_kwargs)
        self.service = CouponService(handler_cpu_ms=scenario.handler_cpu_ms, stock=scenario.stock)
        self.recorder = Recorder()
        self.net_faults: dict[str, NetFaults] = {}
        self.pause_ends: dict[str, list[float]] = {}
        self.slow_storage: dict[str, list[tuple[float, float, float]]] = {}  # node -> windows
        self.lag_spikes: dict[str, list[tuple[float, float, float]]] = {}  # replica -> windows
        self.nemesis = Nemesis(self._apply, self)
        self._client_ids = 0
        # the Redis nodes by name, the primary first (sim.world.topology)
        self.nodes: dict[str, RedisNode] = build_nodes(self, monitor)
        self.redis = next(iter(self.nodes.values()))
        kind = scenario.redis_topology().kind
        self.sentinel: Sentinel | None = None
        if kind in ("replicas", "sentinel"):
            self.sentinel = Sentinel(self, self.redis.name, scenario.down_after_ms,
                                     enabled=kind == "sentinel", sentinels=scenario.sentinels,
                                     quorum=scenario.sentinel_quorum)
        self.db = Database(scenario.stock, scenario.fencing_storage)
        self.servers = [self.make_server(f"app{i + 1}") for i in range(scenario.servers)]
        self.by_name = {s.name: s for s in self.servers}
        self.balancer = Balancer(self.servers)
        self.load = Load(self)
        self.finished = self.env.event()
        self._armed = False
        self.spans: dict[str, list[Any]] = {}  # request -> [node, start, end, crashed_at]

    def make_server(self, name: str) -> Any:
        """One app-server process (``sim.aio`` runs real asyncio code in its own)."""
        return AppServer(self, name, self.scenario.callback_cpu_ms)

    # -- scheduling --------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.env.now

    def at(self, when: float, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` at virtual time ``when`` (ties keep scheduling order).

        Keyed as ``env.timeout(when - now)`` would be, to the last bit."""
        env = self.env
        now = env._now
        delay = when - now
        heappush(env._queue,  # type: ignore[misc]
                 (now + (delay if delay > 0 else 0), NORMAL, next(env._eid),
                  (fn, args)))

    def after(self, delay: float, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` ``delay`` ms from now (as ``env.timeout(delay)``)."""
        call_after(self.env, delay, fn, *args)

    def next_client_id(self) -> int:
        self._client_ids += 1
        return self._client_ids

    def finish(self) -> None:
        if not self.finished.triggered:
            self.finished.succeed()

    # -- what tasks do -----------------------------------------------------------
    def record(self, task: Task, effect: Record, node: str) -> None:
        type_, f = effect.type, effect.f
        self.recorder.record(self.env._now, task.process, type_, f, effect.value, node)
        if type_ == "invoke":
            task.open_ops[f] = None
        else:
            task.open_ops.pop(f, None)
        if f == "acquire" and type_ == "ok":
            self.nemesis.acquired(task.process, node)
        elif f == "release":
            if type_ == "invoke":
                self.nemesis.released(task.process)
            else:
                self.nemesis.release_answered(task.process)

    def storage_call(self, op: Storage, reply: Callable[[object], None], node: str = "") -> None:
        lat = self.scenario.storage_latency
        arrive = self.env.now + lat.sample(self.chooser)
        if self.slow_storage:
            arrive += self._storage_extra(node)
        self.at(arrive, self._storage_apply, op, reply)

    def _storage_extra(self, node: str) -> float:
        """The extra ms a slow-storage window adds to an operation ``node`` sends now."""
        now = self.env.now
        extra = 0.0
        for who in (node, "storage"):
            for start, end, ms in self.slow_storage.get(who, ()):
                if start <= now < end:
                    extra += ms
        return extra

    def lease(self, process: str) -> tuple[float, float] | None:
        """The deadline and full TTL of the key ``process`` last set or renewed, by Redis's
        own log (None: its key has no TTL); what a ``lease=F`` trigger runs down."""
        for e in reversed(self.redis.effects):
            if e.request == process and e.effect in ("set", "expire"):
                return None if e.ttl_ms is None else (e.time + e.ttl_ms, e.ttl_ms)
        return None

    def _storage_apply(self, op: Storage, reply: Callable[[object], None]) -> None:
        result = self.db.apply(op)
        self.at(self.env.now + self.scenario.storage_latency.sample(self.chooser), reply, result)

    def start_request(self, server: AppServer, n: int, user: int,
                      on_done: Callable[[object], None]) -> None:
        session = hashlib.blake2b(f"{self.scenario.seed}:{user}".encode(),
                                  digest_size=8).hexdigest()
        gen = self.service.handle(self.lock, user, session)
        process = f"{server.name}/req{n}"
        span = self.spans[process] = [server.name, self.env.now, None, None]

        def done(result: object) -> None:
            if span[3] is None:
                span[2] = self.env.now
            on_done(result)

        server.start(process, gen, done)

    def send_request(self, n: int, user: int, done: Callable[[], None]) -> None:
        """The client's request ``n`` through nginx ``least_conn`` to an app server and back."""
        lat = self.scenario.client_latency
        server = self.balancer.pick()
        if server is None:  # nginx: no upstream alive, 502 at once
            self.at(self.env.now + 2 * lat.sample(self.chooser), done)
            return
        server.active += 1

        def arrive() -> None:
            if not server.alive:
                server.active = max(server.active - 1, 0)
                self.at(self.env.now + lat.sample(self.chooser), done)
                return

            def handled(_result: object) -> None:
                server.active = max(server.active - 1, 0)
                self.at(self.env.now + lat.sample(self.chooser), done)

            self.start_request(server, n, user, handled)

        self.at(self.env.now + lat.sample(self.chooser), arrive)

    def spawn(self, node: str, process: str, program: Any,
              on_done: Callable[[object], None] | None = None) -> Task:
        """Run any effect program on an app server (tests and custom experiments)."""
        return self.by_name[node].start(process, program, on_done or (lambda _r: None))

    def run_until(self, until_ms: float) -> History:
        """Advance virtual time to ``until_ms`` with faults armed; return the history so far."""
        if not self._armed:
            self._armed = True
            self.recorder.record(0.0, "storage", "ok", "init", self.scenario.stock)
            self._schedule_faults()
        run_to(self.env, until_ms)  # env.run(until=...), for a queue of calls
        return self.recorder.history()

    # -- faults ---------------------------------------------------------------------
    def _schedule_faults(self) -> None:
        for fault in self.scenario.faults:
            self.at(fault.at_ms, lambda f=fault: self.nemesis.strike(f))

    def _event(self, f: str, node: str, value: object) -> None:
        self.recorder.record(self.env.now, "nemesis", "info", f, value, node)

    def node_event(self, f: str, node: str) -> None:
        """A Redis node's own event (its restart, a promotion) in the history."""
        self._event(f, node, None)

    def node_down(self, node: ClusterNode) -> None:
        if self.sentinel is not None:
            self.sentinel.node_down(node)

    def node_back(self, node: ClusterNode) -> None:
        if self.sentinel is not None:
            self.sentinel.node_back(node)
        for server in self.servers:  # an ioredis client resends what it kept
            server.reconnected(node.name)

    def _record_op(self, process: str, type_: str, f: str, value: object, node: str) -> None:
        self.recorder.record(self.env.now, process, type_, f, value, node)

    def _apply(self, node: str, fault: Fault) -> None:
        """The simulated world's one applier: ``node`` is already resolved."""
        now = self.env.now
        match fault:
            case Pause():
                end = now + fault.duration_ms
                self._event("pause", node, fault.duration_ms)
                if node in self.nodes:
                    redis = self.nodes[node]
                    redis.busy_until = max(redis.busy_until, end)
                else:
                    self.pause_ends.setdefault(node, []).append(end)
                    self.by_name[node].pause(fault.duration_ms)
                self.at(end, lambda: self._event("resume", node, None))
            case Crash():
                self._crash(node, fault)
            case Delay():
                nf = self.net_faults.setdefault(node, NetFaults())
                nf.delays.append((now, now + fault.duration_ms, fault.extra_ms))
                self._event("delay", node, (fault.extra_ms, fault.duration_ms))
            case Partition():
                nf = self.net_faults.setdefault(node, NetFaults())
                nf.partitions.append((now, now + fault.duration_ms))
                self._event("partition", node, fault.duration_ms)
                self.at(now + fault.duration_ms, lambda: self._event("heal", node, None))
                if self.sentinel is not None:  # Sentinel may lose sight of the master
                    self.sentinel.cut(node, now, now + fault.duration_ms)
            case Clock():
                if node in self.by_name:
                    self.by_name[node].set_clock(fault.offset_ms, fault.drift)
                elif isinstance(self.nodes.get(node), ClusterNode):
                    self.nodes[node].jump(fault.offset_ms, fault.drift)  # type: ignore[attr-defined]
                self._event("clock", node, (fault.offset_ms, fault.drift))
            case LostReply():  # the app server drops the reply (see AppServer.call)
                self._event("lost-reply", node, None)
            case Reconnect():  # the app server resets the command's connection (AppServer.call)
                self._event("reconnect", node, "ran" if fault.ran else "not run")
            case SlowStorage():
                self.slow_storage.setdefault(node, []).append(
                    (now, now + fault.duration_ms, fault.extra_ms))
                self._event("slow-storage", node, (fault.extra_ms, fault.duration_ms))
            case RedisRestart():
                if isinstance(self.nodes.get(node), ClusterNode):
                    # a node of a topology: its crash path keeps what its persistence kept
                    self._crash(node, Crash(fault.at_ms, fault.down_ms, node))
                    return
                if self.redis.busy_until > now + 1e-9:
                    # Redis has already run, at later times, the commands queued while it
                    # is paused or down (the node runs a command when it arrives): the
                    # restart lands once they are done, so Redis's log stays in order.
                    self.at(self.redis.busy_until, self._apply, node, fault)
                    return
                self._event("crash", "redis", None)
                self.redis.lost()
                self.redis.model.flush()
                if fault.down_ms > 0:  # nothing is served until it is back
                    self.redis.busy_until = max(self.redis.busy_until, now + fault.down_ms)
                self.at(now + fault.down_ms, lambda: self._event("restart", "redis", None))
            case Failover():  # whichever node is master now (Scenario.validate: Sentinel)
                assert self.sentinel is not None
                master = self.sentinel.master
                self._crash(master, Crash(fault.at_ms, fault.restart_after_ms, master))
            case Lag():
                self.lag_spikes.setdefault(node, []).append(
                    (now, now + fault.duration_ms, fault.extra_ms))
                self._event("lag", node, (fault.extra_ms, fault.duration_ms))
            case _:
                assert_never(fault)

    def _crash(self, node: str, fault: Crash) -> None:
        redis = self.nodes.get(node)
        if redis is not None and redis.busy_until > self.env.now + 1e-9:
            # the node has already run, at later times, what it queued while paused or
            # busy: the crash lands once that is done, so its log stays in time order
            self.at(redis.busy_until, self._crash, node, fault)
            return
        self._event("crash", node, None)
        if isinstance(redis, ClusterNode):  # down, then back with what its disk kept
            redis.crash(fault.restart_after_ms)
            return
        if redis is not None:  # single: a restart without persistence, in place
            redis.lost()
            redis.model.flush()
            return
        server = self.by_name[node]
        if not server.alive:
            return
        for task in server.crash():
            span = self.spans.get(task.process)
            if span is not None and span[2] is None:
                span[3] = self.env.now
            self.nemesis.lost(task.process, task.open_ops, "crashed", node, self._record_op)
            if task.on_done is not None:
                task.on_done("crashed")
        if fault.restart_after_ms is not None:
            def restart() -> None:
                server.restart()
                self._event("restart", node, None)

            self.at(self.env.now + fault.restart_after_ms, restart)

    # -- the run ------------------------------------------------------------------------
    def run(self) -> RunResult:
        if not self._armed:
            self._armed = True
            self.recorder.record(0.0, "storage", "ok", "init", self.scenario.stock)
            self._schedule_faults()
        self.load.start()
        self.at(self.scenario.horizon_ms, self.finish)
        with fewer_collections():
            drive(self.env, self.finished)
        nodes = list(self.nodes.values())
        for redis in nodes:
            redis.model.release_scripts()  # the next run in this process may reuse it
        # Close the history at the run's end, so a wait still pending at the
        # horizon is judged for its whole length.
        self.recorder.record(self.env.now, "nemesis", "info", "end", None, "")
        history = self.recorder.history()
        # the nodes of a topology share one MONITOR log (sim.world.topology)
        monitor = tuple(self.redis.monitor) if self.redis.monitor is not None else None
        counts: dict[str, int] = {}
        for redis in nodes:
            for name, n in redis.counts.items():
                counts[name] = counts.get(name, 0) + n
        return RunResult(
            scenario=self.scenario,
            history=history,
            redis_log=merged_log(nodes),
            end_ms=self.env.now,
            completed=self.load.completed,
            redis_commands=sum(n.commands for n in nodes),
            redis_counts=dict(sorted(counts.items())),
            stock_left=self.db.stock,
            monitor=monitor,
            events=next(self.env._eid),
            effects=tuple(e for n in nodes for e in n.effects),
            requests=tuple(_span(r, n, s, e, c) for r, (n, s, e, c) in self.spans.items()),
        )


@contextmanager
def fewer_collections(gen0: int = 50_000) -> Iterator[None]:
    """Collect young objects less often while a run allocates its hundreds of
    thousands of ops and timers (most live until the run ends: each young
    collection would only promote them; ~10% of the report scenario's time)."""
    old = gc.get_threshold()
    if old[0] >= gen0:
        yield
        return
    gc.set_threshold(gen0, old[1], old[2])
    try:
        yield
    finally:
        gc.set_threshold(*old)


def run(scenario: Scenario, lock: LockDesign | None = None, monitor: bool = False,
        chooser: Chooser | None = None) -> RunResult:
    """Run one scenario to completion (or its horizon) and return what happened.

    ``chooser`` replaces the seeded source of choices (``sim.search.strategies`` passes
    one that asks Hypothesis, so every latency and token can shrink)."""
    return World(scenario, lock, monitor, chooser).run()
