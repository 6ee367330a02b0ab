"""String and integer commands: SET (all options), SETNX, SETEX, PSETEX, GET, GETDEL,
GETSET, GETEX, MGET, MSET, MSETNX, INCR/DECR family. Every write that changes a key
calls ``m.touch`` (WATCH)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from models.redis.command import Command, table
from models.redis.number import LLONG_MAX, LLONG_MIN, add_would_overflow, parse_int
from models.redis.reply import NOT_INTEGER, OK, OVERFLOW, SYNTAX, WRONGTYPE, Reply, ReplyError

if TYPE_CHECKING:
    from models.redis.model import RedisModel

_NX, _XX, _GET, _KEEPTTL, _EX, _PX, _EXAT, _PXAT, _PERSIST = (1 << i for i in range(9))
_EXPIRY_FLAGS = {b"EX": _EX, b"PX": _PX, b"EXAT": _EXAT, b"PXAT": _PXAT}
_ALL_EXPIRY = _EX | _PX | _EXAT | _PXAT


def _set_options(m: RedisModel, argv: list[bytes],
                 getex: bool = False) -> tuple[int, bytes | None] | ReplyError:
    """Parse SET's options (``getex``: GETEX's) as ``parseExtendedStringArgumentsOrReply``
    does for both: NX, XX, GET and KEEPTTL are SET's, PERSIST is GETEX's, one expiry each."""
    flags = 0
    expire: bytes | None = None
    modern = m.dialect.set_get_with_nx
    j = 2 if getex else 3
    argc = len(argv)
    while j < argc:
        opt = argv[j].upper()
        nxt = argv[j + 1] if j + 1 < argc else None
        if getex:
            if opt == b"PERSIST" and not flags & _ALL_EXPIRY:
                flags |= _PERSIST
                j += 1
                continue
        elif opt == b"NX" and not flags & _XX and (modern or not flags & _GET):
            flags |= _NX
            j += 1
            continue
        elif opt == b"XX" and not flags & _NX:
            flags |= _XX
            j += 1
            continue
        elif opt == b"GET" and (modern or not flags & _NX):
            flags |= _GET
            j += 1
            continue
        elif opt == b"KEEPTTL" and not flags & _ALL_EXPIRY:
            flags |= _KEEPTTL
            j += 1
            continue
        if (
            opt in _EXPIRY_FLAGS
            and not flags & (_KEEPTTL | _PERSIST)
            and not flags & (_ALL_EXPIRY & ~_EXPIRY_FLAGS[opt])
            and nxt is not None
        ):
            flags |= _EXPIRY_FLAGS[opt]
            expire = nxt
            j += 2
            continue
        return SYNTAX
    return flags, expire


def _deadline(m: RedisModel, flags: int, expire: bytes, name: str = "set") -> int | ReplyError:
    """``getExpireMillisecondsOrReply``: the absolute deadline, or the error
    (which names the command: SET, SETEX or PSETEX)."""
    value = parse_int(expire)
    if value is None:
        return NOT_INTEGER
    seconds = bool(flags & (_EX | _EXAT))
    if value <= 0 or (seconds and value > LLONG_MAX // 1000):
        return m.dialect.invalid_expire(name)
    if seconds:
        value *= 1000
    if flags & (_EX | _PX):
        value += m.ks.now
        if value > LLONG_MAX:  # C overflow turns the sum negative
            return m.dialect.invalid_expire(name)
    return value


def cmd_set(m: RedisModel, argv: list[bytes]) -> Reply:
    parsed = _set_options(m, argv)
    if isinstance(parsed, ReplyError):
        return parsed
    flags, expire = parsed
    deadline: int | None = None
    if expire is not None:
        wanted = _deadline(m, flags, expire)
        if isinstance(wanted, ReplyError):
            return wanted
        deadline = wanted
    key = argv[1]
    old = m.ks.get(key)
    if flags & _GET and old is not None and not isinstance(old, bytes):
        return WRONGTYPE
    found = old is not None
    previous = old if isinstance(old, bytes) else None  # GET has refused other types above
    if (flags & _NX and found) or (flags & _XX and not found):
        return previous if flags & _GET else None
    m.ks.put(key, argv[2], keep_ttl=bool(flags & _KEEPTTL))
    if deadline is not None:
        m.ks.expire_at(key, deadline)
    m.touch(key)
    return previous if flags & _GET else OK


def cmd_setnx(m: RedisModel, argv: list[bytes]) -> Reply:
    """SET key value NX, answered 1 or 0."""
    key = argv[1]
    if m.ks.get(key) is not None:
        return 0
    m.ks.put(key, argv[2])
    m.touch(key)
    return 1


def _set_expiring(m: RedisModel, argv: list[bytes], unit: int, name: str) -> Reply:
    """SETEX/PSETEX: ``setGenericCommand`` with EX/PX from argv[2], value argv[3]."""
    deadline = _deadline(m, unit, argv[2], name)
    if isinstance(deadline, ReplyError):
        return deadline
    key = argv[1]
    m.ks.put(key, argv[3])
    m.ks.expire_at(key, deadline)
    m.touch(key)
    return OK


def cmd_setex(m: RedisModel, argv: list[bytes]) -> Reply:
    return _set_expiring(m, argv, _EX, "setex")


def cmd_psetex(m: RedisModel, argv: list[bytes]) -> Reply:
    return _set_expiring(m, argv, _PX, "psetex")


def cmd_getdel(m: RedisModel, argv: list[bytes]) -> Reply:
    key = argv[1]
    value = m.ks.get(key)
    if value is None:
        return None
    if not isinstance(value, bytes):
        return WRONGTYPE
    m.ks.delete(key)
    m.touch(key)
    return value


def cmd_getset(m: RedisModel, argv: list[bytes]) -> Reply:
    """The old value (or nil); the new one replaces it and its TTL (old-style locks)."""
    key = argv[1]
    old = m.ks.get(key)
    if old is not None and not isinstance(old, bytes):
        return WRONGTYPE
    m.ks.put(key, argv[2])
    m.touch(key)
    return old


def cmd_getex(m: RedisModel, argv: list[bytes]) -> Reply:
    """GET, then set or drop the TTL: options first, then the key, then the time."""
    parsed = _set_options(m, argv, getex=True)
    if isinstance(parsed, ReplyError):
        return parsed
    flags, expire = parsed
    key = argv[1]
    value = m.ks.get(key)
    if value is None:
        return None
    if not isinstance(value, bytes):
        return WRONGTYPE
    if expire is not None:
        deadline = _deadline(m, flags, expire, "getex")
        if isinstance(deadline, ReplyError):
            return deadline
        if deadline <= m.ks.now:  # an EXAT/PXAT in the past: the key goes at once
            m.ks.delete(key)
        else:
            m.ks.expire_at(key, deadline)
        m.touch(key)
    elif flags & _PERSIST and m.ks.persist(key):
        m.touch(key)
    return value


def cmd_get(m: RedisModel, argv: list[bytes]) -> Reply:
    value = m.ks.get(argv[1])
    if value is None or isinstance(value, bytes):
        return value
    return WRONGTYPE


def cmd_mget(m: RedisModel, argv: list[bytes]) -> Reply:
    """A key of another type answers nil, not WRONGTYPE."""
    out: list[bytes | None] = []
    for key in argv[1:]:
        value = m.ks.get(key)
        out.append(value if isinstance(value, bytes) else None)
    return out


def _mset(m: RedisModel, argv: list[bytes], nx: bool) -> Reply:
    """``msetGenericCommand``: every pair is a ``setKey`` (any old type, TTL dropped)."""
    if len(argv) % 2 == 0:
        return m.dialect.mset_arity(argv[0].decode().lower())
    pairs = range(1, len(argv), 2)
    if nx and any(m.ks.get(argv[i]) is not None for i in pairs):
        return 0
    for i in pairs:
        m.ks.put(argv[i], argv[i + 1])
        m.touch(argv[i])
    return 1 if nx else OK


def cmd_mset(m: RedisModel, argv: list[bytes]) -> Reply:
    return _mset(m, argv, nx=False)


def cmd_msetnx(m: RedisModel, argv: list[bytes]) -> Reply:
    return _mset(m, argv, nx=True)


def _incr_by(m: RedisModel, key: bytes, incr: int) -> Reply:
    """``incrDecrCommand``: the TTL survives, overflow is an error."""
    old = m.ks.get(key)
    if old is not None and not isinstance(old, bytes):
        return WRONGTYPE
    value = 0
    if old is not None:
        parsed = parse_int(old)
        if parsed is None:
            return NOT_INTEGER
        value = parsed
    if add_would_overflow(value, incr):
        return OVERFLOW
    value += incr
    m.ks.put(key, str(value).encode(), keep_ttl=True)
    m.touch(key)
    return value


def cmd_incr(m: RedisModel, argv: list[bytes]) -> Reply:
    return _incr_by(m, argv[1], 1)


def cmd_decr(m: RedisModel, argv: list[bytes]) -> Reply:
    return _incr_by(m, argv[1], -1)


def cmd_incrby(m: RedisModel, argv: list[bytes]) -> Reply:
    incr = parse_int(argv[2])
    if incr is None:
        return NOT_INTEGER
    return _incr_by(m, argv[1], incr)


def cmd_decrby(m: RedisModel, argv: list[bytes]) -> Reply:
    decr = parse_int(argv[2])
    if decr is None:
        return NOT_INTEGER
    if decr == LLONG_MIN:
        if m.dialect.modern:
            return ReplyError("ERR decrement would overflow")
        return _incr_by(m, argv[1], LLONG_MIN)  # -LLONG_MIN wraps to itself in C
    return _incr_by(m, argv[1], -decr)


COMMANDS = table(
    Command("set", cmd_set, -3),
    Command("get", cmd_get, 2),
    Command("setnx", cmd_setnx, 3),
    Command("setex", cmd_setex, 4),
    Command("psetex", cmd_psetex, 4),
    Command("getdel", cmd_getdel, 2),
    Command("getset", cmd_getset, 3),
    Command("getex", cmd_getex, -2),
    Command("mget", cmd_mget, -2),
    Command("mset", cmd_mset, -3),
    Command("msetnx", cmd_msetnx, -3),
    Command("incr", cmd_incr, 2),
    Command("decr", cmd_decr, 2),
    Command("incrby", cmd_incrby, 3),
    Command("decrby", cmd_decrby, 3),
)
