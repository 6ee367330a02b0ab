"""An app server: one Node.js-like event loop driving effect-yielding tasks.

Everything a server does runs as a callback on its single loop, one at a
time: a request's synchronous stretch up to its next await, a reply, a timer,
a pub/sub message. CPU work blocks every other task; waiting for I/O does
not. A stop-the-world pause freezes the loop: timers fire and replies arrive
into the socket buffer meanwhile, and all of them run after it. A crash kills
every task; what was in flight is lost and its locks are left to expire.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from models.client_library import CLIENT_LIBRARIES
from models.faults import LostReply, Pause, Reconnect
from models.locks.effect import TIMED_OUT, Record, Storage
from sim.runtime.loop import Interpreter, Task
from sim.world.kernel import URGENT, call_after
from sim.world.network import Connection
from sim.world.reset import Resets
from sim.world.topology import is_down

__all__ = ["AppServer", "Task"]

if TYPE_CHECKING:
    from sim.world.world import World

_RESUME = 0
_MESSAGE = 1


def _lost(on_reply: Callable[[object], None]) -> Callable[[object], None]:
    """A lost reply: Redis ran the command, but the connection drops as the reply
    leaves; the client learns then that the outcome is unknown (``TIMED_OUT``),
    unless the call's own timeout fired first."""
    return lambda _reply: on_reply(TIMED_OUT)


class AppServer(Interpreter):
    """A NestJS process: event loop, Redis connections, clock, pause and crash;
    the ``Host`` of ``sim.runtime.loop`` in virtual time."""

    def __init__(self, world: World, name: str, callback_cpu_ms: float) -> None:
        self.world = world
        self.env = world.env
        self.name = name
        self.callback_cpu_ms = callback_cpu_ms
        self.queue: deque[tuple[int, Any, Any]] = deque()
        self.alive = True
        self.paused = False
        self.frozen_total = 0.0
        self.frozen_since = 0.0
        self.init_interpreter()
        self.active = 0  # requests in progress, for least_conn
        self._idle = False  # the loop waits for a callback to run
        self._burning: tuple[float, Any, tuple[Any, ...]] | None = None  # CPU frozen by a pause
        self._held: list[tuple[Storage, Any]] = []  # storage sends a triggered pause holds
        self.pool: list[Connection] = []  # idle connections for blocking calls
        self.pooled: list[Connection] = []  # every connection the pool ever opened
        self.cmd: Connection
        self.sub: Connection
        self.conns: dict[str, Connection] = {}  # command connections to named nodes
        # ioredis: commands whose connection broke, to send again once reconnected
        # (node name, "" for the master; argv, on_reply, request, blocking)
        scenario = world.scenario
        # a reconnect fault: commands are kept per connection until answered (sim.world.reset)
        self.resets = (Resets(self) if any(type(f) is Reconnect for f in scenario.faults)
                       else None)
        self.resend = ((scenario.topology != "single" or self.resets is not None)
                       and CLIENT_LIBRARIES[scenario.client_library].resend)
        self.offline: list[tuple[str, tuple[object, ...], Callable[[object], None],
                                 str | None, bool]] = []
        self._connect()
        # The loop is a chain of callbacks on SimPy's queue, not a SimPy process
        # (cheaper per step); it starts as a process would: urgent, at once.
        call_after(self.env, 0, self._loop, priority=URGENT)

    # -- connections -------------------------------------------------------
    def _connect(self) -> None:
        world = self.world
        lat = world.scenario.redis_latency
        self.cmd = Connection(world, world.next_client_id(), self, lat, self.name)
        self.sub = Connection(world, world.next_client_id(), self, lat, self.name)

    # -- the loop ----------------------------------------------------------
    def enqueue(self, kind: int, a: Any, b: Any) -> None:
        self.queue.append((kind, a, b))
        if self._idle and not self.paused:
            self._idle = False
            call_after(self.env, 0, self._loop)

    def resume(self, task: Task, value: object) -> None:
        """Queue ``task`` to continue with ``value`` (a reply, a timer, a message)."""
        self.enqueue(_RESUME, task, value)

    def _loop(self) -> None:
        """Take callbacks off the queue until one must wait for time to pass."""
        queue = self.queue
        cpu = self.callback_cpu_ms
        while True:
            if not queue or self.paused or not self.alive:
                self._idle = True  # enqueue, unpause or restart wakes the loop
                return
            kind, a, b = queue.popleft()
            if cpu > 0:
                self._cpu(cpu, self._callback, (kind, a, b))
                return
            if kind == _MESSAGE:
                self.fan_out(a.decode(), b)
            elif not self.step(a, b):
                return

    def _callback(self, kind: int, a: Any, b: Any) -> None:
        """A callback's CPU is burnt: run it (unless the process died meanwhile)."""
        if self.alive:
            if kind == _MESSAGE:
                self.fan_out(a.decode(), b)
            elif not self.step(a, b):
                return
        self._loop()

    def _cpu(self, remaining: float, then: Callable[..., None], args: tuple[Any, ...]) -> None:
        """Burn ``remaining`` ms of CPU, then ``then(*args)``; frozen time does not count."""
        if remaining <= 1e-9:
            then(*args)
        elif self.paused:
            self._burning = (remaining, then, args)  # _unpause carries on
        else:  # not paused: frozen_now() is frozen_total
            call_after(self.env, remaining, self._burnt, self.frozen_total, then, args)

    def _burnt(self, frozen_before: float, then: Callable[..., None],
               args: tuple[Any, ...]) -> None:
        # work a pause kept from happening is still to do (frozen_now, inlined)
        frozen = self.frozen_total
        if self.paused:
            frozen += self.env._now - self.frozen_since
        remaining = frozen - frozen_before
        if remaining <= 1e-9:
            then(*args)
        else:
            self._cpu(remaining, then, args)

    def _after_work(self, task: Task) -> None:
        if self.step(task, None):
            self._loop()

    def frozen_now(self) -> float:
        frozen = self.frozen_total
        if self.paused:
            frozen += self.env._now - self.frozen_since
        return frozen

    # -- the Host ------------------------------------------------------------
    def true_now(self) -> float:
        return self.env._now  # type: ignore[no-any-return]

    def call(self, argv: tuple[object, ...], blocking: bool,
             on_reply: Callable[[object], None]) -> None:
        nemesis = self.world.nemesis
        if nemesis.watches:  # a triggered fault waits for a command
            request = self.calling
            ran = None
            for fault in nemesis.sent(request, self.name, True):
                if type(fault) is LostReply:
                    on_reply = _lost(on_reply)
                elif type(fault) is Reconnect:
                    ran = fault.ran  # its connection resets under it (sim.world.reset)
            self._send(argv, blocking, on_reply, ran)
            nemesis.sent(request, self.name, False)
        else:
            self._send(argv, blocking, on_reply)

    def _send(self, argv: tuple[object, ...], blocking: bool,
              on_reply: Callable[[object], None], ran: bool | None = None) -> None:
        if self.resend:
            on_reply = self._kept(self.target or "", argv, on_reply, self.calling, blocking)
        if self.target is not None:
            conn = self._node_conn(self.target)
        elif blocking:
            self._call_pooled(argv, on_reply, ran)
            return
        else:
            conn = self.cmd
        if self.resets is not None:
            self.resets.send(conn, argv, on_reply, ran)
        else:
            conn.send(argv, on_reply, self.calling)

    def _kept(self, node: str, argv: tuple[object, ...], on_reply: Callable[[object], None],
              request: str | None, blocking: bool) -> Callable[[object], None]:
        """``on_reply``, unless the connection broke: then the command waits to be resent."""
        def replied(reply: object) -> None:
            if is_down(reply) and self.alive:
                self.offline.append((node, argv, on_reply, request, blocking))
            else:
                on_reply(reply)
        return replied

    def reconnected(self, node: str) -> None:
        """A connection is back (``node`` up again; "": moved to a new master): resend
        the commands kept for it, in the order they were sent."""
        if not self.offline or not self.alive:
            return
        ready = [e for e in self.offline if e[0] == node
                 or (e[0] == "" and self.cmd.redis.name == node)]
        if not ready:
            return
        self.offline = [e for e in self.offline if e not in ready]
        calling, target = self.calling, self.target
        try:
            for name, argv, on_reply, request, blocking in ready:
                self.calling, self.target = request, name or None
                self._send(argv, blocking, on_reply)
        finally:
            self.calling, self.target = calling, target

    def _node_conn(self, name: str) -> Connection:
        """The command connection to node ``name``, opened on first use."""
        conn = self.conns.get(name)
        if conn is None:
            world = self.world
            node = world.nodes.get(name)
            if node is None:
                raise ValueError(f"{self.name} sent a command to Redis node {name!r}, which "
                                 f"this world does not have (nodes: {', '.join(world.nodes)})")
            conn = self.conns[name] = Connection(world, world.next_client_id(), self,
                                                 world.scenario.redis_latency, self.name, node)
        return conn

    def storage(self, effect: Storage, on_reply: Callable[[object], None]) -> None:
        nemesis = self.world.nemesis
        if nemesis.watches:  # a triggered fault may wait for the holder's write
            fired = nemesis.stored(self.calling, self.name, effect.op)
            if not self.alive:
                return  # it crashed between its last step and the write: never sent
            if self.paused and any(type(f) is Pause for f in fired):
                self._held.append((effect, on_reply))  # sent once the pause ends
                return
        self.world.storage_call(effect, on_reply, self.name)

    def subscribe(self, channel: str, on_confirmed: Callable[[], None]) -> None:
        if self.resets is not None:
            self.resets.send(self.sub, ("SUBSCRIBE", channel), lambda _r: on_confirmed())
            return
        self.sub.send(("SUBSCRIBE", channel), lambda _r: on_confirmed())

    def after_local(self, ms: float, fn: Callable[..., None], *args: Any) -> None:
        world = self.world
        world.at(world.now + self.true_duration(ms), fn, *args)

    def microtasks(self, woken: list[tuple[Task, object]]) -> None:
        # Resolved promises run as microtasks: before any other queued callback.
        self.queue.extendleft([(_RESUME, t, v) for t, v in reversed(woken)])

    def work(self, task: Task, ms: float) -> bool:
        self._cpu(ms, self._after_work, (task,))
        return False

    def record(self, task: Task, effect: Record) -> None:
        self.world.record(task, effect, self.name)

    def token(self) -> str:
        return self.world.chooser.token()  # type: ignore[no-any-return]

    def _call_pooled(self, argv: tuple[object, ...], on_reply: Callable[[object], None],
                     ran: bool | None = None) -> None:
        """A blocking command on a pool connection of its own (see ``Call.blocking``)."""
        if self.pool:
            conn = self.pool.pop()
        else:
            world = self.world
            conn = Connection(world, world.next_client_id(), self,
                              world.scenario.redis_latency, self.name)
            self.pooled.append(conn)

        def replied(reply: object) -> None:
            if conn.open:  # back to the pool once its reply is in (unless it was reset)
                self.pool.append(conn)
            on_reply(reply)

        if self.resets is not None:
            self.resets.send(conn, argv, replied, ran)
        else:
            conn.send(argv, replied, self.calling)

    # -- pub/sub -------------------------------------------------------------
    def on_message(self, channel: bytes, message: bytes) -> None:
        """A message reached the subscriber socket: it runs as a loop callback."""
        if self.alive:
            self.enqueue(_MESSAGE, channel, message)

    # -- faults --------------------------------------------------------------------
    def pause(self, duration_ms: float) -> None:
        world = self.world
        if not self.paused:
            self.paused = True
            self.frozen_since = world.now
        end = world.now + duration_ms
        world.at(end, self._unpause, end)

    def _unpause(self, end: float) -> None:
        if not self.paused or self.world.now < end - 1e-9:
            return
        # a later, longer pause may still be running
        if any(e > self.world.now + 1e-9 for e in self.world.pause_ends.get(self.name, ())):
            return
        self.paused = False
        self.frozen_total += self.world.now - self.frozen_since
        if self._held:
            held, self._held = self._held, []
            for effect, on_reply in held:
                self.world.storage_call(effect, on_reply, self.name)
        if self._burning is not None:
            burning, self._burning = self._burning, None
            call_after(self.env, 0, self._cpu, *burning)
        if self.queue and self._idle:
            self._idle = False
            call_after(self.env, 0, self._loop)

    def crash(self) -> list[Task]:
        """Kill the process: every task dies, both connections close."""
        self.alive = False
        self.paused = False
        dead = list(self.tasks)
        for task in dead:
            task.alive = False
        self.tasks.clear()
        self.listeners.clear()
        self.sems.clear()
        self.queue.clear()
        self._held.clear()
        self.offline.clear()
        if self.resets is not None:
            self.resets.unanswered.clear()
        self.cmd.close()
        self.sub.close()
        for conn in self.pooled:
            conn.close()
        for conn in self.conns.values():
            conn.close()
        self.conns.clear()
        self.pool.clear()
        self.pooled.clear()
        self.active = 0
        return dead

    def restart(self) -> None:
        """A fresh process: new connections, empty loop, clock kept."""
        self._connect()
        self.alive = True
        self.incarnation += 1
        if self._idle:
            self._idle = False
            call_after(self.env, 0, self._loop)
