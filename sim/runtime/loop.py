"""The one effect interpreter: what a lock design's effects mean, in every world.

``Interpreter`` runs effect-yielding generators on a single Node-like loop: a
task advances through synchronous effects up to its next await; replies,
timers and messages wake it through seq-guarded callbacks, so a stale wake-up
(a late reply after a timeout) is ignored. Pub/sub has EventEmitter semantics
(every listener attached right now gets a message) or, with ``wake="one"``,
Redisson's per-process semaphore. Woken-by-message tasks run as microtasks:
before any other queued callback, in wake order.

The world behind it is a ``Host``: the simulator (``sim.world.app_server``) or
a real process (``sim.real.worker``). The interpreter is a base class rather
than an object the host holds, so the hot dispatch calls the host's methods
directly, with no forwarding layer. Nothing here reads a clock or opens a socket.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from typing import Any, Protocol

from models.locks.effect import (
    TIMED_OUT,
    Call,
    Cancel,
    Identity,
    Now,
    Parallel,
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

__all__ = ["BUSY_LIMIT", "BusyLoop", "Host", "Interpreter", "Subscribed", "Task"]

BUSY_LIMIT = 100_000
"""Effects one task may handle without true time passing; the busiest design known
handles a few dozen at one instant, so this only catches a loop that never waits."""


class BusyLoop(ValueError):
    """A lock design loops without letting time pass (``while True: yield Now()``):
    the run would never end, and its history would grow until memory ran out."""

    def __init__(self, lock: str | None, process: str, effects: int, at_ms: float,
                 last: object) -> None:
        name = type(last).__name__
        super().__init__(f"lock design {lock or '?'!r} loops without letting time pass: "
                         f"{process} yielded {effects} effects at t={at_ms:.1f} ms, "
                         f"last {name}()")
        self.lock, self.process, self.effects, self.at_ms, self.last = (
            lock, process, effects, at_ms, name)

    def __reduce__(self) -> tuple[Any, ...]:  # crosses a process pool's pipe intact
        return (_busy_loop, (str(self), self.lock, self.process, self.effects, self.at_ms,
                             self.last))


def _busy_loop(message: str, lock: str | None, process: str, effects: int, at_ms: float,
               last: str) -> BusyLoop:
    exc = BusyLoop.__new__(BusyLoop)
    ValueError.__init__(exc, message)
    exc.lock, exc.process, exc.effects, exc.at_ms, exc.last = lock, process, effects, at_ms, last
    return exc


class Subscribed:
    """Resume value: the subscription to ``channel`` is confirmed; attach now."""

    __slots__ = ("channel",)

    def __init__(self, channel: str) -> None:
        self.channel = channel


class Task:
    """One coroutine on a loop: a request handler, a watchdog or a test program."""

    __slots__ = ("alive", "busy", "busy_at", "gen", "on_done", "open_ops", "process", "request",
                 "seq", "waiting")

    def __init__(self, process: str, gen: Generator[Any, Any, Any],
                 on_done: Callable[[object], None] | None = None) -> None:
        self.process = process
        self.request = process  # whose commands these are; a spawned task acts for its parent's
        self.gen = gen
        self.alive = True
        self.seq = 0  # bumps on every await, so stale wake-ups are ignored
        self.waiting: str | None = None  # channel a WaitMessage is parked on
        self.open_ops: dict[str, None] = {}
        self.on_done = on_done
        self.busy = 0  # effects handled at true time busy_at: the step guard
        self.busy_at = -1.0

    def __repr__(self) -> str:
        return f"Task({self.process})"


Reply = Callable[[object], None]


class Host(Protocol):
    """What a world gives the interpreter. Times are ms; ``local`` ones run on the
    host's drifting clock (see ``Interpreter.true_duration``)."""

    alive: bool

    def true_now(self) -> float:
        """True, system-wide time: what the local clock derives from."""
    def call(self, argv: tuple[object, ...], blocking: bool, on_reply: Reply) -> None:
        """Send a Redis command (``blocking``: on a pooled connection of its own)."""
    def storage(self, effect: Storage, on_reply: Reply) -> None:
        """Send a storage operation; ``on_reply`` gets its result."""
    def subscribe(self, channel: str, on_confirmed: Callable[[], None]) -> None:
        """SUBSCRIBE on the subscriber connection; ``on_confirmed`` once Redis confirms."""
    def after_local(self, ms: float, fn: Callable[..., None], *args: Any) -> None:
        """Call ``fn(*args)`` after ``ms`` of local time (a timer)."""
    def resume(self, task: Task, value: object) -> None:
        """Queue ``task`` to continue with ``value``: a macrotask, after what is queued."""
    def microtasks(self, woken: list[tuple[Task, object]]) -> None:
        """Run these resumptions before anything else queued, in order."""
    def work(self, task: Task, ms: float) -> bool:
        """Burn ``ms`` of CPU. True: carry on at once; False: the host resumes
        ``task`` (``step(task, None)``) once the CPU is burnt."""
    def record(self, task: Task, effect: Record) -> None:
        """Append a history op."""
    def token(self) -> str:
        """Draw a fresh lock token."""


class Interpreter:
    """The interpreter core a host inherits: tasks, listeners, semaphores, clock.

    ``task_type`` is the hook for instrumenting every task a host starts or a
    task spawns (``benchmarks.bound`` tapes the values sent into generators)."""

    task_type: type[Task] = Task

    def init_interpreter(self) -> None:
        self.tasks: dict[Task, None] = {}
        self.listeners: dict[str, dict[Task, deque[bytes]]] = {}
        self.sems: dict[str, Semaphore] = {}  # channels waited on with wake="one"
        self.spawned = 0
        self.clock_offset = 0.0
        self.clock_drift = 0.0
        self.clock_since = 0.0
        # the request whose Call is being sent: read by the host's ``call``, so
        # Redis can attribute the command (the Host protocol stays as it is)
        self.calling: str | None = None
        # the Redis node the Call being sent names (None: the primary), read the same way
        self.target: str | None = None
        self.incarnation = 0  # bumped by a host's restart: a new server process

    # -- tasks ---------------------------------------------------------------
    def start(self, process: str, gen: Generator[Any, Any, Any],
              on_done: Callable[[object], None] | None) -> Task:
        task = self.task_type(process, gen, on_done)
        self.tasks[task] = None
        self.resume(task, None)  # type: ignore[attr-defined]
        return task

    def finish(self, task: Task, result: object) -> None:
        task.alive = False
        self.tasks.pop(task, None)
        if task.on_done is not None:
            task.on_done(result)

    def kill(self, task: object) -> None:
        """Cancel: the task never runs again; a channel left without listeners
        loses its semaphore (its permits were for nobody)."""
        if isinstance(task, Task):
            task.alive = False
            self.tasks.pop(task, None)
            for channel, listeners in self.listeners.items():
                listeners.pop(task, None)
                if not listeners:
                    self.sems.pop(channel, None)

    def wake_if(self, task: Task, seq: int, value: object) -> None:
        """Deliver a wake-up unless the task died or already woke for this await."""
        if task.alive and task.seq == seq and self.alive:  # type: ignore[attr-defined]
            task.seq += 1
            self.resume(task, value)  # type: ignore[attr-defined]

    def wait_timeout(self, task: Task, seq: int) -> None:
        if task.seq == seq and task.waiting is not None:
            task.waiting = None
            self.wake_if(task, seq, None)

    # -- the dispatch ------------------------------------------------------------
    def step(self: Any, task: Task, value: object) -> bool:
        """Advance ``task`` through synchronous effects up to its next await.

        False when it stopped inside ``Work`` (the host resumes it later)."""
        if type(value) is Subscribed:
            self.listeners.setdefault(value.channel, {})[task] = deque()
            value = None
        gen = task.gen
        if task.busy_at != (now := self.true_now()):  # the step guard: true time moved on
            task.busy_at, task.busy = now, 0
        while task.alive:
            try:
                effect = gen.send(value)
            except StopIteration as stop:
                self.finish(task, stop.value)
                return True
            busy = task.busy = task.busy + 1
            if busy > BUSY_LIMIT:
                self.busy_loop(task, busy - 1, effect)
            value = None
            kind = type(effect)
            if kind is Record:
                self.record(task, effect)
            elif kind is Call:
                s = task.seq = task.seq + 1
                self.calling = task.request
                self.target = effect.node
                self.call(effect.argv, effect.blocking,
                          lambda r, t=task, s=s: self.wake_if(t, s, r))
                if effect.timeout_ms is not None:
                    self.after_local(effect.timeout_ms, self.wake_if, task, s, TIMED_OUT)
                return True
            elif kind is Work:
                if effect.ms > 1e-9 and not self.work(task, effect.ms):
                    return False
            elif kind is Storage:
                s = task.seq = task.seq + 1
                self.calling = task.request  # whose write it is (fault triggers)
                self.storage(effect, lambda r, t=task, s=s: self.wake_if(t, s, r))
                return True
            elif kind is Sleep:
                s = task.seq = task.seq + 1
                self.after_local(effect.ms, self.wake_if, task, s, None)
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
                    self.after_local(effect.timeout_ms, self.wait_timeout, task, s)
                return True
            elif kind is Token:
                value = self.token()
            elif kind is Now:
                value = self.local_time()
            elif kind is Subscribe:
                s = task.seq = task.seq + 1
                c = effect.channel
                self.subscribe(c, lambda t=task, s=s, c=c: self.wake_if(t, s, Subscribed(c)))
                return True
            elif kind is Unsubscribe:
                self.listeners.get(effect.channel, {}).pop(task, None)
                if not self.listeners.get(effect.channel):
                    self.sems.pop(effect.channel, None)
            elif kind is Spawn:
                self.spawned += 1
                child = self.task_type(f"{task.process}/{effect.name}", effect.body)
                child.request = task.request
                self.tasks[child] = None
                self.resume(child, None)
                value = child
            elif kind is Cancel:
                self.kill(effect.handle)
            elif kind is Identity:
                value = (self.server_identity(), task.request)
            elif kind is Parallel:
                self.parallel(task, effect)
                return True
            else:
                raise TypeError(f"{task.process} yielded {effect!r}, which is not an effect")
        return True

    def parallel(self: Any, task: Task, effect: Parallel) -> None:
        """Send every call now; wake ``task`` with all replies, or at the timeout."""
        s = task.seq = task.seq + 1
        calls = effect.calls
        replies: list[object] = [TIMED_OUT] * len(calls)
        left = [len(calls)]

        def got(i: int, reply: object) -> None:
            replies[i] = reply
            left[0] -= 1
            if left[0] == 0:
                self.wake_if(task, s, tuple(replies))

        if not calls:
            self.wake_if(task, s, ())
            return
        for i, call in enumerate(calls):
            self.calling = task.request
            self.target = call.node
            self.call(call.argv, call.blocking, lambda r, i=i: got(i, r))
        self.target = None
        if effect.timeout_ms is not None:
            self.after_local(effect.timeout_ms, lambda: self.wake_if(task, s, tuple(replies)))

    def server_identity(self) -> str:
        """This server process's name: the host's, plus its restarts."""
        name = str(getattr(self, "name", "?"))
        return name if not self.incarnation else f"{name}~{self.incarnation}"

    def busy_loop(self: Any, task: Task, effects: int, last: object) -> None:
        """Stop the run: ``task`` handled ``effects`` effects at one true instant.
        The lock's name comes from the simulator's scenario, when there is one."""
        scenario = getattr(getattr(self, "world", None), "scenario", None)
        raise BusyLoop(getattr(scenario, "lock", None), task.process, effects,
                       task.busy_at, last)

    # -- pub/sub -------------------------------------------------------------------
    def fan_out(self: Any, name: str, message: bytes) -> None:
        """A message on ``name``: EventEmitter semantics, or one permit for wake="one"."""
        listeners = self.listeners.get(name)
        if not listeners:
            return
        sem = self.sems.get(name)
        if sem is not None:
            task = sem.wake(name, message)
            if task is not None:
                self.microtasks([(task, message)])
            return
        woken = []
        for task, box in listeners.items():
            if task.waiting is not None and not box and task.alive:
                task.waiting = None
                task.seq += 1
                woken.append((task, message))
            else:
                box.append(message)
        if woken:
            self.microtasks(woken)

    # -- the local clock -------------------------------------------------------------
    def local_time(self: Any) -> float:
        """The host's clock: true time plus offset plus drift since the last step."""
        now = self.true_now()
        return now + self.clock_offset + self.clock_drift * (now - self.clock_since)  # type: ignore[no-any-return]

    def true_duration(self, local_ms: float) -> float:
        """Timers run on the local (monotonic) clock, which drifts."""
        return local_ms / (1.0 + self.clock_drift) if self.clock_drift else local_ms

    def set_clock(self: Any, offset_ms: float, drift: float) -> None:
        now = self.true_now()
        self.clock_offset = self.local_time() - now + offset_ms
        self.clock_since = now
        self.clock_drift = drift
