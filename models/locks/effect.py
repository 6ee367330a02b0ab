"""The effects a lock algorithm may yield, and nothing else.

A lock algorithm is a generator: it yields one of these values and receives
the result. It never sleeps, reads a clock or opens a socket itself, so the
simulator (virtual time, modelled faults) and the real driver (redis-py, real
time) run the very same code. Every effect is an immutable value.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from models.frozen import quick_init


@quick_init
@dataclass(frozen=True, slots=True)
class Call:
    """Send one Redis command on the app server's command connection.

    Result: the reply (``bytes``, ``int``, ``None``, ``list``, ``Status`` or a
    ``ReplyError`` value), or ``TIMED_OUT`` when ``timeout_ms`` passed first
    (the command may still have run: outcome unknown).

    ``blocking=True`` sends it on a connection of its own, taken from the app
    server's pool for this one command and returned when its reply arrives
    (python-redis-lock's BLPOP through a redis-py connection pool): a command
    that blocks on the server (BLPOP) then holds up no other task's commands,
    as it would on the shared command connection. A real driver runs it on a
    pooled connection, never on the one its other tasks share.

    ``node`` names the Redis node to send it to (``redis1``, a topology's node
    names); None is the world's primary node, the one Redis of ``single``.
    """

    argv: tuple[object, ...]
    timeout_ms: float | None = None
    blocking: bool = False
    node: str | None = None


@dataclass(frozen=True, slots=True)
class Parallel:
    """Send several ``Call``s at once and wait for all their replies (Promise.all,
    a thread pool's futures): Redlock's fan-out to its masters.

    Result: a tuple of replies in ``calls`` order; a reply still missing when
    ``timeout_ms`` (local time) has passed is ``TIMED_OUT``. A ``Call``'s own
    ``timeout_ms`` is ignored here.
    """

    calls: tuple[Call, ...]
    timeout_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Sleep:
    """Let ``ms`` of the app server's local time pass (a timer on the event loop)."""

    ms: float


@dataclass(frozen=True, slots=True)
class Work:
    """Burn ``ms`` of CPU on the app server's single event loop: blocks every task."""

    ms: float


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Start listening on ``channel`` through the app server's subscriber connection.

    Messages published after the server confirms the subscription are kept
    for this task until it unsubscribes. Result: None, once confirmed.
    """

    channel: str


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """Stop listening on ``channel``; queued messages for this task are dropped."""

    channel: str


@dataclass(frozen=True, slots=True)
class WaitMessage:
    """Wait for a message on a subscribed channel, or ``timeout_ms`` (None: forever).

    Result: the message payload (``bytes``), or None on timeout.

    ``wake`` says who a message wakes. ``"all"`` (default, an EventEmitter):
    every task subscribed to the channel gets every message. ``"one"``
    (Redisson's per-process semaphore): the process's waiters on the channel
    share one counting semaphore that each message releases once; the waiter
    parked longest takes the permit, and a message that finds nobody parked
    leaves its permit for the next ``wake="one"`` wait on that channel in the
    process (a spurious wake-up the caller must tolerate). The semaphore is
    dropped when the process's last listener on the channel unsubscribes.
    One process never mixes both kinds of wait on one channel.
    """

    channel: str
    timeout_ms: float | None = None
    wake: str = "all"


@dataclass(frozen=True, slots=True)
class Now:
    """Read the app server's local clock (ms): offset and drift included."""


@dataclass(frozen=True, slots=True)
class Token:
    """Draw a fresh lock token from the run's one seeded source of choices."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Which server process and which request runs this: ``(server, process)``.

    ``server`` names the app-server process (a restart is a new one:
    ``app1~1``); ``process`` the request (``app1/req3``; a spawned watchdog
    answers its request's). Redisson keys its lock by client and thread; a
    token drawn once per server process is the shared-token bug.
    """


@dataclass(frozen=True, slots=True)
class Spawn:
    """Start ``body`` as a separate task on the same event loop (a watchdog timer).

    Result: a handle to pass to ``Cancel``.
    """

    name: str
    body: Generator[Any, Any, Any]


@dataclass(frozen=True, slots=True)
class Cancel:
    """Stop a spawned task (clearInterval): it runs no further step."""

    handle: object


@quick_init
@dataclass(frozen=True, slots=True)
class Record:
    """Append an operation to the history, stamped with the true time by the driver.

    ``type`` is invoke/ok/fail/info; see ``models.history`` for the ``f`` names.
    """

    type: str
    f: str
    value: object = None


@dataclass(frozen=True, slots=True)
class Storage:
    """One operation on the coupon database (not Redis), with its own latency.

    ``op`` is ``read`` or ``commit`` (the coupon and the new stock in one
    transaction); ``fence`` is checked by a
    fencing storage, which rejects a write whose fence is lower than the
    highest it has accepted. Result: the read tuple, or True/False (accepted).
    """

    op: str
    user: int = 0
    value: int = 0
    fence: int | None = None


class _TimedOut:
    """Result of a ``Call`` whose timeout fired first."""

    def __repr__(self) -> str:
        return "TIMED_OUT"


TIMED_OUT = _TimedOut()

Effect = (
    Call | Sleep | Work | Subscribe | Unsubscribe | WaitMessage | Now | Token | Spawn | Cancel
    | Record | Storage | Identity | Parallel
)
Program = Generator[Effect, Any, Any]
