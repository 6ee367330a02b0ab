"""A real cluster: a redis-server, app-server worker processes, the shared database, faults.

The coordinator runs the same scenario the simulator runs, on real processes
and real time. It starts its own redis-server (``sim.real.server``) on a free
loopback port, one ``sim.real.worker`` worker process per app server, hosts the
coupon database (``models.database.Database``, the simulator's, with its fencing)
behind the workers' sockets with the scenario's storage latency as real
sleeps, sends the load (closed VUs or scheduled arrivals, least_conn), fires
the faults for real (SIGSTOP/SIGCONT, SIGKILL and restart, a Redis restart
without persistence, delays and partitions injected in the workers, or for a
team's handler at a ``sim.real.relay`` per app server in front of Redis), and
builds a ``models.history.History`` from the streamed ops, so the same
checkers and metrics judge both worlds.

Everything it starts is stopped on every exit path (``sim.real.reaper``): ``close()`` in a
``finally``, ``atexit``, SIGTERM/SIGHUP, and PR_SET_PDEATHSIG on every child.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, assert_never

from models.balancer import Balancer
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
    describe,
)
from models.faults import scaled as scaled_fault
from models.history import History, Recorder
from models.locks import UnknownLock, make_lock
from models.locks.effect import Storage
from models.scenario import Scenario, ScenarioError
from sim.real import reaper
from sim.real.deployment import Deployment, DeploymentError
from sim.real.relay import Relay
from sim.real.server import LOOPBACK, RedisServer, _popen, _reaped
from sim.real.worker import decode, encode, tuples
from sim.runtime.chooser import Chooser
from sim.runtime.load import Load
from sim.runtime.nemesis import Nemesis

ROOT = Path(__file__).resolve().parents[2]


class ClusterError(Exception):
    """The real cluster cannot run this: one line saying why."""


@dataclass(frozen=True)
class RealResult:
    """What a real run produced, shaped like ``sim.world.world.RunResult`` where it can be."""

    scenario: Scenario  # as run, after time scaling
    history: History
    end_ms: float
    completed: int
    stock_left: int
    time_scale: float
    redis_version: str
    scaled: tuple[str, ...] = ()
    wall_s: float = 0.0
    pids: dict[str, list[int]] = field(default_factory=dict)
    publishes: int | None = None
    """PUBLISH commands the server ran in the run (INFO commandstats counts those
    inside scripts too); None when it cannot tell (the server restarted)."""


# -- time scaling -------------------------------------------------------------------------------


def scale_scenario(scenario: Scenario, x: float) -> tuple[Scenario, tuple[str, ...]]:
    """Multiply every duration the story depends on by ``x``; say what was scaled.

    Scaled: arrivals, think time, fault times and durations, the horizon, the
    lock's TTL, watchdog period and wait timeout (its ``lock_params``).
    Not scaled: network and storage latencies and CPU costs, which are
    physical (real loopback and real CPU stand for them).
    """
    if x <= 0:
        raise ClusterError(f"--time-scale must be positive, not {x:g}")
    if x == 1.0:
        return scenario, ()
    lock = make_lock(scenario.lock, **scenario.lock_kwargs)
    params = dict(scenario.lock_params)
    said = ["arrivals", "fault times and durations", "horizon"]
    ttl = params.get("ttl_ms", getattr(lock, "ttl_ms", None))
    if ttl is not None:
        params["ttl_ms"] = max(1, round(ttl * x))
        said.append(f"TTL {ttl:g} -> {params['ttl_ms']:g} ms")
    period = params.get("watchdog_period_ms")
    if period:
        params["watchdog_period_ms"] = period * x
        said.append("watchdog period")
    wait = params.get("wait_timeout_ms")
    if wait:
        params["wait_timeout_ms"] = wait * x
        said.append("wait timeout")
    think = scenario.think
    if think.kind != "const" or think.a:
        think = replace(think, a=think.a * x, b=think.b * x if think.kind != "lognormal"
                        else think.b)
        said.append("think time")
    scaled = scenario.with_(
        arrivals_ms=tuple(t * x for t in scenario.arrivals_ms),
        faults=tuple(scaled_fault(f, x) for f in scenario.faults),
        horizon_ms=scenario.horizon_ms * x,
        lock_params=tuple(sorted(params.items())),
        think=think,
    )
    return scaled, (f"time scale {x:g}: " + ", ".join(said),)


# -- one worker process -------------------------------------------------------------------------


class WorkerHandle:
    """The coordinator's view of one app-server process (``alive``/``active`` for least_conn)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.alive = False
        self.active = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.reader_task: asyncio.Task[None] | None = None
        self.incarnation = 0
        self.pids: list[int] = []
        self.requests: dict[int, Callable[[], None]] = {}  # request n -> on_done
        self.paused_until: list[float] = []

    def send(self, message: dict[str, Any]) -> None:
        if self.alive and self.writer is not None:
            self.writer.write(encode(message))

    def kill(self) -> None:
        """SIGKILL the worker's whole process group (it leads its own session)."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            _reaped(proc, 5.0)
        self.alive = False


# -- the cluster ----------------------------------------------------------------------------------


def refuse_unreal(faults: tuple[Fault, ...]) -> None:
    """ClusterError for a fault this world cannot apply honestly: the real workers' Redis
    commands go through redis-py unseen, so nothing can wait for a protocol event or
    drop a reply after Redis ran the command."""
    for i, fault in enumerate(faults):
        if isinstance(fault, LostReply):
            raise ClusterError(f"fault {i} ({describe(fault)}): lost replies need the "
                               "simulator (the real workers' replies cannot be dropped)")
        if isinstance(fault, Reconnect):
            raise ClusterError(f"fault {i} ({describe(fault)}): connection resets need the "
                               "simulator (the real workers' connections are redis-py's own)")
        trigger = getattr(fault, "trigger", None)
        if trigger is not None:
            raise ClusterError(f"fault {i} ({fault.kind}@{trigger}): protocol-event triggers "
                               "need the simulator (the real workers' commands are not "
                               "watched)")
        if isinstance(fault, Failover | Lag):
            raise ClusterError(f"fault {i} ({describe(fault)}): {fault.kind} faults need the "
                               "simulator (on real Redis crash the master: crash:AT:redis1)")
        ends = fault.node.split("/")
        if any(e.startswith("sentinel") for e in ends) \
                or (len(ends) == 2 and all(e.startswith("redis") for e in ends)):
            raise ClusterError(f"fault {i} ({describe(fault)}): links between Redis nodes and "
                               "Sentinels are cut only in the simulator")



NODE_CLOCK = ("a real redis-server reads the host's clock: node clock jumps and offsets "
              "need the simulator")
APP_CLOCK = ("a real handler process reads the host's clock (its worker has no clock shim): "
             "app-server clock steps of a handler need the simulator")


def refuse_unreal_topology(scenario: Scenario, *, redis_url: str | None,
                           monitor_log: Path | str | None) -> None:
    """ClusterError for what the real deployment cannot build or watch (one line)."""
    topology = scenario.redis_topology()
    names = topology.names
    if any(n.clock_offset_ms or n.clock_drift for n in topology.nodes) or any(
            isinstance(f, Clock) and f.node in names for f in scenario.faults):
        raise ClusterError(NODE_CLOCK)
    if scenario.handler and any(isinstance(f, Clock) for f in scenario.faults):
        raise ClusterError(APP_CLOCK)
    if len(names) == 1 and topology.nodes[0].legacy:
        return
    what = f"topology {scenario.topology!r} (persistence {scenario.persistence})"
    if redis_url:
        raise ClusterError(f"{what} needs servers locksim starts itself (drop --redis-url)")
    if scenario.handler:
        raise ClusterError(f"{what}: handlers run against one Redis on the real side")
    if monitor_log and len(names) > 1:
        raise ClusterError(f"--monitor-log captures one server; {what} has {len(names)}")


def refuse_for_real(scenario: Scenario, *, redis_url: str | None = None,
                    monitor_log: Path | str | None = None) -> None:
    """ClusterError (one line) for what the real world cannot build, watch or apply:
    asked before any work, and again by every ``Cluster``."""
    refuse_unreal_topology(scenario, redis_url=redis_url, monitor_log=monitor_log)
    if redis_url and any(f.node == "redis" for f in scenario.faults
                         if isinstance(f, Pause | Crash | RedisRestart)):
        raise ClusterError("Redis pauses, crashes and restarts need a server locksim "
                           "started (drop --redis-url)")
    refuse_unreal(scenario.faults)


class Cluster:
    """One real run's processes and state. ``async with Cluster(...)`` then ``await run()``."""

    def __init__(self, scenario: Scenario, *, time_scale: float = 1.0,
                 redis_server: Path | str | None = None, redis_url: str | None = None,
                 monitor_log: Path | str | None = None, imports: tuple[str, ...] = (),
                 progress: Callable[[int], None] | None = None) -> None:
        self.progress = progress
        self.original = scenario.validate()
        self.topology = scenario.redis_topology()
        refuse_for_real(scenario, redis_url=redis_url, monitor_log=monitor_log)
        self.scenario, self.scaled = scale_scenario(scenario, time_scale)
        self.time_scale = time_scale
        try:
            make_lock(self.scenario.lock, **self.scenario.lock_kwargs)
        except UnknownLock as exc:
            raise ClusterError(str(exc)) from None
        self.binary = redis_server
        self.redis_url = redis_url
        self.monitor_path = Path(monitor_log) if monitor_log else None
        self.imports = imports
        self.server: RedisServer | None = None  # the primary, when locksim started it
        self.deployment: Deployment | None = None
        self.net: dict[str, NetFaults] = {}  # fault windows by node, for the relays
        self.proxies: dict[str, Relay] = {}  # a handler's app server -> its link to Redis
        self._watcher: asyncio.Task[None] | None = None
        self.host = "127.0.0.1"
        self.port = 0
        self.redis_version = "?"
        self.workers = [WorkerHandle(f"app{i + 1}") for i in range(self.scenario.servers)]
        self.by_name = {w.name: w for w in self.workers}
        self.balancer = Balancer(self.workers)  # type: ignore[arg-type]
        self.load = Load(self)
        self.nemesis = Nemesis(self._apply)
        self.slow_storage: dict[str, list[tuple[float, float, float]]] = {}  # node -> windows
        self.chooser = Chooser(self.scenario.seed)
        self.db = Database(self.scenario.stock, self.scenario.fencing_storage)
        self.t0 = time.monotonic()
        self._ops: list[tuple[float, int, str, str, str, object, str]] = []
        self._seq = 0
        self.open_ops: dict[str, dict[str, str]] = {}  # process -> {f: node}
        self.finished: asyncio.Event | None = None
        self._programs: dict[str, asyncio.Future[object]] = {}
        self._monitor_sock: socket.socket | None = None
        self._monitor_thread: threading.Thread | None = None
        self._handles: list[asyncio.TimerHandle] = []
        self._closed = False
        self._publish_base: int | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    async def __aenter__(self) -> Cluster:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    async def start(self) -> None:
        """redis-server, MONITOR, then every worker, connected and ready."""
        self.loop = asyncio.get_running_loop()
        self.finished = asyncio.Event()
        reaper.register(self, self.close)
        reaper.install_signal_handlers()
        if self.redis_url:
            self._use_url(self.redis_url)
        else:
            await self._deploy()
        if self.monitor_path is not None:
            self._start_monitor()
        self._publish_base = self._publish_calls()
        if self.scenario.handler and any(isinstance(f, Delay | Partition)
                                         for f in self.scenario.faults):
            await self._start_proxies()  # redis-py's own sockets: faults act at the boundary
        self.t0 = time.monotonic()
        await asyncio.gather(*(self._spawn(w) for w in self.workers))
        self.t0 = time.monotonic()  # the run's time 0: after the start-up
        for w in self.workers:
            w.send({"k": "t0", "t0": self.t0})

    async def _deploy(self) -> None:
        """The scenario's topology for real (``sim.real.deployment``)."""
        self.deployment = deployment = Deployment(
            self.topology, self.redis_server_path(), down_after_ms=self.scenario.down_after_ms,
            lag=lambda: self.scenario.replica_lag.sample(self.chooser), arrival=self._arrival,
            quorum=self.scenario.sentinel_quorum)
        try:
            await deployment.start()
        except DeploymentError as exc:
            raise ClusterError(str(exc)) from None
        self.server = deployment.servers[deployment.primary]
        self.port = self.server.port
        self.redis_version = deployment.version
        if deployment.sentinels:
            self._watcher = asyncio.get_running_loop().create_task(self._watch_failovers())

    async def _start_proxies(self) -> None:
        """One relay per app server in front of the primary: its link's delays and
        partitions (ends app and node, as the simulator's ``sim.aio.transport``). Only
        when the scenario has such a fault: else loopback is the link, with no extra hop."""
        node = self.topology.nodes[0].name if self.deployment is not None else "redis"
        for w in self.workers:
            proxy = Relay(self.port, arrival=self._arrival(w.name, node), host=self.host)
            self.proxies[w.name] = proxy
            await proxy.start()

    def _arrival(self, *ends: str) -> Callable[[float, float], float]:
        """How the fault windows on the ``ends`` of a link move a relayed chunk
        (the relay's times are absolute monotonic ms, the windows the run's)."""
        def arrival(depart: float, arrive: float) -> float:
            base = self.t0 * 1000.0
            for node in ends:
                faults = self.net.get(node)
                if faults is not None:
                    arrive = faults.adjust(depart - base, arrive - base) + base
            return arrive

        return arrival

    async def _watch_failovers(self) -> None:
        """Every Sentinel's ``+promoted-slave`` and ``+switch-master``, recorded as the
        simulator's ``failover`` event (the promoted node), once per new master: the
        leader announces the promotion, the others the switch when they learn of it."""
        assert self.deployment is not None
        deployment = self.deployment
        master = [deployment.primary]

        def promoted(port: str) -> None:
            name = deployment.name_of(int(port)) if port.isdigit() else None
            if name is not None and name != master[0]:
                master[0] = name
                self._event("failover", name)

        await asyncio.gather(*(self._watch_one(port, promoted)
                               for port in deployment.sentinel_ports))

    async def _watch_one(self, port: int, promoted: Callable[[str], None]) -> None:
        import redis.asyncio as aioredis

        client = aioredis.Redis(host=self.host, port=port, decode_responses=True)
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe("+promoted-slave", "+switch-master")
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    words = str(message.get("data", "")).split()
                    if message.get("channel") == "+switch-master" and len(words) == 5:
                        promoted(words[4])  # name old-ip old-port new-ip new-port
                    elif len(words) >= 4:
                        promoted(words[3])  # slave ip:port ip port @ name ip port
        except (OSError, aioredis.RedisError):
            pass
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()

    def redis_server_path(self) -> Path | None:
        return Path(self.binary) if self.binary else None

    def _use_url(self, url: str) -> None:
        from urllib.parse import urlparse

        parsed = urlparse(url if "://" in url else f"redis://{url}")
        try:
            port: int | None = parsed.port
        except ValueError:  # urllib: "Port out of range 0-65535"
            port = None
        if not parsed.hostname or not port:
            raise ClusterError(f"--redis-url needs host and port, e.g. redis://127.0.0.1:6379, "
                               f"not {url!r}")
        self.host, self.port = parsed.hostname, port
        import redis

        try:
            with redis.Redis(self.host, self.port, socket_timeout=2,
                             retry=None) as probe:  # type: ignore[arg-type]
                self.redis_version = str(probe.info("server").get("redis_version", "?"))
        except (redis.RedisError, OSError) as exc:
            raise ClusterError(f"cannot reach Redis at {url}: {exc}") from None

    def close(self) -> None:
        """Stop every worker and the server we started; idempotent, safe in handlers."""
        if self._closed:
            return
        self._closed = True
        for h in self._handles:
            h.cancel()
        for w in self.workers:
            w.kill()
        if self._monitor_sock is not None:
            with contextlib.suppress(OSError):
                self._monitor_sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                self._monitor_sock.close()
        if self._watcher is not None:
            self._watcher.cancel()
        for proxy in self.proxies.values():
            proxy.close()
        if self.deployment is not None:
            self.deployment.close()
        if self._monitor_thread is not None:
            self._monitor_thread.join(timeout=2.0)
        reaper.forget(self)

    # -- workers ---------------------------------------------------------------------------------
    async def _spawn(self, w: WorkerHandle) -> None:
        parent, child = socket.socketpair()
        proxy = self.proxies.get(w.name)
        host, port = (LOOPBACK, proxy.port) if proxy is not None else (self.host, self.port)
        config = {
            "name": w.name, "host": host, "port": port, "t0": self.t0,
            "lock": self.scenario.lock, "lock_params": dict(self.scenario.lock_params),
            "handler_cpu_ms": self.scenario.handler_cpu_ms, "seed": self.scenario.seed,
            "stock": self.scenario.stock, "incarnation": w.incarnation,
            "imports": list(self.imports),
            "handler": self.scenario.handler,
            "client_params": dict(self.scenario.client_params),
            "nodes": ({name: list(self.deployment.address(name))
                       for name in self.deployment.servers}
                      if self.deployment is not None else {"redis": [host, port]}),
            "sentinels": self.deployment.sentinel_ports if self.deployment is not None else [],
        }
        # a scenario naming a handler runs it in the asyncio tier's worker (sim/aio)
        module = "sim.aio.real_worker" if self.scenario.handler else "sim.real.worker"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *sys.path[1:], env.get("PYTHONPATH", "")])
        try:
            w.proc = _popen([sys.executable, "-m", module, str(child.fileno()),
                             json.dumps(config)], pass_fds=(child.fileno(),), env=env,
                            cwd=os.getcwd(), stdin=subprocess.DEVNULL)
        finally:
            child.close()
        w.pids.append(w.proc.pid)
        reader, w.writer = await asyncio.open_connection(sock=parent)
        try:
            line = await asyncio.wait_for(reader.readline(), 30.0)
        except TimeoutError:
            line = b""
        if not line:
            code = w.proc.poll()
            w.kill()
            raise ClusterError(f"worker {w.name} did not start (exit code {code})")
        w.alive = True
        w.reader_task = asyncio.get_running_loop().create_task(self._read(w, reader))

    async def _read(self, w: WorkerHandle, reader: asyncio.StreamReader) -> None:
        proc = w.proc
        while True:
            line = await reader.readline()
            if not line:
                break
            self._handle(w, decode(line))
        if w.proc is proc and w.alive and not self._closed:  # died on its own
            w.alive = False
            self._lost_worker(w, "died")

    def _handle(self, w: WorkerHandle, msg: dict[str, Any]) -> None:
        kind = msg["k"]
        if kind == "rec":
            self.record(float(msg["t"]), msg["p"], msg["y"], msg["f"], tuples(msg.get("v")),
                        w.name)
        elif kind == "sto":
            self._storage(w, msg)
        elif kind == "done":
            if "process" in msg:
                fut = self._programs.pop(msg["process"], None)
                if fut is not None and not fut.done():
                    fut.set_result(tuples(msg.get("r")))
            else:
                done = w.requests.pop(int(msg["n"]), None)
                if done is not None:
                    w.active = max(w.active - 1, 0)
                    done()

    # -- history ---------------------------------------------------------------------------------
    def now_ms(self) -> float:
        return (time.monotonic() - self.t0) * 1000.0

    def record(self, t: float, process: str, type_: str, f: str, value: object,
               node: str) -> None:
        self._seq += 1
        self._ops.append((t, self._seq, process, type_, f, value, node))
        if process == "nemesis":
            return
        opened = self.open_ops.setdefault(process, {})
        if type_ == "invoke":
            opened[f] = node
        else:
            opened.pop(f, None)
        if f == "acquire" and type_ == "ok":
            self.nemesis.acquired(process, node)
        elif f == "release":
            if type_ == "invoke":
                self.nemesis.released(process)
            else:
                self.nemesis.release_answered(process)

    def _event(self, f: str, node: str, value: object = None, at: float | None = None) -> None:
        """A nemesis op, stamped now or at ``at`` (a restart: when the process was launched)."""
        self.record(self.now_ms() if at is None else at, "nemesis", "info", f, value, node)

    def history(self) -> History:
        rec = Recorder()
        for t, _s, process, type_, f, value, node in sorted(self._ops, key=lambda o: (o[0], o[1])):
            rec.record(t, process, type_, f, value, node)
        return rec.history()

    # -- storage ---------------------------------------------------------------------------------
    def _storage(self, w: WorkerHandle, msg: dict[str, Any]) -> None:
        assert self.loop is not None
        op = Storage(str(msg["op"]), int(msg["user"]), int(msg["value"]), msg.get("fence"))
        lat = self.scenario.storage_latency
        sid = msg["id"]
        incarnation = w.incarnation

        def apply() -> None:
            result = self.db.apply(op)
            self._later(lat.sample(self.chooser), lambda: reply(result))

        def reply(result: object) -> None:
            if w.incarnation == incarnation:
                w.send({"k": "sto", "id": sid, "r": result})

        self._later(lat.sample(self.chooser) + self._storage_extra(w.name), apply)

    def _storage_extra(self, node: str) -> float:
        """What the slow-storage windows open now add to an operation ``node`` sends."""
        now = self.now_ms()
        return sum(ms for who in (node, "storage") for start, end, ms in
                   self.slow_storage.get(who, ()) if start <= now < end)

    def _later(self, ms: float, fn: Callable[[], None]) -> None:
        assert self.loop is not None
        self._handles.append(self.loop.call_later(max(ms, 0.0) / 1000.0, fn))
        if len(self._handles) > 4096:
            self._handles = [h for h in self._handles if not h.cancelled()][-1024:]

    def _at(self, t_ms: float, fn: Callable[[], None]) -> None:
        self._later(t_ms - self.now_ms(), fn)

    # -- load (sim.runtime.load drives it) --------------------------------------------------------
    @property
    def now(self) -> float:
        return self.now_ms()

    def at(self, when: float, fn: Callable[[], None]) -> None:
        self._at(when, fn)

    def finish(self) -> None:
        if self.finished is not None:
            self.finished.set()

    def send_request(self, n: int, user: int, done: Callable[[], None]) -> None:
        """Request ``n`` through least_conn to a worker; ``done()`` when it answered."""
        def answered() -> None:
            if self.progress is not None:
                self.progress(1)
            done()

        w = self.balancer.pick()
        if w is None:  # nginx: no upstream alive, 502 at once
            answered()
            return
        w.active += 1  # type: ignore[attr-defined]
        w.requests[n] = answered  # type: ignore[attr-defined]
        w.send({"k": "req", "n": n, "user": user})  # type: ignore[attr-defined]

    # -- faults ----------------------------------------------------------------------------------
    def _apply(self, node: str, fault: Fault) -> None:
        """The real world's one applier: ``node`` is already resolved."""
        match fault:
            case Pause():
                self._pause(node, fault.duration_ms)
            case Crash():
                self._crash(node, fault)
            case Delay() | Partition():
                now = self.now_ms()
                end, extra = now + fault.duration_ms, getattr(fault, "extra_ms", 0.0)
                msg = {"k": "net", "kind": fault.kind, "start": now, "end": end,
                       "extra": extra, "on": node}
                for w in [self.by_name[node]] if node in self.by_name else self.workers:
                    w.send(msg)  # each worker holds the traffic of its links touching ``node``
                windows = self.net.setdefault(node, NetFaults())  # and the relays theirs
                if isinstance(fault, Delay):
                    windows.delays.append((now, end, extra))
                else:
                    windows.partitions.append((now, end))
                if isinstance(fault, Delay):
                    self._event("delay", node, (fault.extra_ms, fault.duration_ms))
                else:
                    self._event("partition", node, fault.duration_ms)
                    self._later(fault.duration_ms, lambda: self._event("heal", node))
            case Clock():
                if node in self.by_name:
                    self.by_name[node].send({"k": "clock", "offset": fault.offset_ms,
                                             "drift": fault.drift})
                elif self._is_redis(node):  # refused when the cluster was built
                    raise ClusterError(NODE_CLOCK)
                self._event("clock", node, (fault.offset_ms, fault.drift))
            case SlowStorage():
                now = self.now_ms()
                self.slow_storage.setdefault(node, []).append(
                    (now, now + fault.duration_ms, fault.extra_ms))
                self._event("slow-storage", node, (fault.extra_ms, fault.duration_ms))
            case RedisRestart():
                if self._legacy(node):
                    self._redis_restart(fault.down_ms)
                else:  # a node of a topology: back with what its persistence kept
                    self._event("crash", node)
                    self._node_crash(node, fault.down_ms)
            case LostReply() | Failover() | Lag() | Reconnect():  # refused when built
                raise ClusterError(f"{fault.kind} faults need the simulator")
            case _:
                assert_never(fault)

    def _redis_restart(self, down_ms: float) -> None:
        """SIGKILL, ``down_ms`` with nothing listening, then an empty server on the same port."""
        assert self.server is not None
        self._event("crash", "redis")
        if down_ms <= 0:
            launched = self.now_ms()
            self.server.restart()
            self._event("restart", "redis", at=launched)
            return
        self.server.kill()

        def back() -> None:
            if not self._closed and self.server is not None:
                launched = self.now_ms()  # clients may connect before start() returns
                self.server.start()
                self._event("restart", "redis", at=launched)

        self._later(down_ms, back)

    def _is_redis(self, node: str) -> bool:
        return node in self.topology.names

    def _legacy(self, node: str) -> bool:
        """Today's one Redis at its defaults: a crash empties it in place, at once."""
        return self.topology.nodes[0].legacy and node == self.topology.nodes[0].name

    def _node_crash(self, node: str, restart_after_ms: float | None) -> None:
        """SIGKILL a node; restart it after ``max(restart_after_ms, restart delay)``."""
        assert self.deployment is not None
        self.deployment.kill(node)
        self._publish_base = None  # its command stats start again from zero
        if restart_after_ms is None:
            return
        spec = next(n for n in self.topology.nodes if n.name == node)

        async def back() -> None:
            if self._closed or self.deployment is None:
                return
            with contextlib.suppress(DeploymentError):
                launched = self.now_ms()  # workers may reach it before restart() returns here
                await self.deployment.restart(node)
                if not self._closed:
                    self._event("restart", node, at=launched)

        def later() -> None:
            assert self.loop is not None
            self.loop.create_task(back())

        self._later(max(restart_after_ms, spec.restart_delay_ms), later)

    def _pause(self, node: str, duration_ms: float) -> None:
        end = self.now_ms() + duration_ms
        if self._is_redis(node):
            assert self.deployment is not None
            self.deployment.pause(node)  # recorded just after: the server is already frozen
        else:
            w = self.by_name[node]
            if not w.alive or w.proc is None:
                return
            w.paused_until.append(end)
            self._event("pause", node, duration_ms)
            with contextlib.suppress(ProcessLookupError):
                os.kill(w.proc.pid, signal.SIGSTOP)
        if self._is_redis(node):
            self._event("pause", node, duration_ms)
        self._later(duration_ms, lambda: self._unpause(node, end))

    def _unpause(self, node: str, end: float) -> None:
        """Recorded before the signal: nothing the node does after can precede it."""
        if self._is_redis(node):
            assert self.deployment is not None
            self._event("resume", node)
            self.deployment.resume(node)
            return
        w = self.by_name[node]
        if any(e > end + 1e-6 for e in w.paused_until):
            return  # a later, longer pause is still running
        w.paused_until.clear()
        self._event("resume", node)
        if w.alive and w.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(w.proc.pid, signal.SIGCONT)

    def _crash(self, node: str, fault: Crash) -> None:
        self._event("crash", node)
        if self._legacy(node):  # restart without persistence: every key is gone
            assert self.server is not None
            self.server.restart()
            self._publish_base = None  # its command stats start again from zero
            return
        if self._is_redis(node):  # down; back (if ever) with what its disk kept
            self._node_crash(node, fault.restart_after_ms)
            return
        w = self.by_name[node]
        if not w.alive:
            return
        w.kill()
        self._lost_worker(w, "crashed")
        if fault.restart_after_ms is not None:
            self._later(fault.restart_after_ms, lambda: self._restart(w))

    def _lost_worker(self, w: WorkerHandle, why: str) -> None:
        """Its open ops end as info (outcome unknown); its requests get a 502."""
        now = self.now_ms()
        prefix = w.name + "/"
        for process, opened in list(self.open_ops.items()):
            if process.startswith(prefix):
                self.nemesis.lost(process, opened, why, w.name,
                                  lambda p, y, f, v, n: self.record(now, p, y, f, v, n))
        w.incarnation += 1
        w.active = 0
        lost, w.requests = w.requests, {}
        for done in lost.values():
            done()

    def _restart(self, w: WorkerHandle) -> None:
        async def again() -> None:
            with contextlib.suppress(ClusterError):
                await self._spawn(w)
                w.send({"k": "t0", "t0": self.t0})
                self._event("restart", w.name)

        if not self._closed:
            assert self.loop is not None
            self.loop.create_task(again())

    # -- MONITOR ---------------------------------------------------------------------------------
    def _start_monitor(self) -> None:
        """A raw socket sending MONITOR; each status line written verbatim (``+`` dropped)."""
        assert self.monitor_path is not None
        sock = socket.create_connection((self.host, self.port), timeout=5.0)
        sock.sendall(b"MONITOR\r\n")
        sock.settimeout(None)
        self._monitor_sock = sock
        out = self.monitor_path.open("wb")

        def pump() -> None:
            buf = b""
            try:
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
                    *lines, buf = buf.split(b"\r\n")
                    for line in lines:
                        out.write((line[1:] if line[:1] in (b"+", b"-") else line) + b"\n")
            except OSError:
                pass
            finally:
                out.close()

        self._monitor_thread = threading.Thread(target=pump, name="locksim-monitor", daemon=True)
        self._monitor_thread.start()

    # -- running ---------------------------------------------------------------------------------
    async def run(self) -> RealResult:
        """The load and the faults, until every request completed or the horizon."""
        assert self.finished is not None
        started = time.perf_counter()
        self.record(0.0, "storage", "ok", "init", self.scenario.stock, "")
        for fault in self.scenario.faults:
            self._at(fault.at_ms, functools.partial(self.nemesis.strike, fault))
        self.load.start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.finished.wait(), self.scenario.horizon_ms / 1000.0)
        end = self.now_ms()
        self.record(end, "nemesis", "info", "end", None, "")
        after = self._publish_calls()
        publishes = (after - self._publish_base
                     if after is not None and self._publish_base is not None else None)
        return RealResult(
            scenario=self.scenario, history=self.history(), end_ms=end,
            completed=self.load.completed, stock_left=self.db.stock, time_scale=self.time_scale,
            redis_version=self.redis_version, scaled=self.scaled,
            wall_s=time.perf_counter() - started,
            pids={**{w.name: list(w.pids) for w in self.workers},
                  **(self.deployment.pids if self.deployment is not None else {})},
            publishes=publishes)

    def _publish_calls(self) -> int | None:
        """How many PUBLISH commands the servers have run so far (None: cannot ask)."""
        if self.deployment is not None:
            return self.deployment.publishes()
        import redis

        try:
            with redis.Redis(self.host, self.port, socket_timeout=2,
                             retry=None) as probe:  # type: ignore[arg-type]
                stats = probe.info("commandstats")
        except (redis.RedisError, OSError):
            return None
        entry = stats.get("cmdstat_publish", {})
        return int(entry.get("calls", 0)) if isinstance(entry, dict) else None

    async def run_program(self, node: str, process: str, target: str, *args: object,
                          timeout_s: float = 10.0) -> object:
        """Run ``module:function(*args)`` (an effect program) on a worker; its result."""
        assert self.loop is not None
        fut: asyncio.Future[object] = self.loop.create_future()
        self._programs[process] = fut
        self.by_name[node].send({"k": "prog", "process": process, "target": target,
                                 "args": list(args)})
        return await asyncio.wait_for(fut, timeout_s)


def run_real(scenario: Scenario, *, time_scale: float = 1.0,
             redis_server: Path | str | None = None, redis_url: str | None = None,
             monitor_log: Path | str | None = None, imports: tuple[str, ...] = (),
             progress: Callable[[int], None] | None = None) -> RealResult:
    """Run ``scenario`` on real processes and a real redis-server; everything stopped after.

    ``progress(n)`` is called as requests complete (for a progress bar).
    """
    try:
        scenario.validate()
    except ScenarioError as exc:
        raise ClusterError(str(exc)) from None

    async def go() -> RealResult:
        cluster = Cluster(scenario, time_scale=time_scale, redis_server=redis_server,
                          redis_url=redis_url, monitor_log=monitor_log, imports=imports,
                          progress=progress)
        try:
            await cluster.start()
            return await cluster.run()
        finally:
            cluster.close()

    return asyncio.run(go())
