"""A coupon handler as a team writes it, with redis-py's asyncio lock (run it with locksim).

    locksim run --handler examples.coupon_handler:handle --servers 1 --vus 10 --requests 50

``handle`` takes a fresh ``Lock`` per request (the usual ``async with redis.lock``);
``handle_shared`` keeps one ``Lock`` per client, created once, as many apps do
to avoid re-creating it, and so shares redis-py's thread-local token between
every task of the event loop. ``handle_redlock`` is pottery's Redlock over every
master (``--redis redlock:N``); ``handle_sentinel`` finds the master through
Sentinel with the app's own configuration (``--redis sentinel:N``).
``handle_cached`` keeps a Redis key per user
served, asked inside the lock: its critical section waits on Redis, so a
partition of the holder longer than the lease lets a second holder in.
"""

from __future__ import annotations

import weakref
from typing import Any

from redis.exceptions import LockError

LOCK = "lock:coupon:issue:1"


async def issue(db: Any, user: int) -> str:
    """The critical section: read the stock, then one transaction."""
    stock, has_coupon = await db.read(user)
    if has_coupon:
        return "already-issued"
    if stock <= 0:
        return "sold-out"
    await db.commit(user, stock - 1)
    return "issued"


async def handle(redis: Any, db: Any, user: int) -> str:
    async with redis.lock(LOCK, timeout=5, blocking_timeout=3):
        return await issue(db, user)


async def handle_cached(redis: Any, db: Any, user: int) -> str:
    """A Lock per request (2 s lease) and a cache of the users served, in Redis."""
    async with redis.lock(LOCK, timeout=2, blocking_timeout=3):
        if await redis.get(f"coupon:served:{user}"):
            return "already-issued"
        result = await issue(db, user)
        await redis.set(f"coupon:served:{user}", result)
        return result


_SHARED: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


async def handle_shared(redis: Any, db: Any, user: int) -> str:
    lock = _SHARED.get(redis)
    if lock is None:
        lock = _SHARED[redis] = redis.lock(LOCK, timeout=5, blocking_timeout=10)
    try:
        async with lock:
            return await issue(db, user)
    except LockError as exc:
        return f"lock error: {exc}"


async def handle_redlock(redis: Any, db: Any, user: int) -> str:
    """pottery's AIORedlock over every master this process has (``--redis redlock:N``
    gives one client per master; a single Redis, one), a fresh lock per request."""
    from pottery import AIORedlock

    masters = set(redis) if isinstance(redis, tuple | list) else {redis}
    lock = AIORedlock(key="coupon:issue:1", masters=masters, auto_release_time=5,
                      context_manager_timeout=3)
    async with lock:
        return await issue(db, user)


SENTINELS = [("sentinel1", 26379), ("sentinel2", 26379), ("sentinel3", 26379)]
_MASTERS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


async def handle_sentinel(redis: Any, db: Any, user: int) -> str:
    """redis-py's Sentinel client as the app configures it (its Sentinels' addresses, its
    service name), made once per process (one per ``redis``, which is per process): every
    new connection asks a Sentinel where the master is, so after a failover it reaches the
    promoted replica."""
    from redis.asyncio.sentinel import Sentinel

    master = _MASTERS.get(redis)
    if master is None:
        master = _MASTERS[redis] = Sentinel(SENTINELS, socket_timeout=1).master_for(
            "mymaster", socket_timeout=1)
    async with master.lock(LOCK, timeout=5, blocking_timeout=3):
        return await issue(db, user)
