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
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from models.locks.effect import (
    TIMED_OUT,
    Call,
    Cancel,
    Now,
    Record,
    Sleep,
    Spawn,
    Storage,
    Subscribe,
    Token,
    Unsubscribe,
    WaitMessage,
    Work,
)
from sim.runtime.semaphore import Semaphore, semaphore
from sim.world.kernel import URGENT, call_after
from sim.world.network import Connection

if TYPE_CHECKING:
    from sim.world.world import World

_RESUME = 0
_MESSAGE = 1


class _Subscribed:
    """Resume value: the subscription to ``channel`` is confirmed; attach now."""

    __slots__ = ("channel",)

    def __init__(self, channel: str) -> None:
        self.channel = channel


class Task:
    """One coroutine on a server's loop: a request handler or a watchdog."""

    __slots__ = ("alive", "gen", "on_done", "open_ops", "process", "seq", "waiting")

    def __init__(self, process: str, gen: Generator[Any, Any, Any],
                 on_done: Callable[[object], None] | None = None) -> None:
        self.process = process
        self.gen = gen
        self.alive = True
        self.seq = 0  # bumps on every await, so stale wake-ups are ignored
        self.waiting: str | None = None  # channel a WaitMessage is parked on
        self.open_ops: dict[str, None] = {}
        self.on_done = on_done

    def __repr__(self) -> str:
        return f"Task({self.process})"


class AppServer:
    """A NestJS process: event loop, Redis connections, clock, pause and crash."""

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
        self.clock_offset = 0.0
        self.clock_drift = 0.0
        self.clock_since = 0.0
        self.active = 0  # requests in progress, for least_conn
        self.tasks: dict[Task, None] = {}
        self.listeners: dict[str, dict[Task, deque[bytes]]] = {}
        self.spawned = 0
        self._idle = False  # the loop waits for a callback to run
        self._burning: tuple[float, Any, tuple[Any, ...]] | None = None  # CPU frozen by a pause
        self.sems: dict[str, Semaphore] = {}  # channels waited on with wake="one"
        self.pool: list[Connection] = []  # idle connections for blocking calls
        self.pooled: list[Connection] = []  # every connection the pool ever opened
        self.cmd: Connection
        self.sub: Connection
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
                self._dispatch(a, b)
            elif not self._run(a, b):
                return

    def _callback(self, kind: int, a: Any, b: Any) -> None:
        """A callback's CPU is burnt: run it (unless the process died meanwhile)."""
        if self.alive:
            if kind == _MESSAGE:
                self._dispatch(a, b)
            elif not self._run(a, b):
                return
        self._loop()

    def _cpu(self, remaining: float, then: Callable[..., None], args: tuple[Any, ...]) -> None:
        """Burn ``remaining`` ms of CPU, then ``then(*args)``; frozen time does not count."""
        if remaining <= 1e-9:
            then(*args)
        elif self.paused:
            self._burning = (remaining, then, args)  # _unpause carries on
        else:
            call_after(self.env, remaining, self._burnt, self.frozen_now(), then, args)

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
        if self._run(task, None):
            self._loop()

    def frozen_now(self) -> float:
        frozen = self.frozen_total
        if self.paused:
            frozen += self.env.now - self.frozen_since
        return frozen

    def _run(self, task: Task, value: object) -> bool:
        """Advance ``task`` through synchronous effects up to its next await.

        False when it stopped inside ``Work``: ``_after_work`` resumes it and
        the loop once the CPU is burnt."""
        if isinstance(value, _Subscribed):
            self.listeners.setdefault(value.channel, {})[task] = deque()
            value = None
        world = self.world
        gen = task.gen
        while task.alive:
            try:
                effect = gen.send(value)
            except StopIteration as stop:
                self._finish(task, stop.value)
                return True
            value = None
            kind = type(effect)
            if kind is Record:
                world.record(task, effect, self.name)
            elif kind is Call:
                self._call(task, effect)
                return True
            elif kind is Work:
                if effect.ms > 1e-9:
                    self._cpu(effect.ms, self._after_work, (task,))
                    return False
            elif kind is Storage:
                s = task.seq = task.seq + 1
                world.storage_call(effect, lambda r, t=task, s=s: self._wake_if(t, s, r))
                return True
            elif kind is Sleep:
                s = task.seq = task.seq + 1
                world.at(world.now + self.true_duration(effect.ms), self._wake_if, task, s, None)
                return True
            elif kind is WaitMessage:
                box = self.listeners.get(effect.channel, {}).get(task)
                if box is None:
                    raise RuntimeError(f"{task.process} waits on {effect.channel!r} "
                                       "without subscribing first")
                if effect.wake == "one":
                    sem = semaphore(self.sems, self.listeners, effect.channel, box)
                    if sem.permits:
                        value = sem.permits.popleft()
                        continue
                    sem.waiters.append((task, task.seq + 1))
                elif box:
                    value = box.popleft()
                    continue
                s = task.seq = task.seq + 1
                task.waiting = effect.channel
                if effect.timeout_ms is not None:
                    world.at(world.now + self.true_duration(effect.timeout_ms),
                             self._wait_timeout, task, s)
                return True
            elif kind is Token:
                value = world.chooser.token()
            elif kind is Now:
                value = self.local_time()
            elif kind is Subscribe:
                s = task.seq = task.seq + 1
                self.sub.send(("SUBSCRIBE", effect.channel),
                              lambda _r, t=task, s=s, c=effect.channel:
                              self._wake_if(t, s, _Subscribed(c)))
                return True
            elif kind is Unsubscribe:
                self.listeners.get(effect.channel, {}).pop(task, None)
                if not self.listeners.get(effect.channel):
                    self.sems.pop(effect.channel, None)
            elif kind is Spawn:
                self.spawned += 1
                child = Task(f"{task.process}/{effect.name}", effect.body)
                self.tasks[child] = None
                self.resume(child, None)
                value = child
            elif kind is Cancel:
                self._kill(effect.handle)
            else:
                raise TypeError(f"{task.process} yielded {effect!r}, which is not an effect")
        return True

    def _call(self, task: Task, effect: Call) -> None:
        s = task.seq = task.seq + 1
        if effect.blocking:
            self._call_pooled(task, s, effect.argv)
        else:
            self.cmd.send(effect.argv, lambda r, t=task, s=s: self._wake_if(t, s, r))
        if effect.timeout_ms is not None:
            self.world.at(self.world.now + self.true_duration(effect.timeout_ms),
                          self._wake_if, task, s, TIMED_OUT)

    def _call_pooled(self, task: Task, seq: int, argv: tuple[object, ...]) -> None:
        """A blocking command on a pool connection of its own (see ``Call.blocking``)."""
        if self.pool:
            conn = self.pool.pop()
        else:
            world = self.world
            conn = Connection(world, world.next_client_id(), self,
                              world.scenario.redis_latency, self.name)
            self.pooled.append(conn)

        def replied(reply: object) -> None:
            self.pool.append(conn)  # back to the pool once its reply is in
            self._wake_if(task, seq, reply)

        conn.send(argv, replied)

    def _wake_if(self, task: Task, seq: int, value: object) -> None:
        """Deliver a wake-up unless the task died or already woke for this await."""
        if task.alive and task.seq == seq and self.alive:
            task.seq += 1
            self.resume(task, value)

    def _wait_timeout(self, task: Task, seq: int) -> None:
        if task.seq == seq and task.waiting is not None:
            task.waiting = None
            self._wake_if(task, seq, None)

    # -- pub/sub -------------------------------------------------------------
    def on_message(self, channel: bytes, message: bytes) -> None:
        """A message reached the subscriber socket: it runs as a loop callback."""
        if self.alive:
            self.enqueue(_MESSAGE, channel, message)

    def _dispatch(self, channel: bytes, message: bytes) -> None:
        """EventEmitter semantics: every listener attached right now gets it."""
        name = channel.decode()
        listeners = self.listeners.get(name)
        if not listeners:
            return
        sem = self.sems.get(name)
        if sem is not None:  # wake="one": release one permit
            task = sem.wake(name, message)
            if task is not None:
                self.queue.appendleft((_RESUME, task, message))  # a microtask
            return
        woken = []
        for task, box in listeners.items():
            if task.waiting is not None and not box and task.alive:
                task.waiting = None
                task.seq += 1
                woken.append((_RESUME, task, message))
            else:
                box.append(message)
        # Resolved promises run as microtasks: before any other queued callback.
        self.queue.extendleft(reversed(woken))

    # -- tasks -----------------------------------------------------------------
    def start(self, process: str, gen: Generator[Any, Any, Any],
              on_done: Callable[[object], None]) -> Task:
        task = Task(process, gen, on_done)
        self.tasks[task] = None
        self.resume(task, None)
        return task

    def _finish(self, task: Task, result: object) -> None:
        task.alive = False
        self.tasks.pop(task, None)
        if task.on_done is not None:
            task.on_done(result)

    def _kill(self, task: object) -> None:
        if isinstance(task, Task):
            task.alive = False
            self.tasks.pop(task, None)
            for channel, listeners in self.listeners.items():
                listeners.pop(task, None)
                if not listeners:
                    self.sems.pop(channel, None)

    # -- time ----------------------------------------------------------------------
    def local_time(self) -> float:
        """This server's clock: true time plus offset plus drift since the last step."""
        now = self.env.now
        return now + self.clock_offset + self.clock_drift * (now - self.clock_since)

    def true_duration(self, local_ms: float) -> float:
        """Timers run on the local (monotonic) clock, which drifts."""
        return local_ms / (1.0 + self.clock_drift) if self.clock_drift else local_ms

    def set_clock(self, offset_ms: float, drift: float) -> None:
        now = self.env.now
        self.clock_offset = self.local_time() - now + offset_ms
        self.clock_since = now
        self.clock_drift = drift

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
        self.cmd.close()
        self.sub.close()
        for conn in self.pooled:
            conn.close()
        self.pool.clear()
        self.pooled.clear()
        self.active = 0
        return dead

    def restart(self) -> None:
        """A fresh process: new connections, empty loop, clock kept."""
        self._connect()
        self.alive = True
        if self._idle:
            self._idle = False
            call_after(self.env, 0, self._loop)
