"""One real app server: an asyncio loop interpreting lock effects against a real Redis.

This is ``sim.world.world.app_server`` with the virtual world swapped for the real one,
and every effect means the same thing: ``Call`` goes out on one pipelined
command connection (FIFO replies, as ioredis) and a timeout gives
``TIMED_OUT`` while the command may still run; ``Subscribe`` resolves when
Redis confirms; ``WaitMessage`` has EventEmitter semantics; ``Sleep`` and
timeouts run on the local clock; ``Work`` burns CPU and blocks the whole
loop; ``Record`` is stamped with the true, system-wide monotonic time.
A stop-the-world pause is a real SIGSTOP of this process, a crash a SIGKILL.

The process talks to its coordinator (``sim.real.cluster``) over an inherited
socket, one JSON object per line: the coordinator sends requests, storage
replies and faults; the worker streams history ops and storage calls.
Network faults on Redis traffic are injected here, at the effect boundary,
with the simulator's ``NetFaults`` windows.

This module and ``sim.real.cluster`` are the only ones in ``sim/`` that read real
clocks: they drive the real world, where time is not ours to choose.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import importlib
import json
import math
import os
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from redis.asyncio.connection import Connection as RedisConnection
from redis.backoff import NoBackoff
from redis.driver_info import DriverInfo
from redis.exceptions import ResponseError
from redis.retry import Retry

from models.faults import NetFaults
from models.locks import make_lock
from models.locks.effect import TIMED_OUT, Record, Storage
from models.redis.reply import ReplyError
from models.workload import CouponService
from sim.real.deployment import MASTER_NAME
from sim.real.server import LOOPBACK
from sim.runtime.chooser import Chooser
from sim.runtime.loop import Interpreter, Task

ASK_EVERY_MS = 100.0  # as the simulated client (sim.world.sentinel.ASK_EVERY_MS)

# -- the wire between coordinator and worker ------------------------------------------------


def _default(value: object) -> object:
    if isinstance(value, bytes):
        return {"$b": value.hex()}
    if isinstance(value, ReplyError):
        return {"$e": value.message}
    raise TypeError(f"cannot send {type(value).__name__} {value!r}")


def _hook(obj: dict[str, Any]) -> object:
    if len(obj) == 1:
        if "$b" in obj:
            return bytes.fromhex(obj["$b"])
        if "$e" in obj:
            return ReplyError(obj["$e"])
    return obj


def encode(message: dict[str, Any]) -> bytes:
    """One line of JSON; bytes survive the trip, tuples come back as tuples."""
    return json.dumps(message, default=_default, separators=(",", ":")).encode() + b"\n"


def tuples(value: object) -> object:
    """JSON arrays back to tuples: history values and storage results hold only tuples."""
    if isinstance(value, list):
        return tuple(tuples(v) for v in value)
    return value


def decode(line: bytes) -> dict[str, Any]:
    return json.loads(line, object_hook=_hook)  # type: ignore[no-any-return]


def token_seed(seed: int, name: str, incarnation: int) -> int:
    """Each process (and each restart of it) draws its own token stream from the seed."""
    digest = hashlib.blake2b(f"{seed}:{name}:{incarnation}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


# -- one Redis connection with the fault windows --------------------------------------------


class _Link:
    """FIFO delivery with the windows on either end of the connection: nothing overtakes."""

    __slots__ = ("last", "loop", "owner", "worker")

    def __init__(self, worker: Worker, owner: RedisLink) -> None:
        self.worker = worker
        self.owner = owner
        self.loop = worker.loop
        self.last = 0.0

    def after_faults(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` now, or as late as the active windows say (never before an earlier one)."""
        w = self.worker
        now = w.true_ms()
        when = now
        if w.net:
            for end in self.owner.ends:
                faults = w.net.get(end)
                if faults is not None:
                    when = faults.adjust(now, when)
        when = max(when, self.last)
        self.last = when
        if when <= now:
            fn()
        else:
            self.loop.call_later((when - now) / 1000.0, fn)


class RedisLink:
    """A pipelined RESP2 connection (redis-py's protocol layer, retries off).

    Commands are written in order and replies matched in order, so a timed-out
    command's late reply is read and dropped rather than misattributed. On a
    lost connection every outstanding command gets ``TIMED_OUT`` (outcome
    unknown) and the link reconnects, as ioredis does: to the same node, or, for a
    link to the primary of a Sentinel topology, to whichever node the Sentinels name
    (asked every ``ASK_EVERY_MS`` until one is reached, as ``sim.world.sentinel``).
    """

    def __init__(self, worker: Worker, on_push: Callable[[object], None] | None = None,
                 node: str | None = None) -> None:
        self.worker = worker
        self.on_push = on_push
        self.node = node or worker.primary
        self.follows = node is None and bool(worker.sentinels)  # the master, wherever it is
        self.up = _Link(worker, self)
        self.down = _Link(worker, self)
        self.pending: deque[Callable[[object], None]] = deque()
        self.conn: RedisConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.on_reconnect: Callable[[], None] | None = None

    @property
    def ends(self) -> tuple[str, ...]:
        """The fault targets this connection crosses, as the simulator's ``Connection``."""
        w = self.worker
        if self.node == "redis":
            return (w.name, self.node)
        return (w.name, self.node, f"{w.name}/{self.node}")

    def _new_conn(self) -> RedisConnection:
        host, port = self.worker.addresses[self.node]
        return RedisConnection(host=host, port=port, socket_timeout=None,
                               socket_connect_timeout=2.0, protocol=2,
                               driver_info=DriverInfo(name=None, lib_version=None),
                               retry=Retry(NoBackoff(), 0))

    async def open(self) -> None:
        conn = self._new_conn()
        await conn.connect()
        self.conn = conn
        self.connected.set()
        self.reader = asyncio.get_running_loop().create_task(self._read(conn))

    def send(self, argv: tuple[object, ...], on_reply: Callable[[object], None]) -> None:
        self.up.after_faults(lambda: self._write(argv, on_reply))

    def _write(self, argv: tuple[object, ...], on_reply: Callable[[object], None]) -> None:
        conn = self.conn
        if conn is None or not self.connected.is_set() or conn._writer is None:
            on_reply(TIMED_OUT)  # no connection: the command cannot be sent
            return
        self.pending.append(on_reply)
        conn._writer.writelines(conn.pack_command(*argv))  # type: ignore[arg-type]

    async def _read(self, conn: RedisConnection) -> None:
        while True:
            try:
                reply: object = await conn.read_response(timeout=math.inf,
                                                         disconnect_on_error=False)
            except ResponseError as exc:
                reply = ReplyError(str(exc))
            except (OSError, ConnectionError, asyncio.IncompleteReadError) as _exc:
                await self._lost()
                return
            except Exception:  # redis.ConnectionError and friends
                await self._lost()
                return
            if self.on_push is not None and isinstance(reply, list) and reply \
                    and reply[0] in (b"message", b"pmessage"):
                self.down.after_faults(lambda r=reply: self.on_push(r))  # type: ignore[misc]
                continue
            if self.pending:
                cb = self.pending.popleft()
                self.down.after_faults(functools.partial(cb, reply))

    async def _lost(self) -> None:
        """Redis went away (restart): fail what is outstanding, reconnect, resubscribe."""
        self.connected.clear()
        pending, self.pending = self.pending, deque()
        for cb in pending:
            cb(TIMED_OUT)
        if self.conn is not None:
            await self.conn.disconnect(nowait=True)
        while True:
            await asyncio.sleep(ASK_EVERY_MS / 1000.0 if self.follows else 0.02)
            if self.follows:
                self.node = await self.worker.ask_sentinels() or self.node
            conn = self._new_conn()
            try:
                await conn.connect()
            except Exception:
                continue
            if _self_connected(conn):  # TCP's simultaneous open: we reached ourselves
                await conn.disconnect(nowait=True)
                continue
            self.conn = conn
            self.connected.set()
            if self.on_reconnect is not None:
                self.on_reconnect()
            self.reader = asyncio.get_running_loop().create_task(self._read(conn))
            return


# -- tasks ------------------------------------------------------------------------------------


class Worker(Interpreter):
    """The app server process: its loop, two Redis connections, its clock and tasks;
    the ``Host`` of ``sim.runtime.loop`` in real time."""

    alive = True  # a dead worker is a dead process

    def __init__(self, config: dict[str, Any], channel: socket.socket) -> None:
        self.name: str = config["name"]
        self.host: str = config["host"]
        self.port: int = int(config["port"])
        nodes = config.get("nodes") or {"redis": [self.host, self.port]}
        self.addresses = {str(n): (str(h), int(p)) for n, (h, p) in nodes.items()}
        self.primary = next(iter(self.addresses))  # where a Call without a node goes
        self.sentinels = [int(p) for p in config.get("sentinels", ())]
        self.t0: float = float(config["t0"])
        for module in config.get("imports", ()):
            importlib.import_module(module)
        self.lock = make_lock(config["lock"], **dict(config.get("lock_params", {})))
        self.service = CouponService(handler_cpu_ms=float(config.get("handler_cpu_ms", 0.3)),
                                     stock=int(config.get("stock", 1000)))
        self.seed = int(config.get("seed", 1))
        self.chooser = Chooser(token_seed(self.seed, self.name, int(config.get("incarnation", 0))))
        self.channel = channel
        self.loop = asyncio.get_running_loop()
        self.net: dict[str, NetFaults] = {}  # fault windows by node, app or app/node link
        self.init_interpreter()
        self.subscribing: dict[str, deque[Callable[[], None]]] = {}
        self.storage_waits: dict[int, Callable[[object], None]] = {}
        self.storage_ids = 0
        self.writer: asyncio.StreamWriter | None = None
        self.outbox: list[bytes] = []
        self.pool: list[RedisLink] = []  # idle connections for blocking calls
        self.pooled: list[RedisLink] = []  # every one opened (asyncio keeps weak refs only)
        self.opening: set[asyncio.Task[None]] = set()
        self.cmd = RedisLink(self)
        self.sub = RedisLink(self, on_push=self._on_push)
        self.sub.on_reconnect = self._resubscribe
        # a multi-node topology: one command connection per named node, as the simulator's
        self.node_links = ({n: RedisLink(self, node=n) for n in self.addresses}
                           if self.primary != "redis" else {})

    # -- clocks -------------------------------------------------------------------------------
    def true_ms(self) -> float:
        """True time since the run's start, on the clock every process shares."""
        return (time.monotonic() - self.t0) * 1000.0

    def true_now(self) -> float:
        return self.true_ms()

    def after_local(self, ms: float, fn: Callable[..., None], *args: Any) -> None:
        self.loop.call_later(max(self.true_duration(ms), 0.0) / 1000.0, fn, *args)

    # -- the coordinator ------------------------------------------------------------------------
    def send(self, message: dict[str, Any]) -> None:
        """Queue a message; it leaves when the current callback ends (see ``_flush``)."""
        self.outbox.append(encode(message))

    def _flush(self) -> None:
        """Send what one callback produced in one write.

        A pause fired by the coordinator on seeing a Record then lands after
        the synchronous stretch that made it, as in the simulator (a pause
        freezes the loop between callbacks): the storage call or command that
        followed the Record in the same stretch has already left.
        """
        if self.outbox and self.writer is not None:
            self.writer.write(b"".join(self.outbox))
            self.outbox.clear()

    async def serve(self) -> None:
        reader, self.writer = await asyncio.open_connection(sock=self.channel)
        await self.cmd.open()
        await self.sub.open()
        for link in self.node_links.values():
            await link.open()
        self.send({"k": "ready", "pid": os.getpid()})
        self._flush()
        await self.writer.drain()
        while True:
            line = await reader.readline()
            if not line:
                return  # the coordinator is gone: so are we
            self.handle(decode(line))
            self._flush()
            await self.writer.drain()

    def _done(self, message: dict[str, Any], result: object) -> None:
        self.send({**message, "r": _plain(result)})

    def handle(self, msg: dict[str, Any]) -> None:
        kind = msg["k"]
        if kind == "req":
            n, user = int(msg["n"]), int(msg["user"])
            session = hashlib.blake2b(f"{self.seed}:{user}".encode(), digest_size=8).hexdigest()
            self.start(f"{self.name}/req{n}", self.service.handle(self.lock, user, session),
                       functools.partial(self._done, {"k": "done", "n": n}))
        elif kind == "sto":
            cb = self.storage_waits.pop(int(msg["id"]), None)
            if cb is not None:
                cb(tuples(msg["r"]))
        elif kind == "prog":
            module, _, func = str(msg["target"]).partition(":")
            program = getattr(importlib.import_module(module), func)(*msg.get("args", ()))
            process = str(msg["process"])
            self.start(process, program,
                       functools.partial(self._done, {"k": "done", "process": process}))
        elif kind == "net":
            start, end = float(msg["start"]), float(msg["end"])
            windows = self.net.setdefault(str(msg.get("on", self.name)), NetFaults())
            if msg["kind"] == "delay":
                windows.delays.append((start, end, float(msg["extra"])))
            else:
                windows.partitions.append((start, end))
        elif kind == "t0":
            self.t0 = float(msg["t0"])
        elif kind == "clock":
            self.set_clock(float(msg["offset"]), float(msg["drift"]))
        elif kind == "exit":
            os._exit(0)

    # -- the Host -------------------------------------------------------------------------------
    def resume(self, task: Task, value: object) -> None:
        self.loop.call_soon(self._run, task, value)

    def microtasks(self, woken: list[tuple[Task, object]]) -> None:
        for task, value in woken:  # resolved promises: before anything else queued
            self._run(task, value)

    def _run(self, task: Task, value: object) -> None:
        """One loop callback: advance ``task`` to its next await, then send what it said."""
        try:
            self.step(task, value)
        finally:
            self._flush()

    def call(self, argv: tuple[object, ...], blocking: bool,
             on_reply: Callable[[object], None]) -> None:
        if self.target is not None:
            link = self.node_links.get(self.target)
            if link is None and self.target != self.primary:
                raise ValueError(f"{self.name} sent a command to Redis node {self.target!r}, "
                                 f"which this world does not have (nodes: "
                                 f"{', '.join(self.addresses)})")
            (link or self.cmd).send(argv, on_reply)
        elif blocking:
            self._call_pooled(argv, on_reply)
        else:
            self.cmd.send(argv, on_reply)

    def work(self, task: Task, ms: float) -> bool:
        _burn(ms)
        return True

    def record(self, task: Task, effect: Record) -> None:
        self.send({"k": "rec", "t": self.true_ms(), "p": task.process,
                   "y": effect.type, "f": effect.f, "v": effect.value})

    def token(self) -> str:
        return self.chooser.token()  # type: ignore[no-any-return]

    def storage(self, effect: Storage, on_reply: Callable[[object], None]) -> None:
        self.storage_ids += 1
        sid = self.storage_ids
        self.storage_waits[sid] = on_reply
        self.send({"k": "sto", "id": sid, "op": effect.op, "user": effect.user,
                   "value": effect.value, "fence": effect.fence})

    async def ask_sentinels(self) -> str | None:
        """The node the Sentinels name as master now (the first that answers), if any."""
        for port in self.sentinels:
            conn = RedisConnection(host=LOOPBACK, port=port, socket_timeout=0.5,
                                   socket_connect_timeout=0.5, protocol=2,
                                   driver_info=DriverInfo(name=None, lib_version=None),
                                   retry=Retry(NoBackoff(), 0))
            try:
                await conn.connect()
                await conn.send_command("SENTINEL", "get-master-addr-by-name", MASTER_NAME)
                reply = await conn.read_response()
            except Exception:  # that Sentinel is down or slow: ask the next
                continue
            finally:
                await conn.disconnect(nowait=True)
            if isinstance(reply, list) and len(reply) == 2:
                named = [n for n, (_h, p) in self.addresses.items() if str(p) == _text(reply[1])]
                if named:
                    return named[0]
        return None

    def subscribe(self, channel: str, on_confirmed: Callable[[], None]) -> None:
        self.subscribing.setdefault(channel, deque()).append(on_confirmed)
        self.sub.send(("SUBSCRIBE", channel), self._confirmed)

    def _call_pooled(self, argv: tuple[object, ...], on_reply: Callable[[object], None]) -> None:
        """A blocking command on a connection of its own, as the simulator's ``Call.blocking``."""
        def replied(reply: object, link: RedisLink) -> None:
            self.pool.append(link)  # back to the pool once its reply is in
            on_reply(reply)

        if self.pool:
            link = self.pool.pop()
            link.send(argv, lambda r: replied(r, link))
            return
        link = RedisLink(self)
        self.pooled.append(link)

        async def open_then_send() -> None:
            try:
                await link.open()
            except Exception:  # cannot connect: outcome unknown, like a lost connection
                on_reply(TIMED_OUT)
                return
            link.send(argv, lambda r: replied(r, link))
            self._flush()

        opening = self.loop.create_task(open_then_send())
        self.opening.add(opening)
        opening.add_done_callback(self.opening.discard)

    # -- pub/sub --------------------------------------------------------------------------------
    def _confirmed(self, reply: object) -> None:
        """A SUBSCRIBE confirmation (or TIMED_OUT if the connection broke): wake in order."""
        channel = None
        if isinstance(reply, list) and len(reply) >= 2 and reply[0] == b"subscribe":
            channel = reply[1].decode() if isinstance(reply[1], bytes) else str(reply[1])
        for ch, waiting in self.subscribing.items():
            if waiting and (channel is None or ch == channel):
                waiting.popleft()()
                return

    def _resubscribe(self) -> None:
        """After a reconnect, listen again on every channel someone listens to."""
        for ch, listeners in self.listeners.items():
            if listeners:
                self.sub.send(("SUBSCRIBE", ch), lambda _r: None)

    def _on_push(self, reply: object) -> None:
        """EventEmitter semantics: every listener attached right now gets the message."""
        assert isinstance(reply, list)
        channel, message = reply[-2], reply[-1]
        name = channel.decode() if isinstance(channel, bytes) else str(channel)
        self.fan_out(name, message)


def _self_connected(conn: RedisConnection) -> bool:
    """Retrying a dead node's ephemeral-range port can pick that very port as the source:
    the socket then talks to itself and would echo every command back as its reply."""
    writer = conn._writer
    return writer is not None and (
        writer.get_extra_info("sockname") == writer.get_extra_info("peername"))


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _burn(ms: float) -> None:
    """Busy CPU: the whole loop is blocked, as JavaScript work blocks Node's."""
    end = time.perf_counter() + ms / 1000.0
    while time.perf_counter() < end:
        pass


def _plain(value: object) -> object:
    """A task's result, made sendable (Held and other objects become their repr)."""
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return repr(value)


def serve_main(argv: list[str], make: Callable[[dict[str, Any], socket.socket], Any]) -> int:
    """A worker process's entry: ``FD CONFIG_JSON``; serve ``make(config, channel)``
    until the coordinator goes away. Both real workers (designs, handlers) start so."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's to handle
    fd, config = int(argv[0]), json.loads(argv[1])
    channel = socket.socket(fileno=fd)

    async def serve() -> None:
        await make(config, channel).serve()

    try:
        asyncio.run(serve())
    except (ConnectionError, BrokenPipeError):
        return 1
    return 0


def main(argv: list[str]) -> int:
    """``python -m sim.real.worker FD CONFIG_JSON``: serve until the coordinator goes away."""
    return serve_main(argv, Worker)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
