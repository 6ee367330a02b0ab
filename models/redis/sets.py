"""Set commands: SADD, SREM, SISMEMBER, SMISMEMBER, SMEMBERS, SCARD.

A handler's own bookkeeping (a "users served" set) uses them; without them the
model would answer "unknown command" where real Redis runs the command.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from models.redis.command import Command, table
from models.redis.reply import WRONGTYPE, Reply, ReplyError, SetReply

if TYPE_CHECKING:
    from models.redis.model import RedisModel


class RedisSet:
    """A set value, insertion ordered (a dict's keys).

    Not a Python ``set``: its iteration order of bytes follows PYTHONHASHSEED,
    and SMEMBERS (so a trace) must be the same in every process. Real Redis's
    order is an encoding detail (intset sorted, listpack insertion order,
    hashtable arbitrary); the model keeps insertion order."""

    __slots__ = ("members",)

    def __init__(self, members: Iterable[bytes] = ()) -> None:
        self.members: dict[bytes, None] = dict.fromkeys(members)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.members)

    def __len__(self) -> int:
        return len(self.members)

    def __contains__(self, member: object) -> bool:
        return member in self.members

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RedisSet) and self.members.keys() == other.members.keys()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"RedisSet({list(self.members)!r})"

    def copy(self) -> RedisSet:
        return RedisSet(self.members)


def _set(m: RedisModel, key: bytes) -> RedisSet | ReplyError | None:
    value = m.ks.get(key)
    if value is None or isinstance(value, RedisSet):
        return value
    return WRONGTYPE


def _present(m: RedisModel, key: bytes) -> RedisSet | ReplyError | int:
    """The set at ``key``, WRONGTYPE, or 0: what a missing key counts as for
    SREM, SISMEMBER and SCARD."""
    s = _set(m, key)
    return 0 if s is None else s


def cmd_sadd(m: RedisModel, argv: list[bytes]) -> Reply:
    s = _set(m, argv[1])
    if isinstance(s, ReplyError):
        return s
    if s is None:
        s = RedisSet()
        m.ks.put(argv[1], s)
    members = s.members
    added = 0
    for member in argv[2:]:
        if member not in members:
            members[member] = None
            added += 1
    if added:
        m.touch(argv[1])
    return added


def cmd_srem(m: RedisModel, argv: list[bytes]) -> Reply:
    s = _present(m, argv[1])
    if not isinstance(s, RedisSet):
        return s
    removed = m.ks.remove_entries(argv[1], s.members, argv[2:])
    if removed:
        m.touch(argv[1])
    return removed


def cmd_sismember(m: RedisModel, argv: list[bytes]) -> Reply:
    s = _present(m, argv[1])
    if not isinstance(s, RedisSet):
        return s
    return int(argv[2] in s.members)


def cmd_smismember(m: RedisModel, argv: list[bytes]) -> Reply:
    s = _set(m, argv[1])
    if isinstance(s, ReplyError):
        return s
    members = s.members if s is not None else {}
    return [int(member in members) for member in argv[2:]]


def cmd_smembers(m: RedisModel, argv: list[bytes]) -> Reply:
    s = _set(m, argv[1])
    if isinstance(s, ReplyError):
        return s
    return SetReply(s.members if s is not None else ())


def cmd_scard(m: RedisModel, argv: list[bytes]) -> Reply:
    s = _present(m, argv[1])
    if not isinstance(s, RedisSet):
        return s
    return len(s.members)


COMMANDS = table(
    Command("sadd", cmd_sadd, -3),
    Command("srem", cmd_srem, -3),
    Command("sismember", cmd_sismember, 3),
    Command("smismember", cmd_smismember, -3),
    Command("smembers", cmd_smembers, 2),
    Command("scard", cmd_scard, 2),
)
