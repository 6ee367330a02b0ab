"""The interpreter core driven by a scripted host: no SimPy, no sockets.

The fake host keeps a FIFO of macrotasks and a list of timers and answers
commands from a script, so each effect's meaning is checked on its own."""

from __future__ import annotations

from collections import deque
from typing import Any

from models.locks.effect import (
    TIMED_OUT,
    Call,
    Cancel,
    Now,
    Record,
    Sleep,
    Spawn,
    Subscribe,
    Token,
    WaitMessage,
    Work,
)
from sim.runtime.loop import Interpreter, Task


class FakeHost(Interpreter):
    alive = True

    def __init__(self, replies: dict[str, object]) -> None:
        self.init_interpreter()
        self.now = 0.0
        self.replies = replies
        self.queue: deque[tuple[Task, object]] = deque()
        self.timers: list[tuple[float, Any, tuple[Any, ...]]] = []
        self.history: list[tuple[float, str, str, object]] = []
        self.sent: list[tuple[object, ...]] = []

    def true_now(self) -> float:
        return self.now

    def call(self, argv, blocking, on_reply):
        self.sent.append(argv)
        if argv[0] in self.replies:
            self.timers.append((self.now + 1, on_reply, (self.replies[argv[0]],)))

    def storage(self, effect, on_reply):
        on_reply(None)

    def subscribe(self, channel, on_confirmed):
        self.timers.append((self.now + 1, on_confirmed, ()))

    def after_local(self, ms, fn, *args):
        self.timers.append((self.now + self.true_duration(ms), fn, args))

    def resume(self, task, value):
        self.queue.append((task, value))

    def microtasks(self, woken):
        self.queue.extendleft(reversed(woken))

    def work(self, task, ms):
        self.now += ms
        return True

    def record(self, task, effect):
        self.history.append((self.now, task.process, effect.f, effect.value))

    def token(self):
        return "tok"

    def drain(self) -> None:
        while self.queue or self.timers:
            while self.queue:
                self.step(*self.queue.popleft())
            if self.timers:
                self.timers.sort(key=lambda t: t[0])
                when, fn, args = self.timers.pop(0)
                self.now = max(self.now, when)
                fn(*args)


def test_call_timeout_ignores_the_late_reply_and_clock_drifts():
    def prog():
        r = yield Call(("GET", "k"), timeout_ms=0.5)
        yield Record("ok", "get", r)
        yield Call(("PING",), timeout_ms=5)
        yield Work(2)
        yield Record("ok", "now", (yield Now()))
        yield Record("ok", "tok", (yield Token()))

    host = FakeHost({"GET": b"v", "PING": b"PONG"})
    host.set_clock(100.0, 0.0)
    host.start("p", prog(), None)
    host.drain()
    assert [h[2:] for h in host.history] == [("get", TIMED_OUT), ("now", 103.5), ("tok", "tok")]
    assert n_unused(host)


def n_unused(host: FakeHost) -> bool:
    return host.sent == [("GET", "k"), ("PING",)]


def test_wake_one_and_cancel_drops_the_semaphore():
    def waiter(name):
        yield Subscribe("ch")
        m = yield WaitMessage("ch", 100, wake="one")
        yield Record("ok", name, m)

    def main():
        a = yield Spawn("a", waiter("a"))
        yield Spawn("b", waiter("b"))
        yield Sleep(5)
        host.fan_out("ch", b"m1")
        yield Sleep(5)
        yield Cancel(a)

    host = FakeHost({})
    host.start("p", main(), None)
    host.drain()
    got = [(h[1], h[3]) for h in host.history]
    assert got[0] == ("p/a", b"m1")  # the longest-parked waiter only
    assert ("p/b", None) in got  # the other times out
    assert host.spawned == 2
    assert "ch" not in host.sems or host.listeners["ch"]


def test_broadcast_wakes_every_listener_as_microtasks_in_order():
    order: list[str] = []

    def listener(name):
        yield Subscribe("ch")
        m = yield WaitMessage("ch", 100)
        order.append(name)
        yield Record("ok", name, m)

    def main():
        yield Spawn("a", listener("a"))
        yield Spawn("b", listener("b"))
        yield Sleep(5)

    host = FakeHost({})
    host.start("p", main(), None)
    host.drain()
    host.start("q", iter(()), None)
    host.fan_out("ch", b"x")  # nobody waits any more: boxes get it
    assert order == [] or order == ["a", "b"]
    # park them again by hand and broadcast
    host2 = FakeHost({})
    host2.start("p", main(), None)
    while host2.queue or len(host2.listeners.get("ch", {})) < 2:
        if host2.queue:
            host2.step(*host2.queue.popleft())
        else:
            host2.timers.sort(key=lambda t: t[0])
            _, fn, args = host2.timers.pop(0)
            fn(*args)
    while host2.queue:
        host2.step(*host2.queue.popleft())
    host2.fan_out("ch", b"x")
    assert [t.process for t, _ in host2.queue][:2] == ["p/a", "p/b"]
