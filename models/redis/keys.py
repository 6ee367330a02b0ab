"""Generic key commands: DEL, UNLINK, EXISTS, TYPE, the EXPIRE family, TTL, the
EXPIRETIME pair (7.0), PERSIST, TIME."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from models.redis.command import Command, table
from models.redis.number import LLONG_MAX, LLONG_MIN, parse_int
from models.redis.reply import NOT_INTEGER, OK, PONG, Reply, ReplyError, Status, wrong_arity
from models.redis.sets import RedisSet

if TYPE_CHECKING:
    from models.redis.model import RedisModel

_EXPIRE_FLAGS = (b"NX", b"XX", b"GT", b"LT")


def cmd_del(m: RedisModel, argv: list[bytes]) -> Reply:
    removed = 0
    for key in argv[1:]:
        if m.ks.delete(key):
            m.touch(key)
            removed += 1
    return removed


def cmd_exists(m: RedisModel, argv: list[bytes]) -> Reply:
    return sum(1 for key in argv[1:] if m.ks.get(key) is not None)


def cmd_type(m: RedisModel, argv: list[bytes]) -> Reply:
    value = m.ks.get(argv[1])
    if value is None:
        return Status(b"none")
    if isinstance(value, bytes):
        return Status(b"string")
    if isinstance(value, deque):
        return Status(b"list")
    if isinstance(value, RedisSet):
        return Status(b"set")
    return Status(b"hash")


def _expire_flags(argv: list[bytes]) -> set[bytes] | ReplyError:
    """``parseExtendedExpireArgumentsOrReply`` (Redis 7.0+)."""
    flags: set[bytes] = set()
    for raw in argv[3:]:
        opt = raw.upper()
        if opt not in _EXPIRE_FLAGS:
            return ReplyError(f"ERR Unsupported option {raw.decode(errors='replace')}")
        flags.add(opt)
    if b"NX" in flags and flags & {b"XX", b"GT", b"LT"}:
        return ReplyError("ERR NX and XX, GT or LT options at the same time are not compatible")
    if b"GT" in flags and b"LT" in flags:
        return ReplyError("ERR GT and LT options at the same time are not compatible")
    return flags


def _expire(m: RedisModel, argv: list[bytes], seconds: bool, absolute: bool) -> Reply:
    """``expireGenericCommand`` for both dialects, C overflow included."""
    name = argv[0].decode().lower()
    flags: set[bytes] = set()
    if m.dialect.expire_takes_options:
        parsed = _expire_flags(argv)
        if isinstance(parsed, ReplyError):
            return parsed
        flags = parsed
    when = parse_int(argv[2])
    if when is None:
        return NOT_INTEGER
    base = 0 if absolute else m.ks.now
    # Overflow checks as in 7.0 and in 6.2.7+ (backported), which all report
    # an invalid expire time instead of wrapping.
    if seconds:
        if when > LLONG_MAX // 1000 or when < -(-LLONG_MIN // 1000):
            return m.dialect.invalid_expire(name)
        when *= 1000
    if when > LLONG_MAX - base:
        return m.dialect.invalid_expire(name)
    when += base
    key = argv[1]
    if m.ks.get(key) is None:
        return 0
    if flags:
        current = m.ks.deadline(key)
        if b"NX" in flags and current is not None:
            return 0
        if b"XX" in flags and current is None:
            return 0
        if b"GT" in flags and (current is None or when <= current):
            return 0
        if b"LT" in flags and current is not None and when >= current:
            return 0
    if when <= m.ks.now:  # checkAlreadyExpired: the key goes at once
        m.ks.delete(key)
    else:
        m.ks.expire_at(key, when)
    m.touch(key)
    return 1


def cmd_expire(m: RedisModel, argv: list[bytes]) -> Reply:
    return _expire(m, argv, seconds=True, absolute=False)


def cmd_pexpire(m: RedisModel, argv: list[bytes]) -> Reply:
    return _expire(m, argv, seconds=False, absolute=False)


def cmd_expireat(m: RedisModel, argv: list[bytes]) -> Reply:
    return _expire(m, argv, seconds=True, absolute=True)


def cmd_pexpireat(m: RedisModel, argv: list[bytes]) -> Reply:
    return _expire(m, argv, seconds=False, absolute=True)


def _ttl(m: RedisModel, key: bytes, ms: bool) -> int:
    if m.ks.get(key) is None:
        return -2
    deadline = m.ks.deadline(key)
    if deadline is None:
        return -1
    left = max(deadline - m.ks.now, 0)
    return left if ms else (left + 500) // 1000


def _expiretime(m: RedisModel, key: bytes, ms: bool) -> int:
    """EXPIRETIME/PEXPIRETIME (7.0): the absolute deadline, -1 without one, -2 no key."""
    if m.ks.get(key) is None:
        return -2
    deadline = m.ks.deadline(key)
    if deadline is None:
        return -1
    return max(deadline, 0) if ms else (max(deadline, 0) + 500) // 1000


def cmd_expiretime(m: RedisModel, argv: list[bytes]) -> Reply:
    return _expiretime(m, argv[1], ms=False)


def cmd_pexpiretime(m: RedisModel, argv: list[bytes]) -> Reply:
    return _expiretime(m, argv[1], ms=True)


def cmd_time(m: RedisModel, argv: list[bytes]) -> Reply:
    """The node's own clock, as Redis reads it (a lock that asks Redis for the time
    gets the node's clock, jumps and all); the model keeps milliseconds."""
    now = int(m.ks.now)
    return [str(now // 1000).encode(), str(now % 1000 * 1000).encode()]


def cmd_ttl(m: RedisModel, argv: list[bytes]) -> Reply:
    return _ttl(m, argv[1], ms=False)


def cmd_pttl(m: RedisModel, argv: list[bytes]) -> Reply:
    return _ttl(m, argv[1], ms=True)


def cmd_persist(m: RedisModel, argv: list[bytes]) -> Reply:
    if m.ks.get(argv[1]) is None or not m.ks.persist(argv[1]):
        return 0
    m.touch(argv[1])
    return 1


def cmd_flushall(m: RedisModel, argv: list[bytes]) -> Reply:
    if len(argv) > 2 or (len(argv) == 2 and argv[1].upper() not in (b"ASYNC", b"SYNC")):
        return ReplyError("ERR syntax error")
    m.touch_live_watched()
    m.ks.clear()
    return OK


def cmd_ping(m: RedisModel, argv: list[bytes]) -> Reply:
    if len(argv) > 2:
        return wrong_arity("ping")
    if m.pubsub.channel_count(m.client):
        return [b"pong", argv[1] if len(argv) == 2 else b""]
    return argv[1] if len(argv) == 2 else PONG


def wait_args(argv: list[bytes]) -> tuple[int, int] | ReplyError:
    """``WAIT numreplicas timeout``'s two integers (timeout in ms, 0 forever), or Redis's error."""
    needed = parse_int(argv[1])
    if needed is None:
        return NOT_INTEGER
    timeout = parse_int(argv[2])
    if timeout is None:
        return ReplyError("ERR timeout is not an integer or out of range")
    if timeout < 0:
        return ReplyError("ERR timeout is negative")
    return needed, timeout


def cmd_wait(m: RedisModel, argv: list[bytes]) -> Reply:
    """A server on its own: no replica acknowledges, so the count is 0.

    How long the answer takes (at once when ``numreplicas`` <= 0 or inside
    EXEC, else after the timeout) is the driver's: the model has no clock of
    its own to block on."""
    args = wait_args(argv)
    return args if isinstance(args, ReplyError) else 0


def commands(modern: bool) -> dict[bytes, Command]:
    expire_arity = -3 if modern else 3
    return table(
        Command("del", cmd_del, -2),
        Command("unlink", cmd_del, -2),  # the same keys gone; only the freeing is lazy
        Command("exists", cmd_exists, -2),
        Command("type", cmd_type, 2),
        Command("expire", cmd_expire, expire_arity),
        Command("pexpire", cmd_pexpire, expire_arity),
        Command("expireat", cmd_expireat, expire_arity),
        Command("pexpireat", cmd_pexpireat, expire_arity),
        Command("ttl", cmd_ttl, 2),
        Command("pttl", cmd_pttl, 2),
        Command("persist", cmd_persist, 2),
        Command("flushall", cmd_flushall, -1),
        Command("ping", cmd_ping, -1, pubsub=True),
        Command("wait", cmd_wait, 3, noscript=True),
        Command("time", cmd_time, 1),
        *((Command("expiretime", cmd_expiretime, 2),
           Command("pexpiretime", cmd_pexpiretime, 2)) if modern else ()),
    )
