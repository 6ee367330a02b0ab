"""The ground-truth checkers on hand-built Redis logs: one case per bug shape, and its twin."""

from __future__ import annotations

from models.checkers.ground_truth import (
    KeyEffect,
    RequestSpan,
    check_foreign_release,
    check_immortal_lock,
    check_request_answered,
)

K = "lock:coupon:issue:1"


def fx(t: float, req: str | None, cmd: str, effect: str, before: bytes | None,
       after: bytes | None, ttl: float | None = 5000.0) -> KeyEffect:
    return KeyEffect(t, "redis", req, cmd, K, before, after, ttl, effect)


def test_plain_del_of_a_successors_live_lock_is_foreign():
    log = [fx(0, "A", "SET", "set", None, b"a"),
           fx(5000, None, "-", "expired", b"a", None, None),
           fx(5100, "B", "SET", "set", None, b"b"),
           fx(5600, "A", "DEL", "del", b"b", None, None)]
    v = check_foreign_release(log)
    assert v.valid is False and "A's DEL hit B's lock" in v.summary


def test_del_after_the_successors_lease_expired_is_not_foreign():
    log = [fx(0, "A", "SET", "set", None, b"a", 100.0),
           fx(200, "B", "SET", "set", None, b"b", 100.0),
           fx(400, "A", "DEL", "del", None, None, None)]
    assert check_foreign_release(log).valid is True


def test_own_release_and_own_watchdog_are_fine():
    log = [fx(0, "A", "SET", "set", None, b"a"),
           fx(1000, "A", "EVAL>PEXPIRE", "expire", b"a", b"a"),
           fx(5500, "A", "EVAL>DEL", "del", b"a", None, None),
           fx(5600, "B", "SET", "set", None, b"b")]
    assert check_foreign_release(log).valid is True


def test_bare_pexpire_of_the_successors_lock_is_foreign():
    log = [fx(0, "A", "SET", "set", None, b"a", 100.0),
           fx(150, "B", "SET", "set", None, b"b"),
           fx(200, "A", "PEXPIRE", "expire", b"b", b"b")]
    assert check_foreign_release(log).valid is False


def test_a_shared_token_does_not_hide_the_foreign_request():
    same = b"tok"
    log = [fx(0, "A", "SET", "set", None, same, 100.0),
           fx(150, "B", "SET", "set", None, same),
           fx(300, "A", "EVAL>DEL", "del", same, None, None)]
    assert check_foreign_release(log).valid is False


def test_no_ttl_key_outliving_its_crashed_setter_is_immortal():
    log = [fx(0, "A", "SET", "set", None, b"a", None)]
    reqs = [RequestSpan("A", "app1", 0, None, crashed_at=10.0), RequestSpan("B", "app2", 5, None)]
    v = check_immortal_lock(log, reqs, 60_000)
    assert v.valid is False and "crashed" in v.story


def test_setnx_then_pexpire_that_landed_is_not_immortal():
    log = [fx(0, "A", "SET", "set", None, b"a", None),
           fx(1, "A", "PEXPIRE", "expire", b"a", b"a", 5000.0)]
    reqs = [RequestSpan("A", "app1", 0, None, crashed_at=10.0)]
    assert check_immortal_lock(log, reqs, 60_000).valid is True


def test_no_ttl_key_of_a_live_request_is_not_yet_immortal():
    log = [fx(0, "A", "SET", "set", None, b"a", None)]
    assert check_immortal_lock(log, [RequestSpan("A", "app1", 0, None)], 60_000).valid is True


def test_request_answered():
    reqs = [RequestSpan("A", "app1", 0, 100.0), RequestSpan("B", "app2", 50, None)]
    assert check_request_answered(reqs, 60_000).valid is False
    reqs = [RequestSpan("A", "app1", 0, 100.0), RequestSpan("B", "app2", 50, 9000.0)]
    assert check_request_answered(reqs, 60_000).valid is True
    assert check_request_answered(reqs, 60_000, healed_at=1000, bound_ms=2000).valid is False
    crashed = [RequestSpan("C", "app1", 0, None, crashed_at=5.0)]
    assert check_request_answered(crashed, 60_000).valid is True


def test_a_counter_is_nobodys_lock():
    fence = [KeyEffect(1.0, "redis", "a", "INCR", "f", None, b"1", None, "count"),
             KeyEffect(2.0, "redis", "b", "INCR", "f", b"1", b"2", None, "count")]
    assert check_foreign_release(fence).valid is True
    assert check_immortal_lock(fence, [RequestSpan("a", "app1", 0.0, 1.5)], 10.0).valid is True


def test_a_shared_token_released_by_its_own_request_is_fine():
    t = b"same-token"
    log = [KeyEffect(1.0, "redis", "app1/req1", "SET", "k", None, t, 100.0, "set"),
           KeyEffect(5.0, "redis", "app1/req1", "EVAL>DEL", "k", t, None, None, "del"),
           KeyEffect(6.0, "redis", "app1/req2", "SET", "k", None, t, 100.0, "set"),
           KeyEffect(9.0, "redis", "app1/req2", "EVAL>DEL", "k", t, None, None, "del")]
    assert check_foreign_release(log).valid is True
