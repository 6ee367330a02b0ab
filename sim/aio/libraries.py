"""The lock libraries locksim observes, and how: their public calls wrapped for one run.

Each wrapper records the call (invoke), what it returned or raised, and the
library-level outcome (``LockNotOwnedError`` on release is "the lock was gone
when I let go"), then returns or raises exactly what the library did. The
library's own code runs unchanged; only class attributes are swapped for the
run and put back after it (including name-mangled aliases such as pottery's
``__acquire``, which its context manager calls).

A release records ``(my token, result, token sent[, error])``: the token this
request's own acquire took, 1/0 from the library, and the token the library
actually sent, which differ when tasks share a lock object (redis-py keeps the
token in ``threading.local``, which every task of one event loop shares;
pottery keeps it on the instance).

Supported: redis-py ``redis.asyncio.lock.Lock``; pottery ``AIORedlock``; aioredlock's
``Aioredlock`` manager (``lock``/``unlock``/``extend``). Any other lock is observed from
the wire (``sim.aio.observe``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sim.aio.observe import CURRENT, INSIDE, error_name, immutable

if TYPE_CHECKING:
    from sim.aio.observe import Observer

Undo = Callable[[], None]


@dataclass(frozen=True)
class LockApi:
    """How one library's lock class reads: where its token, key and TTL live, which
    methods acquire/release/extend, and which exceptions mean "not yours any more"."""

    cls: type
    acquire: tuple[str, ...]
    release: tuple[str, ...]
    extend: tuple[str, ...]
    token: Callable[[Any], object]
    key: Callable[[Any], object]
    ttl_ms: Callable[[Any], float | None]
    lost: tuple[type[BaseException], ...]  # raised by release/extend: the lock was gone
    refused: tuple[type[BaseException], ...] = ()  # raised before sending: no token at all
    extend_is_sync: bool = False  # redis-py's extend returns an awaitable


def apis() -> list[LockApi]:
    found: list[LockApi] = []
    try:
        from redis.asyncio.lock import Lock
        from redis.exceptions import LockError, LockNotOwnedError
    except ImportError:  # pragma: no cover - redis-py is a dependency
        pass
    else:
        found.append(LockApi(
            Lock, ("acquire",), ("release",), ("extend", "reacquire"),
            token=lambda lk: getattr(lk.local, "token", None), key=lambda lk: lk.name,
            ttl_ms=lambda lk: int(lk.timeout * 1000) if lk.timeout else None,
            lost=(LockNotOwnedError,), refused=(LockError,), extend_is_sync=True))
    try:
        from pottery import AIORedlock
        from pottery.exceptions import ExtendUnlockedLock, ReleaseUnlockedLock
    except ImportError:  # the libs extra is not installed
        pass
    else:
        found.append(LockApi(
            AIORedlock, ("acquire", "_AIORedlock__acquire"),
            ("release", "_AIORedlock__release"), ("extend",),
            token=lambda lk: lk._uuid or None, key=lambda lk: lk.key,
            ttl_ms=lambda lk: int(lk.auto_release_time * 1000),
            lost=(ReleaseUnlockedLock, ExtendUnlockedLock)))
    return found


def wrap_all(observer: Observer) -> list[Undo]:
    undo: list[Undo] = []
    for api in apis():
        undo += _wrap(observer, api)
    undo += _aioredlock(observer)
    return undo


def _aioredlock(obs: Observer) -> list[Undo]:
    """aioredlock 0.7.3: the manager acquires (``lock`` returns a ``Lock`` or raises
    ``LockError``), releases (``unlock``) and extends (``extend``, also its watchdog's)."""
    try:
        from aioredlock import Aioredlock
        from aioredlock.errors import LockError
    except ImportError:  # not installed (it needs aioredis 1.x)
        return []

    def lock(original: Any) -> Any:
        async def wrapper(self: Any, resource: Any, *args: Any, **kwargs: Any) -> Any:
            req = CURRENT.get()
            if req is None:
                return await original(self, resource, *args, **kwargs)
            obs.record(req, "invoke", "acquire", immutable(resource))
            try:
                got = await original(self, resource, *args, **kwargs)
            except LockError:
                obs.record(req, "fail", "acquire", "LockError")
                raise
            except BaseException as exc:
                obs.record(req, "info", "acquire", error_name(exc))
                raise
            ttl = (got.lock_timeout or self.internal_lock_timeout) * 1000
            obs.acquired(req, got, resource, immutable(got.id), ttl)
            return got
        return wrapper

    def unlock(original: Any) -> Any:
        async def wrapper(self: Any, lk: Any, *args: Any, **kwargs: Any) -> Any:
            req = CURRENT.get()
            if req is None or INSIDE.get():
                return await original(self, lk, *args, **kwargs)
            sent = immutable(lk.id)
            mine = obs.leaving(req, lk)
            obs.record(req, "invoke", "release", mine)
            try:
                result = await original(self, lk, *args, **kwargs)
            except LockError as exc:
                obs.record(req, "ok", "release", (mine, 0, sent, "LockError"))
                obs.library_error(req, "unlock", exc)
                raise
            except BaseException as exc:
                obs.record(req, "info", "release", (mine, sent, error_name(exc)))
                raise
            obs.record(req, "ok", "release", (mine, 1, sent))
            return result
        return wrapper

    def extend(original: Any) -> Any:
        async def wrapper(self: Any, lk: Any, *args: Any, **kwargs: Any) -> Any:
            req = CURRENT.get()
            if req is None:
                return await original(self, lk, *args, **kwargs)
            mine = req.held.get(id(lk))
            sent = immutable(lk.id)
            obs.record(req, "invoke", "extend", mine)
            inside = INSIDE.set(True)  # a failed extend unlocks inside: not a release of its own
            try:
                result = await original(self, lk, *args, **kwargs)
            except LockError as exc:
                obs.record(req, "ok", "extend", (mine, 0, sent, "LockError"))
                obs.library_error(req, "extend", exc)
                raise
            except BaseException as exc:
                obs.record(req, "info", "extend", (mine, sent, error_name(exc)))
                raise
            finally:
                INSIDE.reset(inside)
            obs.record(req, "ok", "extend", (mine, 1, sent))
            return result
        return wrapper

    return [_patch(Aioredlock, "lock", lock), _patch(Aioredlock, "unlock", unlock),
            _patch(Aioredlock, "extend", extend)]


def _patch(cls: type, name: str, make: Callable[[Any], Any]) -> Undo:
    original = cls.__dict__[name]
    setattr(cls, name, functools.wraps(original)(make(original)))
    return lambda: setattr(cls, name, original)


def _wrap(obs: Observer, api: LockApi) -> list[Undo]:
    def token(lock: Any) -> object:
        return immutable(api.token(lock))

    def acquire(original: Any) -> Any:
        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            req = CURRENT.get()
            if req is None or INSIDE.get():  # an inner call of a wrapped one: recorded once
                return await original(self, *args, **kwargs)
            inside = INSIDE.set(True)
            obs.record(req, "invoke", "acquire", immutable(api.key(self)))
            try:
                got = await original(self, *args, **kwargs)
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
        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            req = CURRENT.get()
            if req is None or INSIDE.get():
                return await original(self, *args, **kwargs)
            sent = token(self)
            mine = obs.leaving(req, self)
            obs.record(req, "invoke", "release", mine)
            inside = INSIDE.set(True)
            try:
                result = await original(self, *args, **kwargs)
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

    async def extended(req: Any, lock: Any, verb: str, awaitable: Any) -> Any:
        mine = req.held.get(id(lock))
        sent = token(lock)
        obs.record(req, "invoke", "extend", mine)
        try:
            result = await awaitable
        except api.lost as exc:
            obs.record(req, "ok", "extend", (mine, 0, sent, error_name(exc)))
            obs.library_error(req, verb, exc)
            raise
        except BaseException as exc:
            obs.record(req, "info", "extend", (mine, sent, error_name(exc)))
            raise
        obs.record(req, "ok", "extend", (mine, 1, sent))
        return result

    def extend(verb: str) -> Callable[[Any], Any]:
        def make(original: Any) -> Any:
            if api.extend_is_sync:  # checks, then returns the awaitable that sends
                def sync_wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
                    req = CURRENT.get()
                    if req is None:
                        return original(self, *args, **kwargs)
                    try:
                        awaitable = original(self, *args, **kwargs)
                    except api.refused as exc:
                        mine = req.held.get(id(self))
                        obs.record(req, "invoke", "extend", mine)
                        obs.record(req, "fail", "extend", (mine, token(self), error_name(exc)))
                        obs.library_error(req, verb, exc)
                        raise
                    return extended(req, self, verb, awaitable)
                return sync_wrapper

            async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
                req = CURRENT.get()
                if req is None:
                    return await original(self, *args, **kwargs)
                return await extended(req, self, verb, original(self, *args, **kwargs))
            return wrapper
        return make

    undo = [_patch(api.cls, n, acquire) for n in api.acquire if n in api.cls.__dict__]
    undo += [_patch(api.cls, n, release) for n in api.release if n in api.cls.__dict__]
    undo += [_patch(api.cls, n, extend(n)) for n in api.extend if n in api.cls.__dict__]
    return undo
