"""The coupon service of the field report, as an effect-yielding request handler.

``POST /api/coupons/1/issue``: write the session to Redis, take the lock,
read the stock and whether this user already has a coupon from the database
(not Redis), write the issue, write the decremented stock, release. The
stock update is a read-modify-write: two holders at once lose an update even
when stock is plentiful. With a fenced lock, every database operation carries
the fence and a fencing database refuses stale ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.locks import LockDesign
from models.locks.effect import Call, Program, Record, Storage, Work

LOCK_KEY = "lock:coupon:issue:1"
SESSION_TTL_S = 43200


@dataclass(frozen=True, slots=True)
class CouponService:
    """The handler's fixed costs; latencies of Redis and the database are the world's."""

    lock_key: str = LOCK_KEY
    handler_cpu_ms: float = 0.2  # routing, JSON, session parsing on the event loop
    session_write: bool = True
    stock: int = 1000  # the initial stock, for designs that keep it in Redis

    def handle(self, lock: LockDesign, user: int, session: str) -> Program:
        """One request; records request, enter/leave, read, issue and stock ops.

        A design with its own ``handle(service, user, session)`` (no lock, e.g.
        ``lua-atomic``) serves the whole request itself.
        """
        own = getattr(lock, "handle", None)
        if own is not None:
            return (yield from own(self, user, session))
        yield Record("invoke", "request", user)
        yield from self.session(user, session)
        yield Work(self.handler_cpu_ms)
        held = yield from lock.acquire(self.lock_key)
        if held is None:  # the library threw (Redisson after its retries): answered, an error
            yield Record("fail", "request", "lock-error")
            return
        fence = held.fence
        yield Record("ok", "enter", (held.token, fence))
        outcome = yield from self._critical_section(user, fence)
        yield Record("ok", "leave", (held.token, fence))
        yield from lock.release(held)
        if outcome == "stale":
            yield Record("fail", "request", "stale-fence")
        else:
            yield Record("ok", "request", outcome)

    def session(self, user: int, session: str) -> Program:
        """The login session write every request makes first."""
        if self.session_write:
            body = f'{{"userId":{user}}}'
            yield Call(("SET", f"sess:{session}", body, "EX", SESSION_TTL_S))

    def _critical_section(self, user: int, fence: int | None) -> Program:
        yield Record("invoke", "read", user)
        read = yield Storage("read", user=user, fence=fence)
        if read is None:
            yield Record("fail", "read", "stale-fence")
            return "stale"
        stock, has_coupon = read
        yield Record("ok", "read", (stock, has_coupon))
        if has_coupon:
            return "already-issued"
        if stock <= 0:
            return "sold-out"
        # One database transaction: insert the coupon and write the new stock.
        # The new stock comes from the read above (read-modify-write), so two
        # holders at once lose an update; a fencing database refuses the whole
        # transaction of a stale holder, never half of it.
        yield Record("invoke", "issue", (user, fence))
        yield Record("invoke", "stock", (stock - 1, fence))
        accepted = yield Storage("commit", user=user, value=stock - 1, fence=fence)
        if not accepted:
            yield Record("fail", "issue", "stale-fence")
            yield Record("fail", "stock", "stale-fence")
            return "stale"
        yield Record("ok", "issue")
        yield Record("ok", "stock")
        return "issued"
