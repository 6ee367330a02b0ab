"""The sync lock libraries locksim observes: their public calls wrapped for one run.

The same records as the asyncio tier's wrappers (``sim.aio.libraries``: ``acquire``
and ``enter``, ``release`` with ``(my token, result, token sent[, error])``,
``extend``), from sync calls. Supported: redis-py ``redis.lock.Lock``;
python-redis-lock ``redis_lock.Lock`` (its ``auto_renewal`` thread's extends
speak for the request that started it); pottery ``Redlock``. Any other lock is
observed from the wire.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sim.aio.libraries import LockApi, Undo, _patch
from sim.aio.observe import CURRENT, INSIDE, error_name, immutable

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


def _wrap(obs: Observer, api: LockApi) -> list[Undo]:
    def token(lock: Any) -> object:
        return immutable(api.token(lock))

    def acquire(original: Any) -> Any:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            req = CURRENT.get()
            if req is None or INSIDE.get():  # an inner call of a wrapped one: recorded once
                return original(self, *args, **kwargs)
            inside = INSIDE.set(True)
            obs.record(req, "invoke", "acquire", immutable(api.key(self)))
            try:
                got = original(self, *args, **kwargs)
            except BaseException as exc:
                obs.record(req, "info", "acquire", error_name(exc))
                raise
            finally:
                INSIDE.reset(inside)
            if got:
                obs.acquired(req, self, api.key(self), token(self), api.ttl_ms(self))
            else:
                obs.record(req, "fail", "acquire", "not acquired")
            return got
        return wrapper

    def release(original: Any) -> Any:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            req = CURRENT.get()
            if req is None or INSIDE.get():
                return original(self, *args, **kwargs)
            sent = token(self)
            mine = obs.leaving(req, self)
            obs.record(req, "invoke", "release", mine)
            inside = INSIDE.set(True)
            try:
                result = original(self, *args, **kwargs)
            except api.lost as exc:
                obs.record(req, "ok", "release", (mine, 0, sent, error_name(exc)))
                obs.library_error(req, "release", exc)
                raise
            except api.refused as exc:
                obs.record(req, "fail", "release", (mine, sent, error_name(exc)))
                obs.library_error(req, "release", exc)
                raise
            except BaseException as exc:
                obs.record(req, "info", "release", (mine, sent, error_name(exc)))
                raise
            finally:
                INSIDE.reset(inside)
            obs.record(req, "ok", "release", (mine, 1, sent))
            return result
        return wrapper

    def extend(verb: str) -> Any:
        def make(original: Any) -> Any:
            def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
                req = CURRENT.get()
                if req is None:
                    return original(self, *args, **kwargs)
                mine = req.held.get(id(self))
                sent = token(self)
                obs.record(req, "invoke", "extend", mine)
                try:
                    result = original(self, *args, **kwargs)
                except api.lost as exc:
                    obs.record(req, "ok", "extend", (mine, 0, sent, error_name(exc)))
                    obs.library_error(req, verb, exc)
                    raise
                except BaseException as exc:
                    obs.record(req, "info", "extend", (mine, sent, error_name(exc)))
                    raise
                obs.record(req, "ok", "extend", (mine, 1, sent))
                return result
            return wrapper
        return make

    undo = [_patch(api.cls, n, acquire) for n in api.acquire if n in api.cls.__dict__]
    undo += [_patch(api.cls, n, release) for n in api.release if n in api.cls.__dict__]
    undo += [_patch(api.cls, n, extend(n)) for n in api.extend if n in api.cls.__dict__]
    return undo
