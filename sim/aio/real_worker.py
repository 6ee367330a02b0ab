"""One real app-server process running a team's handler against a real ``redis-server``.

The counterpart of ``sim.aio.server`` in the real world, spoken to by the same
coordinator as ``sim.real.worker`` (``sim.real.cluster``, one JSON line per
message): requests in, history ops and storage calls out. Here time, sockets and
uuids are real; the history comes from the same library wrappers
(``sim.aio.libraries``), stamped with the true monotonic clock every process
shares. A pause is a real SIGSTOP of this process; delays and partitions act on
its bytes at the coordinator's relay (its ``host``/``port`` name it). Not observed here: the wire
(``attempt`` ops) and Redis's own log, so the checkers that need them say less.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import socket
import sys
import time
from typing import Any

from sim.aio.observe import CURRENT, Observer, Request, error_name, error_text, immutable
from sim.aio.runner import load_handler
from sim.real.worker import decode, encode, tuples


class _Recorder:
    def __init__(self, worker: HandlerWorker) -> None:
        self.worker = worker

    def record(self, t: float, process: str, type_: str, f: str, value: object = None,
               node: str = "") -> None:
        self.worker.send({"k": "rec", "t": t, "p": process, "y": type_, "f": f, "v": value})


class _Clock:
    def __init__(self, worker: HandlerWorker) -> None:
        self.worker = worker

    @property
    def now(self) -> float:
        return self.worker.true_ms()


class _NoNemesis:
    """The coordinator aims faults from the ops it receives: nothing to do here."""

    def acquired(self, process: str, node: str) -> None:
        pass

    def released(self, process: str) -> None:
        pass


class HandlerWorker:
    """The process: a real asyncio loop, a real ``redis.asyncio.Redis``, the handler."""

    def __init__(self, config: dict[str, Any], channel: socket.socket) -> None:
        import redis.asyncio

        self.name = str(config["name"])
        self.t0 = float(config["t0"])
        self.handler = load_handler(str(config["handler"]))
        self.channel = channel
        self.writer: asyncio.StreamWriter | None = None
        self.outbox: list[bytes] = []
        kwargs = {"host": config["host"], "port": int(config["port"]),
                  **dict(config.get("client_params", {}))}
        if "retries" in kwargs:
            from redis.asyncio.retry import Retry
            from redis.backoff import ExponentialWithJitterBackoff

            kwargs["retry"] = Retry(ExponentialWithJitterBackoff(base=0.01, cap=1.0),
                                    int(kwargs.pop("retries")))
        self.client = redis.asyncio.Redis(**kwargs)
        self.recorder = _Recorder(self)
        self.env = _Clock(self)
        self.nemesis = _NoNemesis()
        self.observer = Observer(self)  # type: ignore[arg-type]
        self.storage_waits: dict[int, asyncio.Future[object]] = {}
        self.storage_ids = 0
        self.tasks: set[asyncio.Task[None]] = set()

    def true_ms(self) -> float:
        return (time.monotonic() - self.t0) * 1000.0

    def send(self, message: dict[str, Any]) -> None:
        """Queue a message; what one callback produced leaves in one write after it, so a
        pause the coordinator fires on seeing ``acquire ok`` lands after the stretch that
        made it (its ``enter`` and first storage call), as in the simulator."""
        self.outbox.append(encode(message))
        if len(self.outbox) == 1:
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        if self.outbox and self.writer is not None:
            self.writer.write(b"".join(self.outbox))
            self.outbox.clear()

    async def serve(self) -> None:
        reader, self.writer = await asyncio.open_connection(sock=self.channel)
        self.send({"k": "ready", "pid": os.getpid()})
        self._flush()
        await self.writer.drain()
        with self.observer.instrument():
            while True:
                line = await reader.readline()
                if not line:
                    return
                self.handle(decode(line))
                await self.writer.drain()

    def handle(self, msg: dict[str, Any]) -> None:
        kind = msg["k"]
        if kind == "req":
            n, user = int(msg["n"]), int(msg["user"])
            req = Request(f"{self.name}/req{n}", self.name, None)
            ctx = contextvars.copy_context()
            ctx.run(CURRENT.set, req)
            task = asyncio.get_running_loop().create_task(self._serve(req, n, user),
                                                          context=ctx)
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif kind == "sto":
            fut = self.storage_waits.pop(int(msg["id"]), None)
            if fut is not None and not fut.done():
                fut.set_result(tuples(msg["r"]))
        elif kind == "t0":
            self.t0 = float(msg["t0"])
        elif kind == "exit":
            os._exit(0)
        # "net": the coordinator's relay in front of Redis holds this process's bytes
        # (``sim.real.relay``); "clock" never comes: a handler's clock steps are refused

    async def _serve(self, req: Request, n: int, user: int) -> None:
        obs = self.observer
        obs.record(req, "invoke", "request", user)
        try:
            outcome = await self.handler(self.client, _Store(self), user)
        except Exception as exc:
            obs.closing(req)
            obs.record(req, "fail", "request", error_text(exc))
            result: object = error_name(exc)
        else:
            obs.closing(req)
            result = immutable(outcome)
            obs.record(req, "ok", "request", result)
        self.send({"k": "done", "n": n, "r": result})

    async def storage(self, op: str, user: int, value: int = 0) -> object:
        self.storage_ids += 1
        sid = self.storage_ids
        fut: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self.storage_waits[sid] = fut
        self.send({"k": "sto", "id": sid, "op": op, "user": user, "value": value,
                   "fence": None})
        return await fut


class _Store:
    """``db`` as the handler sees it, over the coordinator (as ``sim.aio.server.CouponStore``)."""

    def __init__(self, worker: HandlerWorker) -> None:
        self.w = worker

    async def read(self, user: int) -> tuple[int, bool]:
        req = CURRENT.get()
        obs = self.w.observer
        if req is not None:
            obs.record(req, "invoke", "read", user)
        result = await self.w.storage("read", user)
        if req is not None:
            obs.record(req, "ok", "read", result)
        return result  # type: ignore[return-value]

    async def commit(self, user: int, stock: int) -> bool:
        req = CURRENT.get()
        obs = self.w.observer
        if req is not None:
            obs.record(req, "invoke", "issue", (user, None))
            obs.record(req, "invoke", "stock", (stock, None))
        ok = await self.w.storage("commit", user, stock)
        if req is not None:
            obs.record(req, "ok", "issue")
            obs.record(req, "ok", "stock")
        return bool(ok)


def main(argv: list[str]) -> int:
    """``python -m sim.aio.real_worker FD CONFIG_JSON``: serve until the coordinator goes."""
    from sim.real.worker import serve_main

    return serve_main(argv, _worker)


def _worker(config: dict[str, Any], channel: socket.socket) -> HandlerWorker:
    """The asyncio worker, or for a plain ``def`` handler the sync tier's (real threads)."""
    if asyncio.iscoroutinefunction(load_handler(str(config["handler"]))):
        return HandlerWorker(config, channel)
    from sim.aio.threads.real_worker import SyncHandlerWorker

    return SyncHandlerWorker(config, channel)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

