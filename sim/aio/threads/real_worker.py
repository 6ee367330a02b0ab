"""The real-world counterpart of a sync-tier process: the handler in real threads.

``sim.aio.real_worker`` speaks to the coordinator; for a plain ``def`` handler it
builds this subclass instead. Each request runs in a real thread of its own
(as the simulated process runs it in a virtual one) with a real sync
``redis.Redis`` against the real ``redis-server``; storage calls and history
records cross to the worker's event loop thread-safely. The sync libraries
are wrapped as in the simulation (``sim.aio.threads.libraries``). Not observed
here, besides what the asyncio worker cannot see: calls made by a library's
own helper threads (a real thread does not inherit the request's context).
"""

from __future__ import annotations

import asyncio
import contextvars
import socket
import threading
from typing import Any

from sim.aio.observe import CURRENT, Request, error_name, error_text, immutable
from sim.aio.real_worker import HandlerWorker


class SyncHandlerWorker(HandlerWorker):
    """The process: an asyncio loop for the coordinator, a thread per request."""

    def __init__(self, config: dict[str, Any], channel: socket.socket) -> None:
        import redis

        super().__init__(config, channel)
        kwargs = {"host": config["host"], "port": int(config["port"]),
                  **dict(config.get("client_params", {}))}
        if "retries" in kwargs:
            from redis.backoff import ExponentialWithJitterBackoff
            from redis.retry import Retry

            kwargs["retry"] = Retry(ExponentialWithJitterBackoff(base=0.01, cap=1.0),
                                    int(kwargs.pop("retries")))
        self.client = redis.Redis(**kwargs)  # type: ignore[assignment]  # the sync client
        self.loop_thread = threading.get_ident()
        self.loop: asyncio.AbstractEventLoop | None = None

    async def serve(self) -> None:
        from sim.aio.threads.libraries import instrument

        self.loop = asyncio.get_running_loop()
        self.loop_thread = threading.get_ident()
        with instrument(self.observer):
            await super().serve()

    def send(self, message: dict[str, Any]) -> None:
        if threading.get_ident() == self.loop_thread or self.loop is None:
            super().send(message)
        else:  # from a request thread: queued by the loop, in the order sent
            self.loop.call_soon_threadsafe(super().send, message)

    def handle(self, msg: dict[str, Any]) -> None:
        if msg["k"] != "req":
            super().handle(msg)
            return
        n, user = int(msg["n"]), int(msg["user"])
        req = Request(f"{self.name}/req{n}", self.name, None)
        ctx = contextvars.copy_context()
        ctx.run(CURRENT.set, req)
        worker = threading.Thread(target=ctx.run, args=(self._serve_sync, req, n, user),
                                  name=req.process, daemon=True)
        worker.start()

    def _serve_sync(self, req: Request, n: int, user: int) -> None:
        obs = self.observer
        obs.record(req, "invoke", "request", user)
        result: object
        try:
            outcome = self.handler(self.client, _SyncStore(self), user)
        except Exception as exc:
            obs.closing(req)
            obs.record(req, "fail", "request", error_text(exc))
            result = error_name(exc)
        else:
            obs.closing(req)
            result = immutable(outcome)
            obs.record(req, "ok", "request", result)
        self.send({"k": "done", "n": n, "r": result})

    def blocking_storage(self, op: str, user: int, value: int = 0) -> object:
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(self.storage(op, user, value),
                                                self.loop).result()


class _SyncStore:
    """``db`` for sync code, over the coordinator (as ``sim.aio.threads.server``'s store)."""

    def __init__(self, worker: SyncHandlerWorker) -> None:
        self.w = worker

    def read(self, user: int) -> tuple[int, bool]:
        req, obs = CURRENT.get(), self.w.observer
        if req is not None:
            obs.record(req, "invoke", "read", user)
        result = self.w.blocking_storage("read", user)
        if req is not None:
            obs.record(req, "ok", "read", result)
        return result  # type: ignore[return-value]

    def commit(self, user: int, stock: int) -> bool:
        req, obs = CURRENT.get(), self.w.observer
        if req is not None:
            obs.record(req, "invoke", "issue", (user, None))
            obs.record(req, "invoke", "stock", (stock, None))
        ok = self.w.blocking_storage("commit", user, stock)
        if req is not None:
            obs.record(req, "ok", "issue")
            obs.record(req, "ok", "stock")
        return bool(ok)
