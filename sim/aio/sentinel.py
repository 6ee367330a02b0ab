"""Simulated Sentinel endpoints: what a handler's Sentinel client asks, answered from the world.

On ``sentinel:N`` the scenario's Sentinels listen (``sentinel1``.. on port
26379 and loopback ports 26379, 26380, ...; ``sentinel`` names the first), so
redis-py's ``Sentinel([("sentinel1", 26379), ...]).master_for("mymaster")``, async
or sync, reaches them unchanged. They speak the part of the Sentinel protocol
client libraries use: ``SENTINEL MASTERS``/``MASTER``/``GET-MASTER-ADDR-BY-NAME``
(redis-py discovers the master with ``MASTERS``), ``SLAVES``/``REPLICAS``,
``SENTINELS``, ``PING``, ``CLIENT ...`` and ``HELLO`` (answered by the wire as a
Sentinel answers it). The master each names is the one its counterpart among the
world's Sentinels (``sim.world.sentinel``) names now: after a failover the promoted
node, unless that Sentinel is cut from the ones that know of it.

The world's Sentinel state is read in one place, ``view``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from models.redis.reply import OK, PONG, ReplyError
from models.topology import SENTINEL_SERVICE

if TYPE_CHECKING:
    from sim.world.redis_node import RedisNode
    from sim.world.world import World

MASTER_NAME = SENTINEL_SERVICE
PORT = 26379
NODE_PORT = 6379  # the master and replicas are named by host name on this port


@dataclass(frozen=True)
class NodeState:
    """One Redis node as a Sentinel describes it."""

    name: str
    up: bool
    s_down: bool  # down for at least down-after-milliseconds (a partition: the world's
    # Sentinel fails over at down-after instead, and the node is no longer the master)
    repl_offset: int


@dataclass(frozen=True)
class SentinelView:
    """What one Sentinel believes now: who is master, its replicas, how many failovers."""

    master: NodeState
    replicas: tuple[NodeState, ...]
    epoch: int
    down_after_ms: float
    sentinels: int  # how many Sentinels monitor it
    quorum: int


def view(world: World, index: int) -> SentinelView:
    """Sentinel ``index``'s view of the deployment: the only reader of ``world.sentinel``.

    The master is the one that Sentinel names now (the newest configuration it
    reaches: a Sentinel cut from the leader still names the old master)."""
    sentinel = world.sentinel
    assert sentinel is not None, "Sentinel endpoints exist only on sentinel:N"
    now = world.env.now
    epoch, master = sentinel.says(sentinel.names[index])

    def state(name: str) -> NodeState:
        node: Any = world.nodes[name]
        since = getattr(node, "down_since", None)
        gone = not node.up and since is not None and now - since >= sentinel.down_after_ms
        return NodeState(name, bool(node.up), gone, int(getattr(node, "repl_offset", 0)))

    replicas = tuple(state(n) for n in world.nodes if n != master)
    return SentinelView(state(master), replicas, epoch, sentinel.down_after_ms,
                        len(sentinel.names), sentinel.quorum)


def master_node(world: World) -> RedisNode:
    """The node the world's Sentinel names master now."""
    return world.nodes[view(world, 0).master.name]


class Following:
    """What the world's Sentinel reads of an app server whose own client library asks
    the Sentinels (``server.cmd.redis``): always the master Sentinel names, so the
    world's Sentinel never moves the process's connections; its library does."""

    def __init__(self, world: World) -> None:
        self._world = world

    @property
    def redis(self) -> RedisNode:
        return master_node(self._world)


def addresses(index: int) -> list[tuple[str, int]]:
    """Where Sentinel ``index`` (0-based) listens."""
    names = [(f"sentinel{index + 1}", PORT), *((h, PORT + index)
                                               for h in ("localhost", "127.0.0.1"))]
    return [("sentinel", PORT), *names] if index == 0 else names


def client_addresses(count: int) -> list[tuple[str, int]]:
    """The ``count`` Sentinels as an app's configuration lists them."""
    return [(f"sentinel{i + 1}", PORT) for i in range(count)]


class SentinelEndpoint:
    """One simulated Sentinel process, as ``SimSocket`` talks to a node: ``execute``
    answers each command after its service time, in arrival order."""

    mode = "sentinel"
    up = True

    def __init__(self, world: World, index: int) -> None:
        self.world = world
        self.index = index
        self.name = f"sentinel{index + 1}"
        # the faults that cut it: every Sentinel's (sentinel, appN/sentinel) and its own
        self.link_ends = ("sentinel", self.name)
        self.version = world.scenario.redis_version
        self.service_ms = world.scenario.redis_service_ms
        self.busy_until = 0.0
        self.connections: dict[int, Any] = {}
        self.commands = 0

    def execute(self, conn: Any, argv: tuple[object, ...], on_reply: Any,
                request: str | None = None) -> None:
        now = self.world.env.now
        start = max(now, self.busy_until)
        done = self.busy_until = start + self.service_ms
        self.commands += 1
        conn.reply(done, self.answer([_word(a) for a in argv]), on_reply)

    def disconnect(self, client_id: int) -> None:
        self.connections.pop(client_id, None)

    # -- the protocol ---------------------------------------------------------------------
    def answer(self, words: list[str]) -> object:
        head = words[0].upper() if words else ""
        if head == "PING":
            return PONG if len(words) == 1 else words[1].encode()
        if head == "CLIENT":  # SETINFO, SETNAME...: accepted, as a Sentinel does
            return OK
        if head != "SENTINEL" or len(words) < 2:
            return ReplyError(f"ERR unknown command '{words[0] if words else ''}', "
                              "with args beginning with: ")
        sub = words[1].upper()
        v = view(self.world, self.index)
        if sub == "MASTERS":
            return [self._master(v)]
        if len(words) < 3:
            return ReplyError(f"ERR wrong number of arguments for 'sentinel|{sub.lower()}' "
                              "command")
        if sub == "GET-MASTER-ADDR-BY-NAME":
            if words[2] != MASTER_NAME:
                return None
            return [v.master.name.encode(), b"%d" % NODE_PORT]
        if words[2] != MASTER_NAME:
            return ReplyError("ERR No such master with that name")
        if sub == "MASTER":
            return self._master(v)
        if sub in ("SLAVES", "REPLICAS"):
            return [self._replica(v, r) for r in v.replicas]
        if sub == "SENTINELS":
            return [self._peer(i) for i in range(v.sentinels) if i != self.index]
        return ReplyError(f"ERR Unknown sentinel subcommand '{words[1]}'")

    def _master(self, v: SentinelView) -> dict[bytes, bytes]:
        m = v.master
        flags = "master" + (",s_down,o_down" if m.s_down else "")
        return _fields(name=MASTER_NAME, ip=m.name, port=NODE_PORT, runid=_runid(m.name),
                       flags=flags, **{"role-reported": "master",
                                       "down-after-milliseconds": int(v.down_after_ms),
                                       "config-epoch": v.epoch,
                                       "num-slaves": len(v.replicas),
                                       "num-other-sentinels": v.sentinels - 1,
                                       "quorum": v.quorum})

    def _replica(self, v: SentinelView, r: NodeState) -> dict[bytes, bytes]:
        flags = "slave" + (",s_down" if r.s_down else "")
        return _fields(name=f"{r.name}:{NODE_PORT}", ip=r.name, port=NODE_PORT,
                       runid=_runid(r.name), flags=flags,
                       **{"role-reported": "slave",
                          "master-link-status": "ok" if r.up else "err",
                          "master-host": v.master.name, "master-port": NODE_PORT,
                          "slave-priority": 100, "slave-repl-offset": r.repl_offset})

    def _peer(self, i: int) -> dict[bytes, bytes]:
        runid = f"{i + 1:040x}"
        return _fields(name=runid, ip=f"sentinel{i + 1}", port=PORT, runid=runid,
                       flags="sentinel")


def _fields(**values: object) -> dict[bytes, bytes]:
    """A Sentinel state reply: every value a bulk string, as Sentinel sends them."""
    return {k.encode(): str(v).encode() for k, v in values.items()}


def _runid(name: str) -> str:
    return name.encode().hex().ljust(40, "0")[:40]


def _word(arg: object) -> str:
    return arg.decode(errors="replace") if isinstance(arg, bytes) else str(arg)
