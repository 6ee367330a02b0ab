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
from collections.abc import Awaitable, Callable
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
    lost_as: str | None = None  # the name a lost outcome is recorded under (else the error's)


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


class Acquiring:
    """One wrapped acquire's records (either tier): invoke now, then what came back."""

    def __init__(self, obs: Observer, api: LockApi, req: Any, lock: Any,
                 key: object = None) -> None:
        self.obs, self.api, self.req, self.lock = obs, api, req, lock
        obs.record(req, "invoke", "acquire", immutable(api.key(lock) if key is None else key))

    def raised(self, exc: BaseException) -> None:
        self.obs.record(self.req, "info", "acquire", error_name(exc))

    def returned(self, got: object) -> None:
        api, lock = self.api, self.lock
        if got:
            self.obs.acquired(self.req, lock, api.key(lock), immutable(api.token(lock)),
                              api.ttl_ms(lock))
        else:
            self.obs.record(self.req, "fail", "acquire", "not acquired")


class Letting:
    """One wrapped release or extend's records (either tier): the request's own token
    (``mine``), the token the lock object sends, then what came back: ``api.lost`` is
    "it was gone" (result 0, a library error), ``api.refused`` on release a failure
    before sending, anything else an unknown outcome."""

    def __init__(self, obs: Observer, api: LockApi, req: Any, lock: Any, f: str, verb: str,
                 mine: str | None) -> None:
        self.obs, self.api, self.req, self.f, self.verb, self.mine = obs, api, req, f, verb, mine
        self.sent = immutable(api.token(lock))
        obs.record(req, "invoke", f, mine)

    @classmethod
    def release(cls, obs: Observer, api: LockApi, req: Any, lock: Any,
                verb: str = "release") -> Letting:
        return cls(obs, api, req, lock, "release", verb, obs.leaving(req, lock))

    @classmethod
    def extend(cls, obs: Observer, api: LockApi, req: Any, lock: Any, verb: str) -> Letting:
        return cls(obs, api, req, lock, "extend", verb, req.held.get(id(lock)))

    def raised(self, exc: BaseException) -> None:
        obs, req, mine, sent = self.obs, self.req, self.mine, self.sent
        if isinstance(exc, self.api.lost):
            obs.record(req, "ok", self.f, (mine, 0, sent, self.api.lost_as or error_name(exc)))
            obs.library_error(req, self.verb, exc)
        elif self.f == "release" and isinstance(exc, self.api.refused):
            obs.record(req, "fail", self.f, (mine, sent, error_name(exc)))
            obs.library_error(req, self.verb, exc)
        else:
            obs.record(req, "info", self.f, (mine, sent, error_name(exc)))

    def returned(self, _result: object = None) -> None:
        self.obs.record(self.req, "ok", self.f, (self.mine, 1, self.sent))


Call = Acquiring | Letting


async def observed(call: Call, run: Callable[[], Awaitable[Any]], inside: bool = False) -> Any:
    """Await ``run()`` (the library's own call) and record what it returned or raised;
    ``inside``: its inner calls and commands are the library's, not recorded again."""
    token = INSIDE.set(True) if inside else None
    try:
        result = await run()
    except BaseException as exc:
        call.raised(exc)
        raise
    finally:
        if token is not None:
            INSIDE.reset(token)
    call.returned(result)
    return result


def refused_extend(obs: Observer, api: LockApi, req: Any, lock: Any, verb: str,
                   exc: BaseException) -> None:
    """An extend the library refused before sending anything (no token, no timeout)."""
    mine = req.held.get(id(lock))
    obs.record(req, "invoke", "extend", mine)
    obs.record(req, "fail", "extend", (mine, immutable(api.token(lock)), error_name(exc)))
    obs.library_error(req, verb, exc)


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
    api = LockApi(Aioredlock, (), (), (), token=lambda lk: lk.id, key=lambda lk: lk.resource,
                  ttl_ms=lambda lk: None, lost=(LockError,), lost_as="LockError")

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

    def letting(verb: str) -> Callable[[Any], Any]:
        def make(original: Any) -> Any:
            async def wrapper(self: Any, lk: Any, *args: Any, **kwargs: Any) -> Any:
                req = CURRENT.get()
                if req is None or (verb == "unlock" and INSIDE.get()):
                    return await original(self, lk, *args, **kwargs)
                call = (Letting.release(obs, api, req, lk, verb) if verb == "unlock"
                        else Letting.extend(obs, api, req, lk, verb))
                # a failed extend unlocks inside: not a release of its own
                return await observed(call, lambda: original(self, lk, *args, **kwargs),
                                      inside=verb == "extend")
            return wrapper
        return make

    return [_patch(Aioredlock, "lock", lock), _patch(Aioredlock, "unlock", letting("unlock")),
            _patch(Aioredlock, "extend", letting("extend"))]


def _patch(cls: type, name: str, make: Callable[[Any], Any]) -> Undo:
    original = cls.__dict__[name]
    setattr(cls, name, functools.wraps(original)(make(original)))
    return lambda: setattr(cls, name, original)


def patch_api(api: LockApi, acquire: Callable[[Any], Any], release: Callable[[Any], Any],
              extend: Callable[[str], Callable[[Any], Any]]) -> list[Undo]:
    """Swap in the wrappers of every method ``api`` names that its class defines."""
    undo = [_patch(api.cls, n, acquire) for n in api.acquire if n in api.cls.__dict__]
    undo += [_patch(api.cls, n, release) for n in api.release if n in api.cls.__dict__]
    undo += [_patch(api.cls, n, extend(n)) for n in api.extend if n in api.cls.__dict__]
    return undo


def _wrap(obs: Observer, api: LockApi) -> list[Undo]:
    def acquire(original: Any) -> Any:
        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            req = CURRENT.get()
            if req is None or INSIDE.get():  # an inner call of a wrapped one: recorded once
                return await original(self, *args, **kwargs)
            return await observed(Acquiring(obs, api, req, self),
                                  lambda: original(self, *args, **kwargs), inside=True)
        return wrapper

    def release(original: Any) -> Any:
        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            req = CURRENT.get()
            if req is None or INSIDE.get():
                return await original(self, *args, **kwargs)
            return await observed(Letting.release(obs, api, req, self),
                                  lambda: original(self, *args, **kwargs), inside=True)
        return wrapper

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
                        refused_extend(obs, api, req, self, verb, exc)
                        raise
                    async def sending() -> Any:  # recorded once awaited, as it sends then
                        return await observed(Letting.extend(obs, api, req, self, verb),
                                              lambda: awaitable)
                    return sending()
                return sync_wrapper

            async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
                req = CURRENT.get()
                if req is None:
                    return await original(self, *args, **kwargs)
                return await observed(Letting.extend(obs, api, req, self, verb),
                                      lambda: original(self, *args, **kwargs))
            return wrapper
        return make

    return patch_api(api, acquire, release, extend)
