"""Hash commands, as Redisson's lock layout (and handlers' own records) need them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from models.redis.command import Command, table
from models.redis.number import add_would_overflow, parse_int
from models.redis.reply import NOT_INTEGER, OVERFLOW, WRONGTYPE, Reply, ReplyError, wrong_arity

if TYPE_CHECKING:
    from models.redis.model import RedisModel


def _hash(m: RedisModel, key: bytes) -> dict[bytes, bytes] | ReplyError | None:
    value = m.ks.get(key)
    if value is None or isinstance(value, dict):
        return value
    return WRONGTYPE


def cmd_hset(m: RedisModel, argv: list[bytes]) -> Reply:
    if len(argv) % 2:
        return wrong_arity("hset")
    h = _hash(m, argv[1])
    if isinstance(h, ReplyError):
        return h
    if h is None:
        h = {}
        m.ks.put(argv[1], h)
    added = 0
    for i in range(2, len(argv), 2):
        if argv[i] not in h:
            added += 1
        h[argv[i]] = argv[i + 1]
    m.touch(argv[1])
    return added


def cmd_hget(m: RedisModel, argv: list[bytes]) -> Reply:
    h = _hash(m, argv[1])
    if h is None or isinstance(h, ReplyError):
        return h
    return h.get(argv[2])


def cmd_hmget(m: RedisModel, argv: list[bytes]) -> Reply:
    h = _hash(m, argv[1])
    if isinstance(h, ReplyError):
        return h
    if h is None:
        return [None] * (len(argv) - 2)
    return [h.get(field) for field in argv[2:]]


def cmd_hsetnx(m: RedisModel, argv: list[bytes]) -> Reply:
    h = _hash(m, argv[1])
    if isinstance(h, ReplyError):
        return h
    if h is not None and argv[2] in h:
        return 0
    if h is None:
        h = {}
        m.ks.put(argv[1], h)
    h[argv[2]] = argv[3]
    m.touch(argv[1])
    return 1


def cmd_hdel(m: RedisModel, argv: list[bytes]) -> Reply:
    h = _hash(m, argv[1])
    if h is None:
        return 0
    if isinstance(h, ReplyError):
        return h
    removed = m.ks.remove_entries(argv[1], h, argv[2:])
    if removed:
        m.touch(argv[1])
    return removed


def cmd_hexists(m: RedisModel, argv: list[bytes]) -> Reply:
    h = _hash(m, argv[1])
    if h is None:
        return 0
    if isinstance(h, ReplyError):
        return h
    return int(argv[2] in h)


def cmd_hincrby(m: RedisModel, argv: list[bytes]) -> Reply:
    incr = parse_int(argv[3])
    if incr is None:
        return NOT_INTEGER
    h = _hash(m, argv[1])
    if isinstance(h, ReplyError):
        return h
    value = 0
    if h is not None and argv[2] in h:
        parsed = parse_int(h[argv[2]])
        if parsed is None:
            return ReplyError("ERR hash value is not an integer")
        value = parsed
    if add_would_overflow(value, incr):
        return OVERFLOW
    value += incr
    if h is None:
        h = {}
        m.ks.put(argv[1], h)
    h[argv[2]] = str(value).encode()
    m.touch(argv[1])
    return value


def cmd_hgetall(m: RedisModel, argv: list[bytes]) -> Reply:
    h = _hash(m, argv[1])
    if h is None:
        return []
    if isinstance(h, ReplyError):
        return h
    out: list[bytes] = []
    for field, value in h.items():
        out.append(field)
        out.append(value)
    return out


def cmd_hlen(m: RedisModel, argv: list[bytes]) -> Reply:
    h = _hash(m, argv[1])
    if h is None:
        return 0
    if isinstance(h, ReplyError):
        return h
    return len(h)


COMMANDS = table(
    Command("hset", cmd_hset, -4),
    Command("hget", cmd_hget, 3),
    Command("hmget", cmd_hmget, -3),
    Command("hsetnx", cmd_hsetnx, 4),
    Command("hdel", cmd_hdel, -3),
    Command("hexists", cmd_hexists, 3),
    Command("hincrby", cmd_hincrby, 4),
    Command("hgetall", cmd_hgetall, 2),
    Command("hlen", cmd_hlen, 2),
)
