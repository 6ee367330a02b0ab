"""Run a team's own async request handler in the simulated world, and check the run.

``run_handler(scenario, handler)`` is ``sim.world.run`` with ``AioServer``s in
place of the effect interpreters: the same load, balancer, network, Redis
node, database, faults, history and ground truth, so every checker judges it.
``check_determinism`` runs it twice and compares trace hashes; a run in which
the handler escaped the simulation raises ``HandlerError`` (an error, never a
verdict).
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import inspect
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from models.faults import Crash, Fault
from models.scenario import Scenario
from sim.aio import shims
from sim.aio.directory import Directory, Endpoint
from sim.aio.loop import BusyHandler
from sim.aio.observe import CURRENT, Observer
from sim.aio.sentinel import MASTER_NAME, SentinelEndpoint
from sim.aio.server import AioServer, Handler
from sim.world.world import RunResult, World


class HandlerError(ValueError):
    """The handler cannot be judged: it escaped the simulation, or cannot be loaded or run."""


def load_handler(spec: str) -> Handler:
    """``MODULE:FUNCTION`` -> the async function (one line of error otherwise)."""
    module_name, sep, name = spec.partition(":")
    if not sep or not module_name or not name:
        raise HandlerError(f"--handler wants MODULE:FUNCTION, not {spec!r}")
    if "" not in sys.path:
        sys.path.insert(0, "")  # a module beside the user, as `python -m` allows
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:  # any failure in the user's module
        raise HandlerError(f"cannot import handler module {module_name!r}: "
                           f"{type(exc).__name__}: {exc}") from None
    fn = getattr(module, name, None)
    if fn is None:
        raise HandlerError(f"module {module_name!r} has no {name!r}")
    if not _takes_three(fn) or inspect.isasyncgenfunction(fn):
        raise HandlerError(f"{spec} must be an async function (async def {name}(redis, db, "
                           f"user)) or, for the sync tier, def {name}(redis, db, user)")
    return fn  # type: ignore[no-any-return]


def _takes_three(fn: Any) -> bool:
    """A plain function callable as ``fn(redis, db, user)`` (the sync tier's handler)."""

    try:
        inspect.signature(fn).bind(None, None, 0)
    except (TypeError, ValueError):
        return False
    return callable(fn)


@dataclass(frozen=True)
class LibraryRun:
    """A handler run: the world's result plus what only a library run has."""

    result: RunResult
    handler: str
    library_errors: tuple[tuple[float, str, str, str], ...] = ()
    loop_errors: tuple[str, ...] = field(default=())

    @property
    def trace_hash(self) -> str:
        return self.result.trace_hash


class AioWorld(World):
    """The simulated world whose app servers run real asyncio code."""

    observer_class = Observer

    def __init__(self, scenario: Scenario, handler: Handler, handler_name: str = "",
                 client_kwargs: dict[str, Any] | None = None) -> None:
        self.handler = handler
        self.handler_name = handler_name
        self.client_kwargs = dict(client_kwargs or {})
        self.observer = self.observer_class(self)
        super().__init__(scenario)
        kind = scenario.redis_topology().kind
        sentinels = ([SentinelEndpoint(self, i) for i in range(scenario.sentinels)]
                     if kind == "sentinel" else [])
        self.directory = Directory.of(self.nodes, kind, sentinels)
        self._clients = 0  # the handler clients made so far: each one's hash

    def make_server(self, name: str) -> Any:
        return AioServer(self, name)

    def close(self) -> None:
        """Close the loops of a world that was built but never run (a run closes its own),
        so none is left for the garbage collector to warn about."""
        for server in self.servers:
            if not server.loop.is_closed():
                server.loop.close()

    def route(self, host: str | None, port: int | None) -> tuple[str, Endpoint] | None:
        return self.directory.route(host, port)

    def addresses_text(self) -> str:
        return self.directory.text()

    def client_kit(self) -> ClientKit:
        """redis-py's asyncio classes (the sync tier: its sync ones)."""
        return client_kit(sync=False)

    def make_client(self, server: AioServer) -> Any:
        """What the handler's ``redis`` is (``sim.aio.directory``): redis-py's client as an
        app makes it, pointed at the simulated primary; a tuple of them, one per master
        (``redlock:N``); or one that asks the Sentinels for the master (``sentinel:N``)."""
        if self.directory.sentinels:
            return self._sentinel_client()
        clients = tuple(self._client(host, port) for host, port in self.directory.clients)
        return clients if self.directory.per_master else clients[0]

    def _client(self, host: str, port: int) -> Any:
        kwargs = self._kwargs(self.client_options(host, port))
        try:
            client = self.client_kit().redis(**kwargs)
        except TypeError as exc:
            raise HandlerError(f"client_params: {exc}") from None
        return self._numbered(client)

    def _sentinel_client(self) -> Any:
        """``Sentinel(sentinels, **options).master_for("mymaster")``: every new connection
        asks the Sentinels where the master is (redis-py's Sentinel client, unchanged)."""
        kwargs = self._kwargs(self.client_options())
        del kwargs["host"], kwargs["port"]
        kit = self.client_kit()
        try:
            sentinel = kit.sentinel(list(self.directory.sentinels), **kwargs)
            client = sentinel.master_for(MASTER_NAME, redis_class=kit.redis)
        except TypeError as exc:
            raise HandlerError(f"client_params: {exc}") from None
        return self._numbered(client)

    def _kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        if "retries" in kwargs:  # the shipped backoff, with another number of retries
            from redis.backoff import ExponentialWithJitterBackoff

            kwargs["retry"] = self.client_kit().retry(
                ExponentialWithJitterBackoff(base=0.01, cap=1.0), int(kwargs.pop("retries")))
        return kwargs

    def _numbered(self, client: Any) -> Any:
        self._clients += 1
        client._locksim_serial = self._clients
        return client

    def client_options(self, host: str | None = None, port: int | None = None
                      ) -> dict[str, Any]:
        """The client's keyword arguments: the simulated node (the primary by default),
        the scenario's, the caller's."""
        first_host, first_port = self.directory.clients[0]
        return {"host": first_host if host is None else host,
                "port": first_port if port is None else port,
                **dict(self.scenario.client_params), **self.client_kwargs}

    def start_request(self, server: Any, n: int, user: int,
                      on_done: Callable[[object], None]) -> None:
        process = f"{server.name}/req{n}"
        span = self.spans[process] = [server.name, self.env.now, None, None]

        def done(result: object) -> None:
            if span[3] is None:
                span[2] = self.env.now
            on_done(result)

        server.start(process, user, done)

    def _crash(self, node: str, fault: Crash) -> None:
        super()._crash(node, fault)
        if node in self.nodes:  # a Redis node restarted: its connections are reset
            for server in self.servers:
                server.redis_lost(node)


@dataclass(frozen=True)
class ClientKit:
    """The redis-py classes a tier makes the handler's clients from."""

    redis: type  # hashing by creation order (``hashed``)
    retry: type
    sentinel: type


@functools.cache
def client_kit(sync: bool) -> ClientKit:
    if sync:
        import redis
        import redis.retry
        import redis.sentinel

        return ClientKit(hashed(redis.Redis), redis.retry.Retry, redis.sentinel.Sentinel)
    import redis.asyncio
    import redis.asyncio.retry
    import redis.asyncio.sentinel

    return ClientKit(hashed(redis.asyncio.Redis), redis.asyncio.retry.Retry,
                     redis.asyncio.sentinel.Sentinel)


def hashed(base: type) -> type:
    """``base`` (a redis-py client class) hashing by creation order in its run, not by
    address: a library that keeps clients in a set (pottery's ``frozenset(masters)``) then
    visits them in one order every run. Equality stays identity, as redis-py's."""

    def serial_hash(self: Any) -> int:
        return int(self._locksim_serial)

    return type(base.__name__, (base,), {"__hash__": serial_hash,
                                         "__module__": base.__module__,
                                         "__qualname__": base.__qualname__})


def _who() -> str | None:
    req = CURRENT.get()
    return req.process if req is not None else None


def run_handler(scenario: Scenario, handler: Handler | str | None = None,
                client_kwargs: dict[str, Any] | None = None) -> LibraryRun:
    """One run of ``handler`` (default: the scenario's) under ``scenario``; raises
    ``HandlerError`` if it escaped the simulation or cannot be loaded."""
    if handler is None:
        if not scenario.handler:
            raise HandlerError("the scenario names no handler (MODULE:FUNCTION)")
        handler = scenario.handler
    if isinstance(handler, str) and scenario.handler != handler:
        scenario = scenario.with_(handler=handler)
    name = handler if isinstance(handler, str) else _name(handler)
    refuse_unsupported(scenario.faults)
    fn = load_handler(handler) if isinstance(handler, str) else handler
    if not asyncio.iscoroutinefunction(fn):  # a plain def: the sync tier (sim.aio.threads)
        try:
            from sim.aio.threads.runner import run_handler as run_sync
        except ImportError as exc:
            raise HandlerError(f"{name} is a sync function; the sync tier needs {exc.name} "
                               "(pip install -e \".[sync]\")") from None

        return run_sync(scenario, fn, name, client_kwargs)  # type: ignore[arg-type]
    world = AioWorld(scenario, fn, name, client_kwargs)
    sim = shims.Simulation(scenario.seed, lambda: world.env.now, _who)
    try:
        with world.observer.instrument(), shims.patched(sim):  # libraries import unpatched
            try:
                result = world.run()
                loops = [s.loop for s in world.servers]
                errors = loop_errors(loops)
            finally:  # what is still running at the horizon ends here, inside the run
                for server in world.servers:
                    server.shutdown()
    except BusyHandler as exc:
        raise HandlerError(f"{name}: {exc}") from None
    escaped(name, sim)
    return LibraryRun(result, name, tuple(world.observer.library_errors), errors)


def escaped(name: str, sim: shims.Simulation) -> None:
    """HandlerError if anything escaped the simulation during the run."""
    if sim.escapes:
        first = sim.escapes[0]
        more = f" (and {len(sim.escapes) - 1} more)" if len(sim.escapes) > 1 else ""
        raise HandlerError(f"{name} escaped the simulation: {first}{more}; "
                           "its run is not a result")


def loop_errors(loops: Iterable[Any]) -> tuple[str, ...]:
    return tuple(_loop_error(c) for loop in loops for c in loop.errors)


UNSUPPORTED = ("lost-reply", "reconnect", "aimed")
"""Fault kinds (and swarm draws) the asyncio tier cannot apply: its commands leave
through redis-py's own connection, not the design interpreter that drops a reply, resets
a connection under a command or waits for a protocol event; a handler run never pretends
it applied them."""


def refuse_unsupported(faults: Iterable[Fault]) -> None:
    """HandlerError naming the first fault a handler run cannot apply."""
    for fault in faults:
        trigger = getattr(fault, "trigger", None)
        if fault.kind in UNSUPPORTED or trigger is not None:
            what = (f"a {fault.kind} fault" if fault.kind in UNSUPPORTED
                    else f"a triggered {fault.kind} fault (@{trigger})")
            raise HandlerError(f"{what} is simulator-only for lock designs; the asyncio tier "
                               "cannot apply it to a handler (use times, not triggers)")


def _loop_error(context: dict[str, Any]) -> str:
    exc = context.get("exception")
    text = str(context.get("message", ""))
    return f"{text}: {type(exc).__name__}: {exc}" if exc is not None else text


def _name(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', '?')}"


@dataclass(frozen=True)
class Determinism:
    """Two runs of one scenario and seed: equal trace hashes, or the run is not a result."""

    same: bool
    first: str
    second: str

    def __str__(self) -> str:
        if self.same:
            return f"deterministic: two runs, trace hash {self.first[:16]}"
        return (f"NOT deterministic: trace hashes {self.first[:16]} and {self.second[:16]} "
                "differ (something in the handler escaped the simulation)")


def check_determinism(scenario: Scenario, handler: Handler | str | None = None,
                      client_kwargs: dict[str, Any] | None = None
                      ) -> tuple[LibraryRun, Determinism]:
    """The self-check every library scenario gets: two runs, compared by trace hash."""
    first = run_handler(scenario, handler, client_kwargs)
    second = run_handler(scenario, handler, client_kwargs)
    return first, Determinism(first.trace_hash == second.trace_hash, first.trace_hash,
                              second.trace_hash)


def judge(run: LibraryRun) -> Any:
    """Every registered checker plus the library-level one, most harmful first.

    The library-level symptom (``held-until-release``: what the library told the
    holder, e.g. ``LockNotOwnedError``) is also told in the story of every lock
    property that fails with it, so a saved counterexample names it."""
    from dataclasses import replace

    from models.checkers import Verdicts, check_all
    from models.checkers.library import (
        check_held_until_release,
        check_no_phantom_hold,
        check_no_zombie_write,
    )

    history = run.result.history
    prefix = lock_prefix(history)
    params = {n: {"prefix": prefix} for n in ("foreign-release", "immortal-lock")}
    verdicts = check_all(history, truth=run.result, params=params)
    symptom = check_held_until_release(history)
    if symptom.valid is False:
        note = f"\nlibrary symptom: {symptom.story}"
        verdicts = Verdicts(replace(v, story=v.story + note) if v.valid is False
                            and v.property in LOCK_PROPERTIES else v for v in verdicts)
    phantom = check_no_phantom_hold(history, run.result.effects, prefix)
    zombie = check_no_zombie_write(run.result.effects, run.result.requests, prefix)
    return Verdicts((*verdicts, symptom, phantom, zombie))


def lock_prefix(history: Any) -> str:
    """Which keys are leases: the namespace of the keys the library acquired (redis-py: the
    name given, ``lock:...``; pottery: ``redlock:...``), ``lock:`` when none was."""
    for op in history:
        if op.f == "acquire" and op.type == "invoke" and isinstance(op.value, str):
            head, sep, _ = op.value.partition(":")
            return head + sep if sep else op.value
    return "lock:"


LOCK_PROPERTIES = ("mutual-exclusion", "owner-only-release", "foreign-release")
"""The properties a lost lock breaks: their stories carry the library's symptom."""
