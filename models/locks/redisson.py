"""Redisson's ``RLock.lock()``: a re-entrant hash, pub/sub + semaphore, waits bounded by PTTL.

Facts modelled (lock-zoo.md section 4): the lock is a hash whose field is the
holder (``<clientUUID>:<threadId>``; here the request's token) and whose
value counts re-entries. Acquire is one script: free or mine -> ``HINCRBY``
and ``PEXPIRE`` lease, answer nil; else answer the key's ``PTTL``. After a
failed try the waiter subscribes to ``redisson_lock__channel:{name}``,
**tries again** (closing the subscribe gap), then waits on the process's
semaphore for at most the PTTL that try returned (``WaitMessage(wake="one")``:
an unlock message wakes one waiter per process), and loops. A missed
message or a silent expiry therefore costs at most one PTTL. With no
``leaseTime`` the lease is the watchdog timeout (``ttl_ms``; Redisson's
default 30 000 ms, here the report's 5000 ms for comparison) and a watchdog
renews it every ``ttl_ms / 3`` while the field exists, silently stopping when
it is gone. Unlock: an idempotency latch per unlock request, then
``HINCRBY -1``; at zero ``DEL`` and ``PUBLISH 0``. Single-server mode (the
default, ``wait_replicas=0``): no ``WAIT`` for replicas. Replicated mode
(``wait_replicas=N``): after taking the lock it sends ``WAIT N
wait_timeout_ms``, and when fewer replicas acknowledged (Redisson's "none of
slaves were synced") it undoes the lock (deletes its own hash) and tries
again, so a holder's lock is on a replica before it enters. A command
answered with an error (its node down, READONLY) is sent again
``retry_attempts`` times ``retry_interval_ms`` apart (Redisson's defaults, 3
and 1500 ms); an acquire still failing then throws, and the request is
answered with that error instead of waiting for an unlock nobody will send.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.locks.effect import (
    TIMED_OUT,
    Call,
    Cancel,
    Program,
    Record,
    Sleep,
    Spawn,
    Subscribe,
    Token,
    Unsubscribe,
    WaitMessage,
)
from models.locks.held import Held
from models.redis.reply import ReplyError
from models.validation import positive

FAILED = object()
"""A try that still had an error reply after Redisson's retries: ``lock()`` throws."""

ACQUIRE_SCRIPT = (
    "if (redis.call('exists', KEYS[1]) == 0) or "
    "(redis.call('hexists', KEYS[1], ARGV[2]) == 1) then "
    "redis.call('hincrby', KEYS[1], ARGV[2], 1); "
    "redis.call('pexpire', KEYS[1], ARGV[1]); return nil; end; "
    "return redis.call('pttl', KEYS[1]);"
)
RENEW_SCRIPT = (
    "if (redis.call('hexists', KEYS[1], ARGV[2]) == 1) then "
    "redis.call('pexpire', KEYS[1], ARGV[1]); return 1; end; return 0;"
)
UNLOCK_SCRIPT = (
    "local val = redis.call('get', KEYS[3]); if val ~= false then return tonumber(val); end; "
    "if (redis.call('hexists', KEYS[1], ARGV[3]) == 0) then return nil; end; "
    "local counter = redis.call('hincrby', KEYS[1], ARGV[3], -1); "
    "if (counter > 0) then redis.call('pexpire', KEYS[1], ARGV[2]); "
    "redis.call('set', KEYS[3], 0, 'px', ARGV[4]); return 0; "
    "else redis.call('del', KEYS[1]); redis.call('publish', KEYS[2], ARGV[1]); "
    "redis.call('set', KEYS[3], 1, 'px', ARGV[4]); return 1; end;"
)
UNDO_SCRIPT = (
    "if (redis.call('hexists', KEYS[1], ARGV[1]) == 1) then "
    "return redis.call('del', KEYS[1]); end; return 0;"
)
UNLOCK_MESSAGE = 0


def channel_name(key: str) -> str:
    return f"redisson_lock__channel:{{{key}}}"


@dataclass(frozen=True, slots=True)
class RedissonLock:
    """``RLock.lock()`` with the watchdog lease ``ttl_ms`` (renewed every third)."""

    ttl_ms: int = 5000
    watchdog: bool = True  # False: lock(leaseTime=ttl_ms), no renewal
    wait_replicas: int = 0  # replicated mode: WAIT for this many replicas after locking
    wait_timeout_ms: int = 1000  # WAIT's timeout (Redisson's retryInterval, 1500 ms default)
    retry_attempts: int = 3  # Redisson's retryAttempts: a failed command is sent again ...
    retry_interval_ms: int = 1500  # ... this long after (its retryInterval)

    def __post_init__(self) -> None:
        """A nonsense parameter is refused here, not turned into a misleading verdict."""
        positive("ttl_ms", self.ttl_ms)
        if isinstance(self.wait_replicas, bool) or not isinstance(self.wait_replicas, int) \
                or self.wait_replicas < 0:
            raise ValueError(f"wait_replicas must be an integer >= 0, not {self.wait_replicas!r}")
        positive("wait_timeout_ms", self.wait_timeout_ms)
        if isinstance(self.retry_attempts, bool) or not isinstance(self.retry_attempts, int) \
                or self.retry_attempts < 0:
            raise ValueError(f"retry_attempts must be an integer >= 0, not {self.retry_attempts!r}")
        positive("retry_interval_ms", self.retry_interval_ms)

    @property
    def name(self) -> str:
        return "redisson"

    def _try(self, key: str, field: str) -> Program:
        """One acquire script: None when taken, else the PTTL to wait (or TIMED_OUT).

        An error reply (the node is down, a connection refused, READONLY) is sent again
        ``retry_attempts`` times, ``retry_interval_ms`` apart, as Redisson's command
        executor does; still an error: FAILED, and ``lock()`` throws."""
        yield Record("invoke", "attempt", field)
        reply = yield Call(("EVAL", ACQUIRE_SCRIPT, 1, key, self.ttl_ms, field))
        for _ in range(self.retry_attempts):
            if not isinstance(reply, ReplyError):
                break
            yield Sleep(self.retry_interval_ms)
            reply = yield Call(("EVAL", ACQUIRE_SCRIPT, 1, key, self.ttl_ms, field))
        if reply is TIMED_OUT:
            yield Record("info", "attempt", "timeout")
            return TIMED_OUT
        if reply is None:
            yield Record("ok", "attempt", field)
            return None
        if isinstance(reply, ReplyError):
            yield Record("fail", "attempt", reply.message)
            return FAILED
        yield Record("fail", "attempt")
        return reply

    def acquire(self, key: str) -> Program:
        field = yield Token()
        channel = channel_name(key)
        yield Record("invoke", "acquire", key)
        taken = yield from self._take(key, field, channel)
        while taken is not FAILED and self.wait_replicas \
                and not (yield from self._synced(key, field)):
            taken = yield from self._take(key, field, channel)  # undone: the lock() again
        if taken is FAILED:  # lock() threw (RedisException): the request fails
            yield Record("fail", "acquire", "error")
            return None
        renewal = None
        if self.watchdog:
            renewal = yield Spawn("watchdog", self.renew(key, field))
        yield Record("ok", "acquire", (field, None, self.ttl_ms))
        return Held(key, field, None, renewal)

    def _take(self, key: str, field: str, channel: str) -> Program:
        """Try, then subscribe and wait for unlock messages (bounded by PTTL) until taken
        (None) or a try failed for good (FAILED)."""
        ttl = yield from self._try(key, field)
        if ttl is not None and ttl is not FAILED:
            yield Subscribe(channel)
            while True:
                ttl = yield from self._try(key, field)  # the retry after subscribing
                if ttl is None or ttl is FAILED:
                    break
                bound = ttl if isinstance(ttl, int) and ttl >= 0 else None
                yield Record("invoke", "wait", key)
                message = yield WaitMessage(channel, bound, wake="one")
                if message is None:
                    yield Record("info", "wait", "timeout")
                else:
                    yield Record("ok", "wait")
            yield Unsubscribe(channel)
        return ttl

    def _synced(self, key: str, field: str) -> Program:
        """Replicated mode: WAIT for the replicas; too few acknowledged: undo, say False."""
        acked = yield Call(("WAIT", self.wait_replicas, self.wait_timeout_ms))
        if isinstance(acked, int) and not isinstance(acked, bool) and acked >= self.wait_replicas:
            return True
        yield Call(("EVAL", UNDO_SCRIPT, 1, key, field))  # "none of slaves were synced"
        return False

    def renew(self, key: str, field: str) -> Program:
        """The watchdog: every ttl/3, ``PEXPIRE`` while the field exists; 0 drops it silently."""
        while True:
            yield Sleep(self.ttl_ms / 3)
            yield Record("invoke", "extend", field)
            reply = yield Call(("EVAL", RENEW_SCRIPT, 1, key, self.ttl_ms, field))
            if reply is TIMED_OUT:
                yield Record("info", "extend", "timeout")
                continue  # errors are logged and the task rescheduled
            result = reply if isinstance(reply, int) else 0
            yield Record("ok", "extend", (field, result, self.ttl_ms))
            if result != 1:
                return

    def release(self, held: Held) -> Program:
        if held.watchdog is not None:
            yield Cancel(held.watchdog)
        request = yield Token()
        latch = f"redisson_unlock_latch:{{{held.key}}}:{request}"
        yield Record("invoke", "release", held.token)
        reply = yield Call(("EVAL", UNLOCK_SCRIPT, 3, held.key, channel_name(held.key), latch,
                            UNLOCK_MESSAGE, self.ttl_ms, held.token, max(1, self.ttl_ms)))
        if reply is TIMED_OUT:
            yield Record("info", "release", "timeout")
            return
        # nil (not the holder: IllegalMonitorStateException) is recorded as 0
        yield Record("ok", "release", (held.token, 1 if reply == 1 else 0))
