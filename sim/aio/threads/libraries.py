"""The sync lock libraries locksim observes: their public calls wrapped for one run.

The same records as the asyncio tier's wrappers (``sim.aio.libraries``: ``acquire``
and ``enter``, ``release`` with ``(my token, result, token sent[, error])``,
``extend``), from sync calls. Supported: redis-py ``redis.lock.Lock``;
python-redis-lock ``redis_lock.Lock`` (its ``auto_renewal`` thread's extends
speak for the request that started it); pottery ``Redlock``. Any other lock is
observed from the wire.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sim.aio.libraries import Acquiring, Call, Letting, LockApi, Undo, patch_api
from sim.aio.observe import CURRENT, INSIDE

if TYPE_CHECKING:
    from sim.aio.observe import Observer


def apis() -> list[LockApi]:
    found: list[LockApi] = []
    from redis.exceptions import LockError, LockNotOwnedError
    from redis.lock import Lock

    found.append(LockApi(
        Lock, ("acquire",), ("release",), ("extend", "reacquire"),
        token=lambda lk: getattr(lk.local, "token", None), key=lambda lk: lk.name,
        ttl_ms=lambda lk: int(lk.timeout * 1000) if lk.timeout else None,
        lost=(LockNotOwnedError,), refused=(LockError,)))
    try:
        import redis_lock
    except ImportError:  # the sync-libs extra is not installed
        pass
    else:
        found.append(LockApi(
            redis_lock.Lock, ("acquire",), ("release",), ("extend",),
            token=lambda lk: lk._id, key=lambda lk: lk._name,
            ttl_ms=lambda lk: int(lk._expire * 1000) if lk._expire else None,
            lost=(redis_lock.NotAcquired,), refused=(redis_lock.NotExpirable,)))
    try:
        from pottery import Redlock
        from pottery.exceptions import ExtendUnlockedLock, ReleaseUnlockedLock
    except ImportError:
        pass
    else:
        found.append(LockApi(
            Redlock, ("acquire", "_Redlock__acquire"), ("release", "_Redlock__release"),
            ("extend",), token=lambda lk: lk._uuid or None, key=lambda lk: lk.key,
            ttl_ms=lambda lk: int(lk.auto_release_time * 1000),
            lost=(ReleaseUnlockedLock, ExtendUnlockedLock)))
    return found


@contextmanager
def instrument(obs: Observer) -> Iterator[None]:
    undo: list[Undo] = []
    for api in apis():
        undo += _wrap(obs, api)
    try:
        yield
    finally:
        for restore in reversed(undo):
            restore()


def observed(call: Call, run: Callable[[], Any], inside: bool = False) -> Any:
    """``sim.aio.libraries.observed`` for a sync call: run it, record what came back."""
    token = INSIDE.set(True) if inside else None
    try:
        result = run()
    except BaseException as exc:
        call.raised(exc)
        raise
    finally:
        if token is not None:
            INSIDE.reset(token)
    call.returned(result)
    return result


def _wrap(obs: Observer, api: LockApi) -> list[Undo]:
    """The asyncio tier's records (``Acquiring``, ``Letting``) around sync calls."""

    def acquire(original: Any) -> Any:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            req = CURRENT.get()
            if req is None or INSIDE.get():  # an inner call of a wrapped one: recorded once
                return original(self, *args, **kwargs)
            return observed(Acquiring(obs, api, req, self),
                            lambda: original(self, *args, **kwargs), inside=True)
        return wrapper

    def release(original: Any) -> Any:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            req = CURRENT.get()
            if req is None or INSIDE.get():
                return original(self, *args, **kwargs)
            return observed(Letting.release(obs, api, req, self),
                            lambda: original(self, *args, **kwargs), inside=True)
        return wrapper

    def extend(verb: str) -> Any:
        def make(original: Any) -> Any:
            def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
                req = CURRENT.get()
                if req is None:
                    return original(self, *args, **kwargs)
                return observed(Letting.extend(obs, api, req, self, verb),
                                lambda: original(self, *args, **kwargs))
            return wrapper
        return make

    return patch_api(api, acquire, release, extend)
