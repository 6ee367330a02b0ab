"""A simulated app-server process running real asyncio code: loop, client, clock, faults.

The world steps the process's ``SimLoop`` whenever something reaches it (a
request, a reply, a database answer) and at its next timer; a pause stops the
stepping (SIGSTOP: replies and timers pile up, the clock runs on) and a crash
drops the loop with everything on it. Requests run the user's handler as an
asyncio task with ``redis`` (a ``redis.asyncio.Redis`` client of this process,
shared by its requests as an app's client is) and ``db`` (the coupon storage).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from models.locks.effect import Storage
from sim.aio import shims
from sim.aio.loop import SimLoop
from sim.aio.observe import CURRENT, Request, error_text, immutable
from sim.aio.sentinel import Following
from sim.aio.transport import SimSocket, SimTransport

if TYPE_CHECKING:
    from sim.aio.runner import AioWorld

Handler = Callable[[Any, Any, int], Awaitable[object]]


class CouponStore:
    """The coupon database as the handler sees it: ``await db.read(user)``, ``await
    db.commit(user, new_stock)``. Every call is recorded (read, issue, stock) for the
    coupon checkers; latency is the world's storage latency."""

    def __init__(self, server: AioServer) -> None:
        self._server = server

    async def read(self, user: int) -> tuple[int, bool]:
        """The stock left and whether ``user`` already has a coupon."""
        server = self._server
        req = CURRENT.get()
        if req is not None:
            server.observer.record(req, "invoke", "read", user)
        result = await server.storage(Storage("read", user=user))
        if req is not None:
            server.observer.record(req, "ok", "read", result)
        return result  # type: ignore[return-value]

    async def commit(self, user: int, stock: int) -> bool:
        """One transaction: give ``user`` a coupon and write the new ``stock``."""
        server = self._server
        req = CURRENT.get()
        if req is not None:
            server.observer.record(req, "invoke", "issue", (user, None))
            server.observer.record(req, "invoke", "stock", (stock, None))
        ok = await server.storage(Storage("commit", user=user, value=stock))
        if req is not None:
            server.observer.record(req, "ok", "issue")
            server.observer.record(req, "ok", "stock")
        return bool(ok)


class AioServer:
    """One app-server process: the world's ``AppServer`` contract over a real asyncio loop."""

    def __init__(self, world: AioWorld, name: str) -> None:
        self.world = world
        self.name = name
        self.observer = world.observer
        self.alive = True
        self.paused = False
        self.active = 0  # requests in progress, for least_conn
        self.incarnation = 0
        self.clock_offset = 0.0
        self.clock_drift = 0.0
        self.clock_since = 0.0
        self.requests: dict[str, Request] = {}
        # what the world's Sentinel reads (``server.cmd.redis``): this process's own client
        # library asks the simulated Sentinels (sim.aio.sentinel), nothing to move for it
        self.cmd = Following(world)
        self._now_pending = False
        self._timer_at: float | None = None
        self._fresh()

    def _fresh(self) -> None:
        """A new process image: an empty loop, a new client, no connections."""
        self.loop = SimLoop(self)
        self.sockets: list[SimTransport] = []
        self.db = CouponStore(self)
        self._client: Any = None

    @property
    def client(self) -> Any:
        """This process's ``redis.asyncio.Redis`` (a tuple of them for Redlock), made on
        first use inside the simulation."""
        if self._client is None:
            self._client = self.world.make_client(self)
        return self._client

    # -- the clock (as sim.runtime.loop.Interpreter's) -------------------------------
    def local_time(self) -> float:
        now = self.world.env.now
        return now + self.clock_offset + self.clock_drift * (now - self.clock_since)

    def set_clock(self, offset_ms: float, drift: float) -> None:
        now = self.world.env.now
        self.clock_offset = self.local_time() - now + offset_ms
        self.clock_since = now
        self.clock_drift = drift
        self._timer_at = None  # the loop's timers now fall due at other true times
        self.wake()

    def _true_at(self, local_ms: float) -> float:
        """The true time at which the local clock reads ``local_ms``."""
        d = self.clock_drift
        return (local_ms - self.clock_offset + d * self.clock_since) / (1.0 + d)

    # -- stepping --------------------------------------------------------------------
    def wake(self) -> None:
        """Something is ready on the loop: step it at this instant (unless frozen or dead)."""
        if self.alive and not self.paused and not self._now_pending:
            self._now_pending = True
            world = self.world
            world.at(world.env.now, self._step_now)

    def _step_now(self) -> None:
        self._now_pending = False
        self._step()

    def _step_timer(self, when: float) -> None:
        if self._timer_at == when:
            self._timer_at = None
        self._step()

    def _step(self) -> None:
        if not self.alive or self.paused:
            return
        sim = shims.active()
        if sim is not None:
            sim.local_ms = self.local_time
        try:
            self.loop.run_ready()
        finally:
            if sim is not None:
                sim.local_ms = None
        deadline = self.loop.next_deadline()
        if deadline is None:
            return
        now = self.world.env.now
        at = self._true_at(deadline * 1000.0)
        if at <= now:  # rounding: due, yet not by the loop's reading of the clock
            at = now + 1e-6
        if self._timer_at is None or at < self._timer_at:
            self._timer_at = at
            self.world.at(at, self._step_timer, at)

    # -- requests --------------------------------------------------------------------
    def start(self, process: str, user: int, on_done: Callable[[object], None]) -> Request:
        req = Request(process, self.name, on_done)
        self.requests[process] = req
        ctx = contextvars.copy_context()
        ctx.run(CURRENT.set, req)
        self.loop.create_task(self._serve(req, user), context=ctx)
        self.wake()
        return req

    async def _serve(self, req: Request, user: int) -> None:
        obs = self.observer
        obs.record(req, "invoke", "request", user)
        try:
            outcome = await self.world.handler(self.client, self.db, user)
        except (shims.Escaped, asyncio.CancelledError, Exception) as exc:
            self._answer(req, *raised(exc))
        else:
            self._answer(req, "ok", immutable(outcome))

    def _answer(self, req: Request, how: str, value: object) -> None:
        """The request's answer (``ok`` with its value, ``fail``/``info`` with why)."""
        self.observer.closing(req)
        self.observer.record(req, how, "request", value)
        self._finish(req, value if how == "ok" else str(value).split(":")[0])

    def _finish(self, req: Request, outcome: object) -> None:
        if not req.alive:
            return
        req.alive = False
        self.requests.pop(req.process, None)
        if req.on_done is not None:
            req.on_done(outcome)

    # -- I/O ---------------------------------------------------------------------------
    async def connect(self, protocol_factory: Callable[[], asyncio.BaseProtocol],
                      host: str | None, port: int | None
                      ) -> tuple[asyncio.Transport, asyncio.BaseProtocol]:
        """TCP connect to a simulated node by (host, port): one round trip, or refused."""
        node = self.world.route(host, port)
        if not self.alive:
            raise ConnectionRefusedError("locksim: this process is gone")
        if node is None:
            raise ConnectionRefusedError(f"locksim: nothing listens on {host}:{port} "
                                         f"(simulated nodes: {self.world.addresses_text()})")
        protocol = protocol_factory()
        transport = SimTransport(self, protocol, (str(host), int(port or 0)))  # type: ignore[arg-type]
        node_name, redis_node = node
        fut = self.loop.create_future()
        loop = self.loop
        sock = SimSocket(self, redis_node, node_name, transport)

        def established(refused: bool) -> None:  # SYN and SYN-ACK crossed the network
            if not self.alive or loop is not self.loop:
                return
            if refused:  # a node of a topology that is down: nothing listens there
                sock.close()
                loop.call_soon(_fail, fut, ConnectionRefusedError(
                    f"locksim: {node_name} ({host}:{port}) is down"))
                self.wake()
                return
            transport.socket = sock
            self.sockets.append(transport)
            loop.call_soon(_resolve, fut, None)
            self.wake()

        def syn() -> None:
            sock.down.send(self.world.env.now, established, not getattr(redis_node, "up", True))

        sock.up.send(self.world.env.now, syn)
        await fut
        protocol.connection_made(transport)
        return transport, protocol

    def storage(self, op: Storage) -> asyncio.Future[object]:
        fut = self.loop.create_future()
        loop = self.loop
        if not self.alive:  # a dead process's last gasp reaches no database
            return fut

        def reply(result: object) -> None:
            if self.alive and loop is self.loop:
                loop.call_soon(_resolve, fut, result)
                self.wake()

        self.world.storage_call(op, reply)
        return fut

    def escape(self, kind: str, detail: str) -> None:
        sim = shims.active()
        if sim is not None:
            sim.escape(kind, detail)

    def redis_lost(self, node: str) -> None:
        """The Redis node restarted: every connection to it is reset."""
        kept = []
        for transport in self.sockets:
            if transport.socket is not None and transport.socket.node != node:
                kept.append(transport)
            else:
                transport.lost(ConnectionResetError(f"locksim: {node} restarted"))
        self.sockets = kept

    # -- faults ----------------------------------------------------------------------
    def pause(self, duration_ms: float) -> None:
        world = self.world
        self.paused = True
        end = world.env.now + duration_ms
        world.at(end, self._unpause, end)

    def _unpause(self, end: float) -> None:
        world = self.world
        if not self.paused or world.env.now < end - 1e-9:
            return
        if any(e > world.env.now + 1e-9 for e in world.pause_ends.get(self.name, ())):
            return
        self.paused = False
        self._now_pending = False
        self._timer_at = None
        self.wake()

    def reconnected(self, node: str) -> None:
        """A node is back: nothing to resend here, since the handler's own client library
        (redis-py's retry, pottery's) decides what it sends again, as it does on TCP."""

    def crash(self) -> list[Request]:
        """Kill the process: every request dies mid-flight, its connections close."""
        self.alive = False
        self.paused = False
        dead = list(self.requests.values())
        for req in dead:
            req.alive = False
        self.requests.clear()
        self.active = 0
        self.shutdown()
        return dead

    def shutdown(self) -> None:
        """The process image ends (a crash, or the run's end): its connections are cut,
        then its loop's coroutines are closed while nothing they do can leave it."""
        self.alive = False
        for transport in self.sockets:
            transport.dead()
        self.sockets.clear()
        with self.observer.mute():
            self.loop.dispose()
        forget_connections(self._client)

    def restart(self) -> None:
        self._fresh()
        self.alive = True
        self.incarnation += 1
        self._now_pending = False
        self._timer_at = None


def forget_connections(client: Any) -> None:
    """A dead process's sockets die with it: drop redis-py's stream references so its
    ``Connection`` objects, collected later, do not warn "unclosed Connection" about
    sockets that were never real (every connection of the pools, Sentinel's included)."""
    clients = client if isinstance(client, tuple) else (client,)
    for one in clients:
        pool = getattr(one, "connection_pool", None)
        manager = getattr(pool, "sentinel_manager", None)
        pools = [pool, *(getattr(s, "connection_pool", None)
                         for s in getattr(manager, "sentinels", ()))]
        for each in pools:
            for conn in (*getattr(each, "_available_connections", ()),
                         *getattr(each, "_in_use_connections", ())):
                if getattr(conn, "_writer", None) is not None:
                    conn._writer = conn._reader = None


def raised(exc: BaseException) -> tuple[str, object]:
    """A request's answer when its handler raised ``exc`` (``info``: escaped or cancelled;
    ``fail``: the handler failed, the user sees an error answer)."""
    if isinstance(exc, shims.Escaped):
        return "info", "escaped"
    if isinstance(exc, asyncio.CancelledError):
        return "info", "cancelled"
    return "fail", error_text(exc)


def _resolve(fut: asyncio.Future[object], value: object) -> None:
    if not fut.done():
        fut.set_result(value)


def _fail(fut: asyncio.Future[object], exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)
