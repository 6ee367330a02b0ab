"""Handlers the sync-tier tests run: ordinary sync application code, nothing locksim-specific."""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any

LOCK = "lock:coupon:issue:1"


def issue(db: Any, user: int) -> str:
    """The critical section: read the stock, then one transaction."""
    stock, has_coupon = db.read(user)
    if has_coupon:
        return "already-issued"
    if stock <= 0:
        return "sold-out"
    db.commit(user, stock - 1)
    return "issued"


def fresh_lock(redis: Any, db: Any, user: int) -> str:
    with redis.lock(LOCK, timeout=5, blocking_timeout=3):
        return issue(db, user)


def shared_lock(thread_local: bool) -> Any:
    """One ``Lock`` per client (per process), created on first use and shared by the
    process's request threads."""
    locks: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

    def handle(redis: Any, db: Any, user: int) -> str:
        lock = locks.get(redis)
        if lock is None:
            lock = locks[redis] = redis.lock(LOCK, timeout=5, blocking_timeout=10,
                                             thread_local=thread_local)
        with lock:
            return issue(db, user)

    return handle


def slow_section(seconds: float, auto_renewal: bool) -> Any:
    """python-redis-lock around a critical section longer than its 5 s expiry."""
    import redis_lock

    def handle(redis: Any, db: Any, user: int) -> str:
        with redis_lock.Lock(redis, "coupon:issue:1", expire=5, auto_renewal=auto_renewal):
            stock, has = db.read(user)
            time.sleep(seconds)
            if has or stock <= 0:
                return "no"
            db.commit(user, stock - 1)
            return "issued"

    return handle


def renewing(redis: Any, db: Any, user: int) -> str:
    import redis_lock

    with redis_lock.Lock(redis, "coupon:issue:1", expire=5, auto_renewal=True):
        return issue(db, user)


def redlock(redis: Any, db: Any, user: int) -> str:
    """pottery's sync Redlock over every master the process has (a tuple on redlock:N)."""
    from pottery import Redlock

    masters = set(redis) if isinstance(redis, tuple) else {redis}
    with Redlock(key="coupon:issue:1", masters=masters, auto_release_time=5,
                 context_manager_timeout=3):
        return issue(db, user)


SENTINELS = [("sentinel1", 26379), ("sentinel2", 26379), ("sentinel3", 26379)]
_MASTERS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def sentinel_lock(redis: Any, db: Any, user: int) -> str:
    """redis-py's sync Sentinel client, made once per process, and its sync Lock."""
    from redis.sentinel import Sentinel

    master = _MASTERS.get(redis)
    if master is None:
        master = _MASTERS[redis] = Sentinel(SENTINELS, socket_timeout=1).master_for(
            "mymaster", socket_timeout=1)
    with master.lock(LOCK, timeout=5, blocking_timeout=3):
        return issue(db, user)


class _Worker(threading.Thread):
    """Defined at import, before any run: a real thread class."""


def real_thread(redis: Any, db: Any, user: int) -> str:
    _Worker(target=lambda: None).start()
    return issue(db, user)


def real_socket(redis: Any, db: Any, user: int) -> str:
    import _socket

    sock = _socket.socket()
    try:
        sock.settimeout(0.01)
        sock.connect(("127.0.0.1", 9))
    except Exception:  # swallowed: the escape must still count
        pass
    finally:
        sock.close()
    return issue(db, user)


def elsewhere(redis: Any, db: Any, user: int) -> str:
    """A second service no simulated node stands for."""
    import socket

    try:
        socket.create_connection(("payments.internal", 443), timeout=1).close()
    except Exception:  # a team's best-effort call: the escape must still count
        return issue(db, user)
    return issue(db, user)


def wall_sleep(redis: Any, db: Any, user: int) -> str:
    import select

    with redis.lock(LOCK, timeout=5, blocking_timeout=3):
        select.select([], [], [], 0.001)
        return issue(db, user)


def spins(redis: Any, db: Any, user: int) -> str:
    while True:
        time.sleep(0)


def threads_and_clocks(redis: Any, db: Any, user: int) -> str:
    """Threads, a Timer, Events, a Condition, a Queue and the clocks, all in one request."""
    import queue
    import uuid

    results: queue.Queue[str] = queue.Queue()
    done = threading.Event()
    ready = threading.Condition()
    mine = threading.local()
    mine.name = "request"

    def worker(n: int) -> None:
        mine.name = f"worker{n}"
        with ready:
            ready.wait(timeout=0.5)
        time.sleep(0.01 * n)
        results.put(f"{n}:{mine.name}:{threading.current_thread().name}")

    workers = [threading.Thread(target=worker, args=(n,), name=f"w{n}") for n in range(3)]
    for w in workers:
        w.start()
    threading.Timer(0.2, done.set).start()
    with ready:
        ready.notify_all()
    t0 = time.monotonic()
    done.wait()
    for w in workers:
        w.join()
    got = sorted(results.get() for _ in workers)
    redis.set(f"took:{user}", f"{time.monotonic() - t0:.6f} {uuid.uuid4().hex[:8]} "
                              f"{mine.name} {','.join(got)}")
    return issue(db, user)
