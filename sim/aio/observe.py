"""The history of a library run, from observation: nothing in the user's code records it.

Three vantage points, none of them the handler:

* the request itself (``request`` invoke and its answer, by the server);
* the lock library's API, wrapped for the run (``acquire`` returning True is
  ``enter``, ``release`` is ``leave``; what each returned or raised, by name);
* the wire: every ``SET ... NX`` a task writes is an ``attempt``, completed
  when its reply reaches the process, so the ownership checker can bound when
  each token's SET ran, even when the library retried it on its own.

A task is named by the request it works for (a ``ContextVar`` that the
request's task and every task it creates inherit), so a library's helper
tasks act for their request too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from sim.aio.server import AioServer
    from sim.world.world import World


@dataclass(eq=False)
class Request:
    """One request's task on its server: the ``Task``-like the world's crash path reads."""

    process: str
    node: str
    on_done: Callable[[object], None] | None
    open_ops: dict[str, None] = field(default_factory=dict)
    held: dict[int, str] = field(default_factory=dict)  # id(lock object) -> the token it took
    alive: bool = True
    won: object = None  # the token of this request's last SET NX that came back OK
    wire_held: dict[bytes, str] = field(default_factory=dict)  # a lock no library wrapper saw
    # the SET NX in flight as one attempt: its token, the nodes it went to, replies awaited
    round_token: bytes | None = None
    round_nodes: set[str] = field(default_factory=set)
    round_pending: int = 0
    round_ok: int = 0


CURRENT: ContextVar[Request | None] = ContextVar("locksim_request", default=None)
INSIDE: ContextVar[bool] = ContextVar("locksim_inside_library", default=False)
"""True in a task while it runs a wrapped library call: the call's own inner calls and
commands are not recorded again (a per-task flag: a watchdog task has its own)."""


def _text(value: object) -> object:
    """A value as the history keeps it: immutable, bytes decoded."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, tuple | list):
        return tuple(_text(v) for v in value)
    if isinstance(value, set | frozenset):  # redis-py's SMEMBERS: sorted, as a set's
        return tuple(sorted((_text(v) for v in value), key=repr))  # order follows the hash seed
    return _ADDRESS.sub(" at 0x?", repr(value))


def error_name(exc: BaseException) -> str:
    return type(exc).__name__


_ADDRESS = re.compile(r" (at|object at) 0x[0-9a-fA-F]+")


def error_text(exc: BaseException, limit: int = 160) -> str:
    """``Type: message`` as the history keeps it: object addresses (which differ between
    runs) scrubbed, long reprs cut."""
    text = _ADDRESS.sub(" at 0x?", f"{type(exc).__name__}: {exc}")
    return text if len(text) <= limit else text[:limit - 1] + "…"


class Observer:
    """Records ops for one world; ``instrument()`` wraps the libraries while a run lasts."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.library_errors: list[tuple[float, str, str, str]] = []  # (t, process, call, error)
        self.muted = False  # a dead process's coroutines being closed: they record nothing

    @contextmanager
    def mute(self) -> Iterator[None]:
        """Nothing recorded meanwhile (what a dying process's ``finally`` blocks report)."""
        self.muted = True
        try:
            yield
        finally:
            self.muted = False

    # -- recording --------------------------------------------------------------------
    def record(self, req: Request, type_: str, f: str, value: object = None) -> None:
        if self.muted:
            return
        world = self.world
        world.recorder.record(world.env.now, req.process, type_, f, _text(value), req.node)
        if f in ("enter", "leave"):
            return
        if type_ == "invoke":
            req.open_ops[f] = None
        else:
            req.open_ops.pop(f, None)

    # -- the wire ---------------------------------------------------------------------------
    def sent(self, server: AioServer, argv: tuple[bytes, ...], node: str
             ) -> tuple[str | None, object]:
        """A command leaves ``server``: whose it is, and the observation its reply completes.

        Outside a wrapped library call (a hand-rolled lock, or a library locksim has no
        wrapper for), the wire alone tells the lock's story: a ``SET key token NX PX``
        that comes back OK is an acquire (and ``enter``); the first ``DEL``/``UNLINK``/
        ``GETDEL``/``EVAL``/``EVALSHA`` on a key the request so took is its release."""
        req = CURRENT.get()
        if req is None:
            return None, None
        if not req.alive:  # a task that outlived its request (a watchdog): still its commands
            return req.process, None
        head = argv[0].upper() if argv else b""
        if len(argv) >= 3 and head == b"SET" and any(a.upper() == b"NX" for a in argv[3:]):
            if "attempt" in req.open_ops:
                if argv[2] == req.round_token and node not in req.round_nodes:
                    # the same token to another master (Redlock): one attempt, many nodes
                    req.round_nodes.add(node)
                    req.round_pending += 1
                    wire = not INSIDE.get() and _lease_ms(argv) is not None
                    return req.process, ("attempt", req, argv, wire)
                # a retry: the earlier one's outcome stays unknown
                self.record(req, "info", "attempt", "retried")
            req.round_token, req.round_nodes, req.round_pending = argv[2], {node}, 1
            req.round_ok = 0
            wire = not INSIDE.get() and _lease_ms(argv) is not None
            if wire and "acquire" not in req.open_ops:
                self.record(req, "invoke", "acquire", argv[1])
            self.record(req, "invoke", "attempt", argv[2])
            return req.process, ("attempt", req, argv, wire)
        if not INSIDE.get() and req.wire_held:
            key = _released_key(head, argv, req.wire_held)
            if key is not None:
                mine = req.wire_held.pop(key)
                sent = _script_arg(head, argv, mine)
                self.record(req, "ok", "leave", (mine, None))
                self.record(req, "invoke", "release", mine)
                self.world.nemesis.released(req.process)
                return req.process, ("release", req, (mine, sent), False)
        return req.process, None

    def replied(self, seen: object, reply: object) -> None:
        what, req, detail, wire = cast(tuple[str, Request, Any, bool], seen)
        if not req.alive:
            return
        if what == "release":
            mine, sent = detail
            result = reply if isinstance(reply, int) and not isinstance(reply, bool) else (
                1 if reply is not None and not hasattr(reply, "code") else 0)
            self.record(req, "ok", "release", (mine, min(int(result), 1), sent))
            return
        argv = detail
        token = argv[2]
        if "attempt" not in req.open_ops:
            return
        # one node: its answer; a round over several masters (Redlock): ok once a majority
        # of them said OK, failed once a majority no longer can (the design world's rule)
        req.round_pending -= 1
        req.round_ok += reply == b"OK"
        need = len(req.round_nodes) // 2 + 1
        if req.round_ok < need and req.round_ok + req.round_pending >= need:
            return
        if req.round_ok >= need:
            req.won = _text(token)
            self.record(req, "ok", "attempt", token)
            if wire and "acquire" in req.open_ops:
                req.won = None
                req.wire_held[argv[1]] = str(_text(token))
                self.record(req, "ok", "acquire", (_text(token), None, _lease_ms(argv)))
                self.record(req, "ok", "enter", (_text(token), None))
                self.world.nemesis.acquired(req.process, req.node)
        else:
            self.record(req, "fail", "attempt", None if reply is None else _text(reply))

    def closing(self, req: Request) -> None:
        """The request is answered: a wire-observed acquire still open gave up."""
        if "acquire" in req.open_ops and not INSIDE.get():
            self.record(req, "fail", "acquire", "gave up")

    # -- the library API ------------------------------------------------------------------
    def acquired(self, req: Request, lock: object, key: object, token: object,
                 ttl_ms: float | None) -> None:
        """``token`` is what the lock object says; what this request's own SET NX wrote
        wins (another task sharing the object may have replaced the object's token)."""
        if req.won is not None:
            token, req.won = req.won, None
        req.held[id(lock)] = str(_text(token))
        self.record(req, "ok", "acquire", (_text(token), None, ttl_ms))
        self.record(req, "ok", "enter", (_text(token), None))
        self.world.nemesis.acquired(req.process, req.node)

    def leaving(self, req: Request, lock: object) -> str | None:
        mine = req.held.pop(id(lock), None)
        if mine is not None:
            self.record(req, "ok", "leave", (mine, None))
        self.world.nemesis.released(req.process)
        return mine

    def library_error(self, req: Request, call: str, exc: BaseException) -> None:
        if self.muted:
            return
        self.library_errors.append((self.world.env.now, req.process, call, error_text(exc)))

    @contextmanager
    def instrument(self) -> Iterator[None]:
        """Wrap the supported lock libraries' public calls for the length of a run."""
        from sim.aio.libraries import wrap_all

        undo = wrap_all(self)
        try:
            yield
        finally:
            for restore in reversed(undo):
                restore()


def _lease_ms(argv: tuple[bytes, ...]) -> float | None:
    """The TTL a ``SET`` gives its key (PX/EX/PXAT-less forms), None without one."""
    words = [a.upper() for a in argv[3:]]
    for unit, scale in ((b"PX", 1.0), (b"EX", 1000.0)):
        if unit in words:
            i = words.index(unit)
            try:
                return float(argv[3 + i + 1]) * scale
            except (IndexError, ValueError):
                return None
    return None


def _script_arg(head: bytes, argv: tuple[bytes, ...], mine: str) -> object:
    """The token a release script was given (its ARGV[1]); a plain DEL sends none."""
    if head not in (b"EVAL", b"EVALSHA"):
        return mine
    try:
        n = int(argv[2])
    except (IndexError, ValueError):
        return mine
    return _text(argv[3 + n]) if len(argv) > 3 + n else mine


def _released_key(head: bytes, argv: tuple[bytes, ...], held: dict[bytes, str]) -> bytes | None:
    if head in (b"DEL", b"UNLINK", b"GETDEL"):
        return next((k for k in argv[1:] if k in held), None)
    if head in (b"EVAL", b"EVALSHA") and len(argv) > 3:
        try:
            n = int(argv[2])
        except ValueError:
            return None
        return next((k for k in argv[3:3 + n] if k in held), None)
    return None


def current() -> Request | None:
    return CURRENT.get()


def immutable(value: Any) -> object:
    return _text(value)
