"""Handlers the asyncio-tier tests run: ordinary application code, nothing locksim-specific."""

from __future__ import annotations

import socket
import threading
import time
import weakref
from typing import Any

from examples.coupon_handler import LOCK, issue


def shared_lock(thread_local: bool, blocking_timeout: float | None = 10) -> Any:
    """A handler keeping one Lock per client (per process), created on first use."""
    locks: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

    async def handle(redis: Any, db: Any, user: int) -> str:
        lock = locks.get(redis)
        if lock is None:
            lock = locks[redis] = redis.lock(LOCK, timeout=5, thread_local=thread_local,
                                             blocking_timeout=blocking_timeout)
        async with lock:
            return await issue(db, user)

    return handle


def fresh_lock(blocking_timeout: float | None) -> Any:
    async def handle(redis: Any, db: Any, user: int) -> str:
        async with redis.lock(LOCK, timeout=5, blocking_timeout=blocking_timeout):
            return await issue(db, user)

    return handle


async def sleeps(redis: Any, db: Any, user: int) -> str:
    """Blocks the event loop in wall time: an escape."""
    async with redis.lock(LOCK, timeout=5):
        time.sleep(0.001)
        return await issue(db, user)


async def real_socket(redis: Any, db: Any, user: int) -> str:
    """Talks to the real network: an escape (even though it catches the error)."""
    sock = socket.socket()
    try:
        sock.settimeout(0.01)
        sock.connect(("127.0.0.1", 9))
    except Exception:  # a library swallowing errors must not hide the escape
        pass
    finally:
        sock.close()
    return await issue(db, user)


async def resolves(redis: Any, db: Any, user: int) -> str:
    """Resolves a name in a real resolver: an escape."""
    socket.getaddrinfo("example.invalid", 80)
    return await issue(db, user)


async def real_thread(redis: Any, db: Any, user: int) -> str:
    threading.Thread(target=lambda: None).start()
    return await issue(db, user)


async def wall_clock(redis: Any, db: Any, user: int) -> str:
    """Reads the clocks: served by the simulation, so deterministic (not an escape)."""
    t0 = time.monotonic()
    async with redis.lock(LOCK, timeout=5):
        outcome = await issue(db, user)
    await redis.set(f"took:{user}", repr(round(time.monotonic() - t0, 6)))
    return outcome


async def extend_shared_watchdog(redis: Any, db: Any, user: int) -> str:
    """One lock per client; each holder extends it once mid-section (a watchdog's call)."""
    lock = _EXT.get(redis)
    if lock is None:
        lock = _EXT[redis] = redis.lock(LOCK, timeout=5, blocking_timeout=10)
    async with lock:
        stock, has = await db.read(user)
        await lock.extend(5)
        if not has and stock > 0:
            await db.commit(user, stock - 1)
        return "done"


_EXT: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def with_deadline(deadline_s: float, timeout: float | None) -> Any:
    """A request-timeout middleware (``asyncio.wait_for``) around a lock with ``timeout``."""
    import asyncio

    async def handle(redis: Any, db: Any, user: int) -> str:
        async def body() -> str:
            async with redis.lock(LOCK, timeout=timeout, blocking_timeout=3):
                return await issue(db, user)

        return await asyncio.wait_for(body(), deadline_s)

    return handle


async def spins(redis: Any, db: Any, user: int) -> str:
    """Never lets time pass: ``sleep(0)`` forever."""
    import asyncio

    while True:
        await asyncio.sleep(0)


_CHECK_AND_DEL = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
                  "return redis.call('del', KEYS[1]) else return 0 end")


def hand_rolled(release: str) -> Any:
    """A team's own lock, no library: SET NX PX, poll, then DEL or a check-and-delete script."""
    import asyncio
    import uuid

    async def handle(redis: Any, db: Any, user: int) -> str:
        token = uuid.uuid4().hex
        while not await redis.set(LOCK, token, nx=True, px=5000):
            await asyncio.sleep(0.05)
        try:
            return await issue(db, user)
        finally:
            if release == "del":
                await redis.delete(LOCK)
            else:
                await redis.eval(_CHECK_AND_DEL, 1, LOCK, token)

    return handle


SERVED = "coupon:served"


async def served_set(redis: Any, db: Any, user: int) -> str:
    """The users served kept in a Redis set, asked (SISMEMBER) and added to (SADD) inside
    the lock; SMEMBERS afterwards, as a report would read it (redis-py: a Python set)."""
    async with redis.lock(LOCK, timeout=5, blocking_timeout=10):
        if await redis.sismember(SERVED, str(user)):
            return "already-issued"
        result = await issue(db, user)
        if result == "issued":
            await redis.sadd(SERVED, str(user))
    members = await redis.smembers(SERVED)
    if not isinstance(members, set) or (result == "issued" and str(user).encode() not in members):
        raise AssertionError(f"SMEMBERS answered {members!r}")
    return result


async def served_members(redis: Any, db: Any, user: int) -> object:
    """Answers the whole served set: a Python set, whose own order follows the hash seed."""
    await redis.sadd(SERVED, f"user-{user}")
    return await redis.smembers(SERVED)
