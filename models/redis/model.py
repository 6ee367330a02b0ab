"""Redis as a pure state machine: ``execute(argv, now_ms, client) -> Outcome``.

No SimPy, no sockets, no wall clock: time is an argument, and everything a
command causes beyond its own reply (a pub/sub message to deliver, a blocked
BLPOP client to serve) comes back as data in the outcome. A script runs
inside one ``execute`` call, so it is atomic at one instant by construction.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from models.frozen import quick_init
from models.redis import hashes, keys, lists, pubsub, sets, strings, transactions
from models.redis.command import Command, table
from models.redis.dialect import Dialect, dialect_for
from models.redis.keyspace import Keyspace
from models.redis.number import encode
from models.redis.reply import BLOCKED, QUEUED, Reply, ReplyError, wrong_arity
from models.redis.scripting import ScriptEngine
from models.redis.transactions import Transaction, exec_abort


@dataclass(frozen=True, slots=True)
class Delivery:
    """A pub/sub message the server pushes to ``client`` on its connection."""

    client: int
    channel: bytes
    message: bytes

    @property
    def push(self) -> list[bytes]:
        """The message as the subscriber reads it (RESP2 array)."""
        return [b"message", self.channel, self.message]


@dataclass(frozen=True, slots=True)
class Served:
    """A client blocked in BLPOP that a push has now served: its late reply."""

    client: int
    reply: list[bytes]


Effect = Delivery | Served


@quick_init  # one per command
@dataclass(frozen=True, slots=True)
class Outcome:
    """The reply to the caller plus the effects on other clients' connections."""

    reply: Reply
    effects: tuple[Effect, ...] = ()


def _cmd_eval(m: RedisModel, argv: list[bytes]) -> Reply:
    return m.scripts.eval(argv, m)


def _cmd_evalsha(m: RedisModel, argv: list[bytes]) -> Reply:
    return m.scripts.evalsha(argv, m)


def _cmd_script(m: RedisModel, argv: list[bytes]) -> Reply:
    return m.scripts.script(argv)


_SCRIPTING = table(
    Command("eval", _cmd_eval, -3, noscript=True),
    Command("evalsha", _cmd_evalsha, -3, noscript=True),
    Command("script", _cmd_script, -2, noscript=True,
            subcommands={b"load": 3, b"exists": -3, b"flush": -2, b"help": 2, b"kill": 2}),
)


def command_table(dialect: Dialect) -> dict[bytes, Command]:
    """Every command the model knows, for one dialect."""
    out: dict[bytes, Command] = {}
    for part in (
        strings.COMMANDS,
        keys.commands(dialect.modern),
        hashes.COMMANDS,
        lists.COMMANDS,
        sets.COMMANDS,
        pubsub.COMMANDS,
        _SCRIPTING,
        transactions.COMMANDS,
    ):
        out.update(part)
    return out


_TABLES: dict[bool, Mapping[bytes, Command]] = {}


def _shared_table(dialect: Dialect) -> Mapping[bytes, Command]:
    """``command_table``, built once per dialect and shared by every model: a run
    builds a fresh model, and the table cost a tenth of its setup. Read-only for
    real (a mapping proxy): a variant model (a test's mutant) replaces its own
    ``commands`` with a copy and can never change every other model's."""
    table_ = _TABLES.get(dialect.modern)
    if table_ is None:
        table_ = _TABLES[dialect.modern] = MappingProxyType(command_table(dialect))
    return table_


class RedisModel:
    """One Redis server (one database) as a deterministic state machine.

    ``client`` ids name connections; they matter for pub/sub, BLPOP,
    MULTI/WATCH and CLIENT ID. ``version`` picks the dialect (error texts,
    EXPIRE options) to match.
    """

    def __init__(self, version: tuple[int, ...] = (7, 0)) -> None:
        self.dialect = dialect_for(version)
        self.ks = Keyspace()
        self.pubsub = pubsub.PubSub()
        self._scripts: ScriptEngine | None = None  # taken from the pool on first use
        self.commands: Mapping[bytes, Command] = _shared_table(self.dialect)
        self.client = 0
        self.in_script = False
        # None, or a list that collects every command a script runs (MONITOR's
        # ``[0 lua]`` lines); off by default, so it costs one test per call.
        self.script_log: list[tuple[bytes, ...]] | None = None
        self._effects: list[Effect] = []
        self._waiters: dict[bytes, deque[int]] = {}
        self._blocked: dict[int, tuple[bytes, ...]] = {}
        self._ready: dict[bytes, None] = {}
        # per connection: MULTI queues, watched keys (with the deadline each had
        # when watched), the clients whose WATCH a write broke, CLIENT ids/names
        self.transactions: dict[int, Transaction] = {}
        self.in_exec = False
        self._watched: dict[int, dict[bytes, int | None]] = {}
        self._watchers: dict[bytes, dict[int, None]] = {}
        self._broken: set[int] = set()
        self._client_ids: dict[int, int] = {}
        self._next_client_id = 1
        self.client_names: dict[int, bytes] = {}

    @property
    def scripts(self) -> ScriptEngine:
        """The Lua side, built (or taken from the pool) when a script first runs."""
        engine = self._scripts
        if engine is None:
            engine = self._scripts = ScriptEngine.acquire(self.dialect.version)
        return engine

    @scripts.setter
    def scripts(self, engine: ScriptEngine) -> None:
        """Share another model's engine (databases of one server share scripts);
        a shared engine is never pooled, so no run can find it in use."""
        engine.keep_out_of_pool()
        self._scripts = engine

    def release_scripts(self) -> None:
        """Give the Lua engine back for another run; a later script takes a clean one."""
        if self._scripts is not None:
            engine, self._scripts = self._scripts, None
            engine.release()

    # -- the entry point -------------------------------------------------
    def execute(self, argv: Sequence[object], now_ms: float, client: int = 0) -> Outcome:
        """Run one command from ``client`` at ``now_ms`` (Redis's ms clock)."""
        args = [a if type(a) is bytes else a.encode() if type(a) is str else encode(a)
                for a in argv]
        self.ks.now = int(now_ms)
        self.client = client
        self._effects = []
        reply = self._dispatch(args)
        if self._ready:
            self._serve_ready()
        effects = tuple(self._effects) if self._effects else ()
        return Outcome(reply, effects)

    def reply(self, argv: Sequence[object], now_ms: float, client: int = 0) -> Reply:
        """Just the reply, for callers that expect no effects."""
        return self.execute(argv, now_ms, client).reply

    def _dispatch(self, argv: list[bytes]) -> Reply:
        if not argv:
            return None
        name = argv[0].lower()
        cmd = self.commands.get(name)
        if cmd is None:
            return self._refuse(None, self.dialect.unknown_command(argv))
        arity = cmd.arity  # Command.arity_ok, inlined: every command asks
        if not (len(argv) == arity if arity > 0 else len(argv) >= -arity):
            return self._refuse(cmd, wrong_arity(cmd.name))
        if not cmd.pubsub and self.pubsub.by_client.get(self.client):  # channel_count > 0
            return self._refuse(cmd, self.dialect.subscribed_context(cmd.name))
        if self.transactions and self.client in self.transactions and not cmd.immediate:
            return self._queue(cmd, argv)
        return cmd.handler(self, argv)

    def _refuse(self, cmd: Command | None, error: ReplyError) -> ReplyError:
        """``rejectCommand``: flags the client's transaction; a refused EXEC ends it."""
        if cmd is not None and cmd.name == "exec":
            self.transactions.pop(self.client, None)
            self.unwatch(self.client)
            return exec_abort(error)
        tx = self.transactions.get(self.client)
        if tx is not None:
            tx.flagged = True
        return error

    def _queue(self, cmd: Command, argv: list[bytes]) -> Reply:
        """Inside MULTI: 7.x judges subcommands now, everything else runs at EXEC."""
        if self.dialect.modern and cmd.subcommands is not None:
            error = cmd.subcommand_error(argv)
            if error is not None:
                return self._refuse(cmd, error)
        self.transactions[self.client].queue.append((cmd, argv))
        return QUEUED

    # -- the ScriptHost protocol: commands called from a running script ----
    def classify(self, argv: list[bytes]) -> str:
        """How Redis would judge ``redis.call(*argv)`` before running it."""
        cmd = self.commands.get(argv[0].lower())
        if cmd is None:
            return "unknown"
        if not cmd.arity_ok(len(argv)):
            return "arity"
        if cmd.noscript:
            if self.dialect.modern and cmd.subcommand_error(argv) is not None:
                return "unknown" if argv[1].lower() not in cmd.subcommands else "arity"  # type: ignore[operator]
            return "denied"
        return "ok"

    def call(self, argv: list[bytes]) -> Reply:
        """Run a command from inside a script, at the script's instant."""
        cmd = self.commands[argv[0].lower()]
        if self.script_log is not None:
            self.script_log.append(tuple(argv))
        self.in_script = True
        try:
            return cmd.handler(self, argv)
        finally:
            self.in_script = False

    # -- effects on other connections ------------------------------------
    def deliver(self, client: int, channel: bytes, message: bytes) -> None:
        self._effects.append(Delivery(client, channel, message))

    def block(self, keys_: list[bytes]) -> None:
        """Park the current client on ``keys_`` until a push or ``unblock``."""
        self._blocked[self.client] = tuple(keys_)
        for key in keys_:
            self._waiters.setdefault(key, deque()).append(self.client)

    def signal_key(self, key: bytes) -> None:
        if key in self._waiters:
            self._ready[key] = None

    def unblock(self, client: int) -> bool:
        """A blocked client's timeout fired: forget it; True if it was blocked."""
        keys_ = self._blocked.pop(client, None)
        if keys_ is None:
            return False
        for key in keys_:
            waiters = self._waiters.get(key)
            if waiters is not None:
                waiters.remove(client)
                if not waiters:
                    del self._waiters[key]
        return True

    def is_blocked(self, client: int) -> bool:
        return client in self._blocked

    def disconnect(self, client: int) -> None:
        """The connection closed (crash): drop its subscriptions, blocks,
        transaction, watches and name; a later command is a new connection."""
        self.unblock(client)
        self.pubsub.drop_client(client)
        self.transactions.pop(client, None)
        self.unwatch(client)
        self._client_ids.pop(client, None)
        self.client_names.pop(client, None)

    # -- connections: CLIENT ID ------------------------------------------------
    def connect(self, client: int) -> int:
        """A new connection: it takes the next CLIENT ID (Redis numbers
        connections in accept order). Optional: a client never announced is
        numbered when it first asks for its id."""
        self._client_ids[client] = self._next_client_id
        self._next_client_id += 1
        return self._client_ids[client]

    def connected_ids(self) -> list[int]:
        """The ids of the connections numbered so far (and not closed)."""
        return list(self._client_ids.values())

    def client_id(self, client: int) -> int:
        cid = self._client_ids.get(client)
        return self.connect(client) if cid is None else cid

    # -- WATCH -----------------------------------------------------------------
    def touch(self, key: bytes) -> None:
        """``signalModifiedKey``: a write changed ``key``; its watchers' EXEC fails."""
        if self._watchers:
            watchers = self._watchers.get(key)
            if watchers:
                self._broken.update(watchers)

    def touch_live_watched(self) -> None:
        """FLUSHALL: every watched key that exists now is modified."""
        for key in list(self._watchers):
            if self.ks.get(key) is not None:
                self._broken.update(self._watchers[key])

    def watch(self, client: int, key: bytes) -> None:
        """Watch ``key``, remembering its deadline: passing it breaks the watch."""
        mine = self._watched.setdefault(client, {})
        if key in mine:
            return
        mine[key] = self.ks.deadline(key) if self.ks.get(key) is not None else None
        self._watchers.setdefault(key, {})[client] = None

    def unwatch(self, client: int) -> None:
        """UNWATCH, and the end of every transaction: forget keys and breakage."""
        self._broken.discard(client)
        mine = self._watched.pop(client, None)
        if not mine:
            return
        for key in mine:
            watchers = self._watchers[key]
            del watchers[client]
            if not watchers:
                del self._watchers[key]

    def watch_broken(self, client: int) -> bool:
        """A watched key was touched, or expired while watched (``isWatchedKeyExpired``)."""
        if client in self._broken:
            return True
        now = self.ks.now
        return any(d is not None and now > d for d in self._watched.get(client, {}).values())

    def in_multi(self, client: int) -> bool:
        return client in self.transactions

    def _serve_ready(self) -> None:
        """Serve blocked clients FIFO per key, as Redis does after a command."""
        ready, self._ready = self._ready, {}
        for key in ready:
            while key in self._waiters:
                value = self.ks.get(key)
                if not isinstance(value, deque) or not value:
                    break
                client = self._waiters[key][0]
                self.unblock(client)
                item = value.popleft()
                if not value:
                    self.ks.delete(key)
                self._effects.append(Served(client, [key, item]))

    # -- whole-server operations -------------------------------------------
    def flush(self) -> None:
        """Forget every key and script (a restart without persistence keeps
        nothing); connections and their subscriptions are the caller's."""
        self.ks.clear()
        self.release_scripts()  # a restarted server starts a new Lua state


__all__ = ["BLOCKED", "Delivery", "Outcome", "RedisModel", "Served"]
