"""The lock libraries locksim observes, and how: their public calls wrapped for one run.

Each wrapper records the call (invoke), what it returned or raised, and the
library-level outcome (``LockNotOwnedError`` on release is "the lock was gone
when I let go"), then returns or raises exactly what the library did. The
library's own code runs unchanged; only the class attribute is swapped for
the run and put back after it.

A release records ``(my token, result, token sent)``: the token this task's
own acquire took, 1/0 from the library, and the token the library actually
sent, which differ when tasks share a lock object (redis-py's ``thread_local``
token is per thread, and every task of one event loop shares that thread).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sim.aio.observe import CURRENT, error_name, immutable

if TYPE_CHECKING:
    from sim.aio.observe import Observer

Undo = Callable[[], None]


def wrap_all(observer: Observer) -> list[Undo]:
    undo: list[Undo] = []
    undo += _redis_py(observer)
    return undo


def _patch(cls: type, name: str, make: Callable[[Any], Any]) -> Undo:
    original = cls.__dict__[name]
    setattr(cls, name, functools.wraps(original)(make(original)))
    return lambda: setattr(cls, name, original)


def _token(lock: Any) -> object:
    return immutable(getattr(lock.local, "token", None))


def _redis_py(obs: Observer) -> list[Undo]:
    try:
        from redis.asyncio.lock import Lock
        from redis.exceptions import LockError, LockNotOwnedError
    except ImportError:  # pragma: no cover - redis-py is a dependency
        return []

    def acquire(original: Any) -> Any:
        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            req = CURRENT.get()
            if req is None:
                return await original(self, *args, **kwargs)
            obs.record(req, "invoke", "acquire", immutable(self.name))
            try:
                got = await original(self, *args, **kwargs)
            except BaseException as exc:
                obs.record(req, "info", "acquire", error_name(exc))
                raise
            if got:
                ttl = None if not self.timeout else int(self.timeout * 1000)
                obs.acquired(req, self, self.name, _token(self), ttl)
            else:
                obs.record(req, "fail", "acquire", "not acquired")
            return got
        return wrapper

    def release(original: Any) -> Any:
        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            req = CURRENT.get()
            if req is None:
                return await original(self, *args, **kwargs)
            sent = _token(self)
            mine = obs.leaving(req, self)
            obs.record(req, "invoke", "release", mine)
            try:
                result = await original(self, *args, **kwargs)
            except LockNotOwnedError as exc:
                obs.record(req, "ok", "release", (mine, 0, sent, "LockNotOwnedError"))
                obs.library_error(req, "release", exc)
                raise
            except LockError as exc:
                obs.record(req, "fail", "release", (mine, sent, error_name(exc)))
                obs.library_error(req, "release", exc)
                raise
            except BaseException as exc:
                obs.record(req, "info", "release", (mine, sent, error_name(exc)))
                raise
            obs.record(req, "ok", "release", (mine, 1, sent))
            return result
        return wrapper

    def extend(verb: str) -> Callable[[Any], Any]:
        def make(original: Any) -> Any:
            # extend/reacquire are plain functions returning an awaitable
            def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
                req = CURRENT.get()
                if req is None:
                    return original(self, *args, **kwargs)
                mine = req.held.get(id(self))
                sent = _token(self)
                try:
                    awaitable = original(self, *args, **kwargs)
                except LockError as exc:
                    obs.record(req, "invoke", "extend", mine)
                    obs.record(req, "fail", "extend", (mine, sent, error_name(exc)))
                    obs.library_error(req, verb, exc)
                    raise

                async def run() -> Any:
                    obs.record(req, "invoke", "extend", mine)
                    try:
                        result = await awaitable
                    except LockNotOwnedError as exc:
                        obs.record(req, "ok", "extend", (mine, 0, sent, "LockNotOwnedError"))
                        obs.library_error(req, verb, exc)
                        raise
                    except BaseException as exc:
                        obs.record(req, "info", "extend", (mine, sent, error_name(exc)))
                        raise
                    obs.record(req, "ok", "extend", (mine, 1, sent))
                    return result
                return run()
            return wrapper
        return make

    return [_patch(Lock, "acquire", acquire), _patch(Lock, "release", release),
            _patch(Lock, "extend", extend("extend")),
            _patch(Lock, "reacquire", extend("reacquire"))]
