"""Tiny effect programs the real-driver tests run inside a worker process.

Each is a generator of effects (no clocks, no sockets), imported by name in
the worker (``tests.driver_programs:NAME``); what it returns comes back to
the test, and what it records lands in the run's history.
"""

from __future__ import annotations

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


def calls():
    """Replies come back typed; a timed-out reply is dropped, the next one is not shifted."""
    ok = yield Call(("SET", "k", "v1"))
    value = yield Call(("GET", "k"))
    missing = yield Call(("GET", "nope"))
    n = yield Call(("INCR", "n"))
    err = yield Call(("INCR", "k"))
    slow = yield Call(("DEBUG", "SLEEP", "0.3"), timeout_ms=50)
    after = yield Call(("GET", "k"))
    return [ok, value, missing, n, type(err).__name__, slow is TIMED_OUT, after]


def _publisher(channel, messages, delay_ms):
    yield Sleep(delay_ms)
    for m in messages:
        yield Call(("PUBLISH", channel, m))


def pubsub():
    """Subscribe resolves once confirmed; queued messages are kept; every listener gets each."""
    yield Subscribe("ch")
    yield Spawn("other", _listener("ch"))
    yield Spawn("pub", _publisher("ch", ["a", "b"], 20))
    first = yield WaitMessage("ch", 2000)
    yield Sleep(50)  # "b" arrives while nobody waits here: it is queued for this task
    second = yield WaitMessage("ch", 2000)
    timed_out = yield WaitMessage("ch", 30)
    yield Unsubscribe("ch")
    return [first, second, timed_out]


def _listener(channel):
    yield Subscribe(channel)
    got = yield WaitMessage(channel, 2000)
    yield Record("ok", "heard", got.decode() if got else None)


def clock():
    """Now is the local clock; Sleep lets at least that much of it pass."""
    before = yield Now()
    yield Sleep(40)
    after = yield Now()
    tokens = [(yield Token()), (yield Token())]
    return [after - before, len(set(tokens))]


def _ticker(n):
    for i in range(n):
        yield Sleep(10)
        yield Record("ok", "tick", i)


def spawn_cancel():
    """A spawned task runs beside its parent until cancelled, then runs no further step."""
    handle = yield Spawn("ticker", _ticker(1000))
    yield Sleep(60)
    yield Cancel(handle)
    yield Record("ok", "cancelled")
    yield Sleep(60)
    return "done"


def _sleeper():
    yield Sleep(5)
    yield Record("ok", "sleeper-woke")


def work():
    """Work blocks the whole loop: a timer due meanwhile runs only after it."""
    yield Spawn("sleeper", _sleeper())
    yield Record("invoke", "work")
    yield Work(80)
    yield Record("ok", "work")
    yield Sleep(30)  # let the sleeper report before the program ends
    return "done"


def storage():
    """The shared database: a read, a fenced commit, a stale fenced read refused."""
    first = yield Storage("read", user=7)
    accepted = yield Storage("commit", user=7, value=9, fence=5)
    again = yield Storage("read", user=7, fence=6)
    stale = yield Storage("read", user=7, fence=4)
    return [first, accepted, again, stale]


def now():
    """The local clock, as the lock code would read it."""
    return (yield Now())


def _one_waiter(name):
    yield Subscribe("sem")
    got = yield WaitMessage("sem", 1000, wake="one")
    yield Record("ok", name, got)


def every_effect():
    """Every effect at once: wake-one waiters, Spawn/Cancel, a blocking call, Work, Now, Token."""
    first = yield Spawn("w1", _one_waiter("w1"))
    yield Spawn("w2", _one_waiter("w2"))
    yield Sleep(100)
    yield Call(("PUBLISH", "sem", "m1"))
    yield Sleep(100)
    yield Cancel(first)
    yield Call(("PUBLISH", "sem", "m2"))
    popped = yield Call(("BLPOP", "nolist", "0.05"), blocking=True)
    yield Record("ok", "blpop", popped)
    yield Work(5)
    t = yield Now()
    yield Record("ok", "now", t > 0)
    tok = yield Token()
    yield Record("ok", "token", isinstance(tok, str))
    yield Sleep(100)
    return "done"
