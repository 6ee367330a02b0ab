"""No lock at all: one Lua script checks the user and decrements the stock atomically.

Redis runs a script alone on its single thread, so "has this user a coupon?
is there stock? take one" needs no lock, no waiting and no TTL: the stock
(``coupon:stock:<id>``) and the issued users (the hash ``coupon:issued:<id>``)
live in Redis instead of the database. A missing stock key counts as the
initial stock the script is given, as if it had been loaded at deployment.
The design provides its own request handling (``handle``), which the coupon
service delegates to; ``acquire``/``release`` exist only for generic callers
and touch nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from models.locks.effect import TIMED_OUT, Call, Program, Record, Token, Work
from models.locks.held import Held
from models.validation import positive

if TYPE_CHECKING:
    from models.workload import CouponService

ISSUE_SCRIPT = (
    "local s = tonumber(redis.call('get', KEYS[1]) or ARGV[2]) "
    "if redis.call('hexists', KEYS[2], ARGV[1]) == 1 then return {-1, s} end "
    "if s <= 0 then return {0, s} end "
    "redis.call('set', KEYS[1], s - 1) "
    "redis.call('hset', KEYS[2], ARGV[1], 1) "
    "return {1, s}"
)


@dataclass(frozen=True, slots=True)
class LuaAtomic:
    """The lock-free design; ``ttl_ms`` is accepted (and unused) so sweeps can vary it."""

    ttl_ms: int = 5000
    coupon: int = 1

    def __post_init__(self) -> None:
        """A nonsense parameter is refused here, not turned into a misleading verdict."""
        positive("ttl_ms", self.ttl_ms)

    @property
    def name(self) -> str:
        return "lua-atomic"

    def acquire(self, key: str) -> Program:
        token = yield Token()
        return Held(key, token)

    def release(self, held: Held) -> Program:
        return
        yield  # a generator that does nothing

    def handle(self, service: CouponService, user: int, session: str) -> Program:
        """One request: session write, then the script; records read/issue/stock ops.

        The new stock is known only from the script's reply, so the ``stock``
        write carries its value in its completion (the invocation's is None).
        """
        yield Record("invoke", "request", user)
        yield from service.session(user, session)
        yield Work(service.handler_cpu_ms)
        stock_key, issued_key = f"coupon:stock:{self.coupon}", f"coupon:issued:{self.coupon}"
        yield Record("invoke", "read", user)
        yield Record("invoke", "issue", (user, None))
        yield Record("invoke", "stock", None)
        reply: Any = yield Call(("EVAL", ISSUE_SCRIPT, 2, stock_key, issued_key, user,
                                 service.stock))
        if reply is TIMED_OUT or not isinstance(reply, list) or len(reply) != 2:
            for f in ("read", "issue", "stock"):
                yield Record("info", f, "timeout")
            yield Record("info", "request", "timeout")
            return
        verdict, stock = reply
        yield Record("ok", "read", (stock, verdict == -1))
        if verdict == 1:
            yield Record("ok", "issue")
            yield Record("ok", "stock", (stock - 1,))
            outcome = "issued"
        else:
            yield Record("fail", "issue", "already-issued" if verdict == -1 else "sold-out")
            yield Record("fail", "stock")
            outcome = "already-issued" if verdict == -1 else "sold-out"
        yield Record("ok", "request", outcome)
