"""A simulated app-server process running real sync code: one virtual thread per request.

It is the asyncio tier's process (``AioServer``: its stepped ``SimLoop``, clock,
in-memory connections, pauses, crashes) with virtual threads on that loop: a
request runs the user's ``handle(redis, db, user)`` in a thread of its own, as
a threaded WSGI server runs it, with ``redis`` this process's sync
``redis.Redis`` (shared by its requests, as an app's client is) and ``db`` the
coupon storage, whose calls block the thread until the database answers.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from models.locks.effect import Storage
from sim.aio import shims
from sim.aio.observe import CURRENT, Request, immutable
from sim.aio.server import AioServer, raised
from sim.aio.threads import scheduler as sched
from sim.aio.threads.scheduler import ProcessGone, Scheduler
from sim.aio.threads.thread import Thread

if TYPE_CHECKING:
    from sim.aio.threads.runner import SyncWorld

SyncHandler = Callable[[Any, Any, int], object]


class SyncCouponStore:
    """The coupon database for sync code: ``db.read(user)``, ``db.commit(user, stock)``.
    Recorded as the asyncio tier's ``CouponStore`` records it."""

    def __init__(self, server: SyncServer) -> None:
        self._server = server

    def read(self, user: int) -> tuple[int, bool]:
        """The stock left and whether ``user`` already has a coupon."""
        server, req = self._server, CURRENT.get()
        if req is not None:
            server.observer.record(req, "invoke", "read", user)
        result = server.blocking_storage(Storage("read", user=user))
        if req is not None:
            server.observer.record(req, "ok", "read", result)
        return result  # type: ignore[return-value]

    def commit(self, user: int, stock: int) -> bool:
        """One transaction: give ``user`` a coupon and write the new ``stock``."""
        server, req = self._server, CURRENT.get()
        if req is not None:
            server.observer.record(req, "invoke", "issue", (user, None))
            server.observer.record(req, "invoke", "stock", (stock, None))
        ok = server.blocking_storage(Storage("commit", user=user, value=stock))
        if req is not None:
            server.observer.record(req, "ok", "issue")
            server.observer.record(req, "ok", "stock")
        return bool(ok)


class SyncServer(AioServer):
    """One app-server process whose requests are virtual threads."""

    world: SyncWorld

    def _fresh(self) -> None:
        super()._fresh()
        self.db = SyncCouponStore(self)  # type: ignore[assignment]
        self.scheduler = Scheduler(self)

    def start(self, process: str, user: int, on_done: Callable[[object], None]) -> Request:
        req = Request(process, self.name, on_done)
        self.requests[process] = req
        ctx = contextvars.copy_context()
        ctx.run(CURRENT.set, req)
        worker = Thread(name=process, daemon=True)
        worker.run = lambda: self._serve_sync(req, user)  # type: ignore[method-assign]
        worker._begin(self.scheduler, ctx)
        return req

    def _serve_sync(self, req: Request, user: int) -> None:
        self.observer.record(req, "invoke", "request", user)
        try:
            outcome = self.world.sync_handler(self.client, self.db, user)
        except (shims.Escaped, Exception) as exc:  # ProcessGone passes: it unwinds the thread
            self._answer(req, *raised(exc))
        else:
            self._answer(req, "ok", immutable(outcome))

    def blocking_storage(self, op: Storage) -> object:
        """One storage call, the calling thread blocked until it is answered."""
        s = sched.required("a storage call")
        if s.dead:
            raise ProcessGone()
        fut = self.storage(op)
        s.wait(fut)
        return fut.result()

    # -- faults ----------------------------------------------------------------------
    def crash(self) -> list[Request]:
        dead = super().crash()
        self.unwind()
        return dead

    def unwind(self) -> None:
        """Unwind this image's threads now (a crash, or the run's end)."""
        for name in self.scheduler.kill():
            self.escape("thread", f"virtual thread {name} of {self.name} would not die "
                                  "(it swallows the unwinding)")
