"""List commands and BLPOP's non-blocking half.

Who a blocked BLPOP serves is decided here (FIFO per key, as Redis does);
waiting itself, and its timeout, belong to whoever drives the model.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from models.redis.command import Command, table
from models.redis.number import parse_float, parse_int
from models.redis.reply import BLOCKED, NOT_INTEGER, WRONGTYPE, Reply, ReplyError, wrong_arity

if TYPE_CHECKING:
    from models.redis.model import RedisModel


def _list(m: RedisModel, key: bytes) -> deque[bytes] | ReplyError | None:
    value = m.ks.get(key)
    if value is None or isinstance(value, deque):
        return value
    return WRONGTYPE


def _push(m: RedisModel, argv: list[bytes], left: bool) -> Reply:
    lst = _list(m, argv[1])
    if isinstance(lst, ReplyError):
        return lst
    if lst is None:
        lst = deque()
        m.ks.put(argv[1], lst)
    if left:
        lst.extendleft(argv[2:])
    else:
        lst.extend(argv[2:])
    m.touch(argv[1])
    m.signal_key(argv[1])
    return len(lst)


def cmd_lpush(m: RedisModel, argv: list[bytes]) -> Reply:
    return _push(m, argv, left=True)


def cmd_rpush(m: RedisModel, argv: list[bytes]) -> Reply:
    return _push(m, argv, left=False)


def _pop(m: RedisModel, argv: list[bytes], left: bool) -> Reply:
    if len(argv) > 3:
        return wrong_arity(argv[0].decode().lower())
    count = None
    if len(argv) == 3:
        count = parse_int(argv[2])
        if count is None or count < 0:
            return ReplyError("ERR value is out of range, must be positive")
    lst = _list(m, argv[1])
    if lst is None or isinstance(lst, ReplyError):
        return lst
    if count is None:
        value = lst.popleft() if left else lst.pop()
        out: Reply = value
    else:
        n = min(count, len(lst))
        out = [lst.popleft() if left else lst.pop() for _ in range(n)]
        if not n:
            return out  # LPOP key 0: nothing popped, nothing touched
    if not lst:
        m.ks.delete(argv[1])
    m.touch(argv[1])
    return out


def cmd_lpop(m: RedisModel, argv: list[bytes]) -> Reply:
    return _pop(m, argv, left=True)


def cmd_rpop(m: RedisModel, argv: list[bytes]) -> Reply:
    return _pop(m, argv, left=False)


def cmd_llen(m: RedisModel, argv: list[bytes]) -> Reply:
    lst = _list(m, argv[1])
    if lst is None:
        return 0
    if isinstance(lst, ReplyError):
        return lst
    return len(lst)


def cmd_lrange(m: RedisModel, argv: list[bytes]) -> Reply:
    start, end = parse_int(argv[2]), parse_int(argv[3])
    if start is None or end is None:
        return NOT_INTEGER
    lst = _list(m, argv[1])
    if lst is None:
        return []
    if isinstance(lst, ReplyError):
        return lst
    n = len(lst)
    if start < 0:
        start += n
    if end < 0:
        end += n
    start = max(start, 0)
    if start > end or start >= n:
        return []
    end = min(end, n - 1)
    return [lst[i] for i in range(start, end + 1)]


def blpop_timeout(raw: bytes) -> float | ReplyError:
    """The timeout in seconds (0 means forever), or Redis's error for it."""
    timeout = parse_float(raw)
    if timeout is None:
        return ReplyError("ERR timeout is not a float or out of range")
    # seconds * 1000 cast to a long long: past LLONG_MAX (inf, 1e30) the cast yields
    # LLONG_MIN on x86, so Redis answers "negative" (7.0 and 6.2 alike)
    if timeout < 0 or (timeout * 1000.0 >= 2.0**62 and _past_llong_max(raw, timeout)):
        return ReplyError("ERR timeout is negative")
    return timeout


def _past_llong_max(raw: bytes, timeout: float) -> bool:
    """``timeout * 1000 > LLONG_MAX`` as a long double sees it (a double rounds
    9223372036854775.807 up past it)."""
    from decimal import Decimal, InvalidOperation

    try:
        exact = Decimal(raw.decode())
    except (InvalidOperation, UnicodeDecodeError):
        return timeout * 1000.0 >= 2.0**63  # inf, hexadecimal
    return bool(exact.is_infinite() or exact * 1000 > 2**63 - 1)


def cmd_blpop(m: RedisModel, argv: list[bytes]) -> Reply:
    timeout = blpop_timeout(argv[-1])
    if isinstance(timeout, ReplyError):
        return timeout
    keys = argv[1:-1]
    for key in keys:
        lst = _list(m, key)
        if isinstance(lst, ReplyError):
            return lst
        if lst:
            value = lst.popleft()
            if not lst:
                m.ks.delete(key)
            m.touch(key)
            return [key, value]
    if m.in_exec:  # inside EXEC BLPOP cannot block: it times out at once
        return None
    m.block(keys)
    return BLOCKED


COMMANDS = table(
    Command("lpush", cmd_lpush, -3),
    Command("rpush", cmd_rpush, -3),
    Command("lpop", cmd_lpop, -2),
    Command("rpop", cmd_rpop, -2),
    Command("llen", cmd_llen, 2),
    Command("lrange", cmd_lrange, 4),
    Command("blpop", cmd_blpop, -3, noscript=True),
)
