"""The Redis server node: one thread running the pure model, a cost per command.

Commands run in arrival order, one at a time: a command that arrives while
the thread is busy starts when it is free. The model executes at the start
instant; the reply, pub/sub messages and BLPOP services leave when the
command's service time is over.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from models.checkers.ground_truth import KeyEffect
from models.frozen import quick_new
from models.redis import BLOCKED, RedisModel
from models.redis.clock import NodeClock
from models.redis.keys import wait_args
from models.redis.model import Delivery, Served
from models.redis.number import encode
from models.redis.reply import Reply, ReplyError

if TYPE_CHECKING:
    from sim.world.network import Connection
    from sim.world.world import World

ReplyFn = Callable[[Reply], None]
_SCRIPTS = (b"EVAL", b"EVALSHA", b"eval", b"evalsha", "EVAL", "EVALSHA", "eval", "evalsha")
# Commands that touch no key (argv[1] is a channel, a subcommand or nothing).
_KEYLESS = frozenset({"PING", "SUBSCRIBE", "UNSUBSCRIBE", "PSUBSCRIBE", "PUNSUBSCRIBE", "PUBLISH",
                      "CLIENT", "SCRIPT", "MULTI", "DISCARD", "WATCH", "UNWATCH", "INFO", "ECHO",
                      "SELECT", "HELLO", "TIME", "DBSIZE", "FLUSHALL", "FLUSHDB", "KEYS", "SCAN"})
_MULTIKEY = frozenset({"DEL", "UNLINK", "EXISTS", "MGET", "TOUCH"})
_PAIRED = frozenset({"MSET", "MSETNX"})  # key value key value ...
# Counters (a fence): shared by design, so not an ownership claim (effect "count").
_COUNTERS = frozenset({"INCR", "INCRBY", "DECR", "DECRBY", "INCRBYFLOAT"})
_SETS = frozenset({"SET", "SETNX"})  # a refused one on the request's own key: see _refused
# a list or set value: a queue, a semaphore, a record of who was served; shared by
# design, not a lease anyone owns
_SKIP = object()
_ABSENT: tuple[None, None] = (None, None)  # a key's state when it does not exist
_effect = quick_new(KeyEffect)  # one per key a command changes: built cheaply

# How a command names the keys it may change (see ``RedisNode._keys``)
_NO_KEYS, _FIRST, _ALL, _SCRIPT, _QUEUED, _PAIRS = range(6)
# argv[0] as sent ("SET", b"eval") -> (its upper-case name, how it names keys,
# whether it is a script): the same few heads come by the hundred thousand
_HEADS: dict[object, tuple[str, int, bool]] = {}


def _head(head: object) -> tuple[str, int, bool]:
    """``argv[0]``'s name, key shape and script flag (cached for str and bytes heads)."""
    name = (head.decode() if type(head) is bytes else str(head)).upper()
    if name in _KEYLESS:
        shape = _NO_KEYS
    elif name == "EVAL" or name == "EVALSHA":
        shape = _SCRIPT
    elif name == "EXEC":
        shape = _QUEUED
    elif name in _MULTIKEY:
        shape = _ALL
    elif name in _PAIRED:
        shape = _PAIRS
    else:
        shape = _FIRST
    known = (name, shape, head in _SCRIPTS)
    if (type(head) is str or type(head) is bytes) and len(_HEADS) < 4096:
        _HEADS[head] = known
    return known


def _argv_keys(shape: int, argv: tuple[object, ...]) -> list[bytes]:
    """The keys a command of ``shape`` names in ``argv`` (EXEC's are its queue's)."""
    if shape in (_NO_KEYS, _QUEUED) or len(argv) < 2:
        return []
    if shape == _SCRIPT:
        try:
            n = int(argv[2])  # type: ignore[call-overload]
        except (IndexError, ValueError, TypeError):
            return []
        return [_key(k) for k in argv[3:3 + n]]
    if shape == _ALL:
        return [_key(k) for k in argv[1:]]
    if shape == _PAIRS:
        return list(dict.fromkeys(_key(k) for k in argv[1::2]))  # MSET k v k v': once
    return [_key(argv[1])]


def _key(k: object) -> bytes:
    return k if type(k) is bytes else str(k).encode()


def _view(value: object) -> object:
    """A key's value as a comparable, immutable snapshot (hashes change in place);
    ``_SKIP`` for a list or a set (``RedisSet``), which no request owns."""
    if value is None or type(value) is bytes:
        return value
    if type(value) is dict:
        return b"hash:" + repr(sorted(value.items())).encode()
    return _SKIP


def trace_digest(log: list[tuple[float, int, tuple[object, ...], object]]) -> str:
    """blake2b-128 over one line per command (the Redis half of a run's trace hash)."""
    trace = hashlib.blake2b(digest_size=16)
    for start, client, argv, reply in log:
        trace.update(f"{start:.6f}|{client}|{argv!r}|{reply!r}\n".encode())
    return trace.hexdigest()


class RedisNode:
    """Single-threaded Redis: FIFO service, pub/sub fan-out, blocked clients."""

    def __init__(self, world: World, version: tuple[int, int], service_ms: float,
                 script_ms: float, monitor: bool = False, name: str = "redis") -> None:
        self.world = world
        self.name = name
        # the node's wall clock (models.redis.clock.NodeClock); None: true time itself
        self.clock: NodeClock | None = None
        self.model = RedisModel(version)
        self.service_ms = service_ms
        self.script_ms = script_ms
        self.busy_until = 0.0
        self.connections: dict[int, Connection] = {}
        self.blocked: dict[int, ReplyFn] = {}
        self.commands = 0
        self.counts: dict[str, int] = {}
        # (start, client, argv, reply) per command; hashed only when a trace hash is read
        self.log: list[tuple[float, int, tuple[object, ...], object]] = []
        # Ground truth, a log of its own (never hashed): one KeyEffect per key a
        # command changed, attributed to the request that sent it
        self.effects: list[KeyEffect] = []
        self._expired: dict[bytes, int] = {}  # key -> deadline its "expired" was logged at
        self._setter: dict[bytes, str | None] = {}  # key -> the request whose value it holds
        self.model.script_log = []  # a script's commands name its effects ("EVAL>DEL")
        # MONITOR log: (start, client id, node, argv); a script's commands follow
        # its EVAL as (start, 0, "lua", argv), the order Redis prints them in.
        self.monitor: list[tuple[float, int, str, tuple[object, ...]]] | None = None
        if monitor:
            self.monitor = []

    def _keys(self, name: str, argv: tuple[object, ...], client: int) -> list[bytes]:
        """The keys ``argv`` may change: argv key positions; a script's KEYS; EXEC's queue."""
        head = argv[0]
        known = _HEADS.get(head) if type(head) is str or type(head) is bytes else None
        shape = (known or _head(head))[1]
        if shape == _QUEUED:
            return self._exec_keys(client)
        return _argv_keys(shape, argv)

    def _state(self, key: bytes, now: int, start: float) -> tuple[object, int | None]:
        """A key's logical value and deadline; logs its expiry (at the deadline) once."""
        ks = self.model.ks
        value = ks.data.get(key)
        if value is None:
            return _ABSENT
        deadline = ks.deadlines.get(key)
        if deadline is not None and now > deadline:
            if self._expired.get(key) != deadline:
                self._expired[key] = deadline
                before = _view(value)
                if before is not _SKIP:
                    at = (float(deadline) if self.clock is None
                          else self.clock.true_time(float(deadline)))
                    self.effects.append(_effect(at, self.name, None, "expire",
                                                key.decode(), before, None, None, "expired"))
            return _ABSENT
        return (value if type(value) is bytes else _view(value)), deadline

    def _exec_keys(self, client: int) -> list[bytes]:
        tx = self.model.transactions.get(client)
        if tx is None:
            return []
        keys: list[bytes] = []
        for _cmd, argv in tx.queue:
            head = argv[0]
            known = _HEADS.get(head) if type(head) is bytes else None
            keys.extend(_argv_keys((known or _head(head))[1], tuple(argv)))
        return keys

    def _log_effects(self, start: float, request: str | None, name: str, keys: list[bytes],
                     before: list[tuple[object, int | None]], local: float,
                     argv: tuple[object, ...]) -> None:
        """One KeyEffect per key whose value or TTL the command changed.

        Also one ``refused`` entry when a ``SET``/``SETNX`` (or a script's inner
        one) was refused by a key that holds the same request's value: the
        request asked for a lock it already had, with ``wanted``, another value or
        the same (an orphan's evidence). ``local`` is the node's own clock.
        """
        now = int(local)
        ran = self.model.script_log
        state = self._state
        for key, (v0, d0) in zip(keys, before, strict=True):
            v1, d1 = state(key, now, start)
            if v0 is _SKIP or v1 is _SKIP or (v0 == v1 and d0 == d1):
                if v0 is not None and request is not None and self._setter.get(key) == request:
                    self._refused(start, request, name, key, v0,
                                  None if d0 is None else d0 - local, argv, ran)
                continue
            command = name
            if ran:  # named by the script's last command on this key
                inner = next((c[0] for c in reversed(ran) if len(c) > 1 and c[1] == key), None)
                command = f"{name}>{'?' if inner is None else inner.decode().upper()}"
            base = command.rsplit(">", 1)[-1]
            if base in _COUNTERS:
                kind = "count"
            elif v1 is None:
                kind = "del"
            elif v0 != v1:
                kind = "set"
            else:
                kind = "expire"
            if kind == "set":
                self._setter[key] = request
            ttl = None if d1 is None else d1 - local
            self.effects.append(_effect(start, self.name, request, command, key.decode(),
                                        v0, v1, ttl, kind))

    def _refused(self, start: float, request: str, name: str, key: bytes, value: object,
                 ttl: float | None, argv: tuple[object, ...],
                 ran: list[tuple[bytes, ...]] | None
                 ) -> None:
        """Log a SET (SETNX, or a script's inner SET) the request's own key refused."""
        wanted: bytes | None = None
        if name in _SETS and len(argv) > 2:
            wanted = _key(argv[2])
        elif ran:
            inner = [c for c in ran if len(c) > 2 and c[1] == key
                     and c[0].decode().upper() in _SETS]
            if inner:
                wanted, name = _key(inner[-1][2]), f"{name}>{inner[-1][0].decode().upper()}"
        if wanted is not None:
            self.effects.append(KeyEffect(
                start, self.name, request, name, key.decode(), value, value,  # type: ignore[arg-type]
                ttl, "refused", wanted))

    def lost(self) -> None:
        """A restart without persistence: every live key is gone (call before the flush)."""
        ks = self.model.ks
        now = self.world.env.now
        local = now if self.clock is None else self.clock.local(now)
        for key in list(ks.data):
            value, _ = self._state(key, int(local), now)
            if value is not None and value is not _SKIP:
                self.effects.append(_effect(now, self.name, None, "RESTART", key.decode(),
                                            value, None, None, "lost"))
        self._expired.clear()

    def execute(self, conn: Connection, argv: tuple[object, ...], on_reply: ReplyFn,
                request: str | None = None) -> None:
        """A command has arrived from ``conn``: run it when the thread is free."""
        world = self.world
        now = world.env._now
        busy = self.busy_until
        start = now if now >= busy else busy  # max(), ties resolved the same way
        head = argv[0]
        known = _HEADS.get(head) if type(head) is str or type(head) is bytes else None
        name, shape, script = known or _head(head)
        done = start + (self.script_ms if script else self.service_ms)
        self.busy_until = done
        if shape == _FIRST:  # the commonest: one key, argv[1]
            keys = [_key(argv[1])] if len(argv) > 1 else None
        else:
            keys = None if shape == _NO_KEYS else self._keys(name, argv, conn.client_id)
        clock = self.clock
        local = start if clock is None else clock.local(start)
        if keys:
            now = int(local)
            state = self._state
            before = [state(k, now, start) for k in keys]
        outcome = self.model.execute(argv, local, conn.client_id)
        if keys:
            self._log_effects(start, request, name, keys, before, local, argv)
        self.commands += 1
        counts = self.counts
        counts[name] = counts.get(name, 0) + 1
        self.log.append((start, conn.client_id, argv, outcome.reply))
        ran = self.model.script_log
        if self.monitor is not None:
            self.monitor.append((start, conn.client_id, getattr(conn.owner, "name", "?"), argv))
            if ran:
                self.monitor.extend((start, 0, "lua", cmd) for cmd in ran)
        if ran:
            ran.clear()
        if outcome.reply is BLOCKED:
            self.blocked[conn.client_id] = on_reply
            timeout_s = float(argv[-1])  # type: ignore[arg-type]  # the model has validated it
            if timeout_s > 0:
                world.at(start + timeout_s * 1000.0, lambda: self.timeout_blocked(conn))
        elif name != "WAIT" or not self._wait_alone(conn, argv, start, on_reply):
            conn.reply(done, outcome.reply, on_reply)
        for effect in outcome.effects:
            target = self.connections.get(effect.client)
            if target is None:
                continue
            if isinstance(effect, Delivery):
                target.push(done, effect.channel, effect.message)
            elif isinstance(effect, Served):
                served = self.blocked.pop(effect.client, None)
                if served is not None:
                    target.reply(done, effect.reply, served)

    def trace(self) -> str:
        """Digest of every command run: start time, client, argv and reply."""
        return trace_digest(self.log)

    def _wait_alone(self, conn: Connection, argv: tuple[object, ...], start: float,
                    on_reply: ReplyFn) -> bool:
        """``WAIT n timeout`` with n > 0 on a node no replica follows: it blocks
        for the timeout (0: until the connection closes), then answers 0, as
        Redis does. False: the model's answer stands now (an error, or n <= 0)."""
        if len(argv) != 3:
            return False
        args = wait_args([encode(a) for a in argv])
        if isinstance(args, ReplyError) or args[0] <= 0:
            return False
        client = conn.client_id
        self.blocked[client] = on_reply
        if args[1] > 0:
            def timeout() -> None:
                if self.blocked.get(client) is on_reply:
                    del self.blocked[client]
                    conn.reply(self.world.now, 0, on_reply)
            self.world.at(start + args[1], timeout)
        return True

    def timeout_blocked(self, conn: Connection) -> None:
        """A BLPOP's timeout: the client gets nil if it is still blocked."""
        on_reply = self.blocked.pop(conn.client_id, None)
        if on_reply is not None and self.model.unblock(conn.client_id):
            conn.reply(self.world.now, None, on_reply)

    def disconnect(self, client_id: int) -> None:
        self.connections.pop(client_id, None)
        self.blocked.pop(client_id, None)
        self.model.disconnect(client_id)
