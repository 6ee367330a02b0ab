"""When a node must refuse a write: a replica (READONLY), or a master with too few good
replicas (``min-replicas-to-write``, NOREPLICAS).

Redis flags commands ``write``; the model has no flags, so the commands the
designs and the workload send that may write are listed here. A script
counts as a write (Redis 7 refuses a script without the ``no-writes`` flag up
front when min-replicas is not met). Each replica reports to its master every
second; a replica is good while its last report is at most
``min-replicas-max-lag`` seconds old (redis.io, NOREPLICAS error). The model
takes a healthy replica's report as fresh, and a replica that stopped
reporting (down, cut off, re-pointed at another master) as last heard from
when it stopped.
"""

from __future__ import annotations

from models.redis.reply import ReplyError

WRITES = frozenset({
    "SET", "SETNX", "SETEX", "PSETEX", "GETSET", "GETDEL", "APPEND", "DEL", "UNLINK",
    "EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT", "PERSIST", "INCR", "INCRBY", "DECR",
    "DECRBY", "INCRBYFLOAT", "HSET", "HSETNX", "HDEL", "HINCRBY", "HMSET", "LPUSH", "RPUSH",
    "LPOP", "RPOP", "BLPOP", "BRPOP", "LREM", "LTRIM", "RPOPLPUSH", "LMOVE", "EVAL", "EVALSHA",
    "EXEC", "FLUSHALL", "FLUSHDB", "RENAME", "MSET", "MSETNX", "SADD", "SREM", "SPOP", "SMOVE",
})

READONLY = "READONLY You can't write against a read only replica."
NOREPLICAS = "NOREPLICAS Not enough good replicas to write."


def refusal(name: str, role: str, good: int | None, needed: int) -> ReplyError | None:
    """The error a node answers command ``name`` with, or None to run it.

    ``good``: the master's good replicas (None: not counted, min-replicas off)."""
    if name not in WRITES:
        return None
    if role == "replica":
        return ReplyError(READONLY)
    if needed > 0 and good is not None and good < needed:
        return ReplyError(NOREPLICAS)
    return None


def is_good(silent_since_ms: float | None, now_ms: float, max_lag_s: float) -> bool:
    """A replica silent since ``silent_since_ms`` (None: reporting) still counts at ``now_ms``."""
    return silent_since_ms is None or now_ms - silent_since_ms <= max_lag_s * 1000.0
