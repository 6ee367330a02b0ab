"""The ground-truth checkers on hand-built Redis logs: one case per bug shape, and its twin."""

from __future__ import annotations

from models.checkers.ground_truth import (
    KeyEffect,
    RequestSpan,
    check_foreign_release,
    check_foreign_renewal,
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
    assert v.valid is False and "A's DEL deleted B's lock" in v.summary
    assert v.cause == "deleted-successor"


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


def test_bare_pexpire_of_the_successors_lock_is_a_foreign_renewal():
    log = [fx(0, "A", "SET", "set", None, b"a", 100.0),
           fx(150, "B", "SET", "set", None, b"b"),
           fx(200, "A", "PEXPIRE", "expire", b"b", b"b")]
    v = check_foreign_renewal(log)
    assert v.valid is False and v.cause == "re-timed-successor"
    assert "A's renewal extended B's lock" in v.story
    # re-timing is its own property: the release rule is about deletes and overwrites
    assert check_foreign_release(log).valid is True


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


# -- the judges that join the log with the history's intent ----------------------------------------
from models.checkers import GroundTruth, check_all  # noqa: E402
from models.checkers.fencing import check_fence_grant_order, check_fenced_out_holder  # noqa: E402
from models.checkers.lifetimes import (  # noqa: E402
    check_lease_lapsed,
    check_no_stuck_waiter,
    check_orphaned_lock,
    check_resurrected_lock,
)
from models.history import History, Recorder  # noqa: E402


def hist(*rows: tuple) -> History:
    """Rows ``(time, process, type, f, value[, node])``; node defaults to the process's server."""
    r = Recorder()
    for t, proc, typ, f, value, *node in sorted(rows, key=lambda x: x[0]):
        r.record(t, proc, typ, f, value, node[0] if node else proc.split("/")[0])
    return r.history()


def asks(req: str, t0: float, t1: float | None, token: str = "t", fence: int | None = None,
         enter: float | None = None, leave: float | None = None) -> list[tuple]:
    rows: list[tuple] = [(t0, req, "invoke", "acquire", K)]
    if t1 is not None:
        rows.append((t1, req, "ok", "acquire", (token, fence, 5000)))
    if enter is not None:
        rows.append((enter, req, "ok", "enter", (token, fence)))
    if leave is not None:
        rows.append((leave, req, "ok", "leave", (token, fence)))
    return rows


def span(req: str, start: float, end: float | None, crashed: float | None = None) -> RequestSpan:
    return RequestSpan(req, req.split("/")[0], start, end, crashed)


A, B, C = "app1/req1", "app2/req2", "app1/req3"


def test_a_renewal_that_recreates_the_expired_key_is_a_resurrected_lock():
    log = [fx(1, A, "SET", "set", None, b"a", 1000.0),
           fx(1001, None, "-", "expired", b"a", None, None),
           fx(1500, A, "EVAL>SET", "set", None, b"a", 1000.0)]
    h = hist(*asks(A, 0, 2, enter=2, leave=1600))
    v = check_resurrected_lock(h, log, [span(A, 0, 1700)], 60_000)
    assert v.valid is False and v.cause == "re-created-after-expired"
    assert "1500.0 ms" in v.story and "not asking" in v.story


def test_taking_the_lock_again_inside_an_acquire_is_no_resurrection():
    log = [fx(1, A, "SET", "set", None, b"a", 1000.0),
           fx(1001, None, "-", "expired", b"a", None, None),
           fx(1500, A, "SET", "set", None, b"a2", 1000.0)]
    h = hist(*asks(A, 0, 2), *asks(A, 1400, 1501))  # asked twice: two acquires
    assert check_resurrected_lock(h, log, [span(A, 0, 1700)], 60_000).valid is True


def test_a_successor_taking_the_key_is_no_resurrection():
    log = [fx(1, A, "SET", "set", None, b"a", 1000.0),
           fx(1001, None, "-", "expired", b"a", None, None),
           fx(1500, B, "SET", "set", None, b"b", 1000.0)]
    h = hist(*asks(A, 0, 2), *asks(B, 10, 1501))
    assert check_resurrected_lock(h, log, [span(A, 0, 9), span(B, 5, 1700)],
                                  60_000).valid is True


def test_a_lease_that_expires_under_a_working_holder_with_no_fault_lapsed():
    log = [fx(1, A, "SET", "set", None, b"a", 500.0)]
    h = hist(*asks(A, 0, 2, enter=2, leave=1200))
    v = check_lease_lapsed(h, log, [span(A, 0, 1300)], 60_000)
    assert v.valid is False and v.cause == "expired-while-working"
    assert "501.0 ms" in v.story and "nothing that stops a correct holder" in v.story.lower()


def test_a_pause_on_the_holder_excuses_the_lapse():
    log = [fx(1, A, "SET", "set", None, b"a", 500.0)]
    rows = [*asks(A, 0, 2, enter=2, leave=1200),
            (100.0, "nemesis", "info", "pause", 900.0, "app1")]
    assert check_lease_lapsed(hist(*rows), log, [span(A, 0, 1300)], 60_000).valid is True
    # a pause on another server excuses nothing
    other = [*asks(A, 0, 2, enter=2, leave=1200),
             (100.0, "nemesis", "info", "pause", 900.0, "app2")]
    assert check_lease_lapsed(hist(*other), log, [span(A, 0, 1300)], 60_000).valid is False
    # nor does a fault that healed before the lease began, but one on Redis does
    redis = [*asks(A, 0, 2, enter=2, leave=1200),
             (300.0, "nemesis", "info", "partition", 100.0, "redis")]
    assert check_lease_lapsed(hist(*redis), log, [span(A, 0, 1300)], 60_000).valid is True


def test_a_fault_healed_before_the_holders_last_renewal_excuses_nothing():
    # paused 100..300, renewed at 400 (deadline 900), then the renewals stopped
    log = [fx(1, A, "SET", "set", None, b"a", 500.0),
           fx(400, A, "EVAL>PEXPIRE", "expire", b"a", b"a", 500.0)]
    early = hist(*asks(A, 0, 2, enter=2, leave=1200),
                 (100.0, "nemesis", "info", "pause", 200.0, "app1"))
    v = check_lease_lapsed(early, log, [span(A, 0, 1300)], 60_000)
    assert v.valid is False and "from 400.0 ms to the expiry" in v.story
    late = hist(*asks(A, 0, 2, enter=2, leave=1200),
                (500.0, "nemesis", "info", "pause", 600.0, "app1"))
    assert check_lease_lapsed(late, log, [span(A, 0, 1300)], 60_000).valid is True


def test_a_lease_released_in_time_or_expiring_after_the_section_did_not_lapse():
    released = [fx(1, A, "SET", "set", None, b"a", 500.0), fx(300, A, "EVAL>DEL", "del", b"a",
                                                             None, None)]
    h = hist(*asks(A, 0, 2, enter=2, leave=299))
    assert check_lease_lapsed(h, released, [span(A, 0, 301)], 60_000).valid is True
    renewed = [fx(1, A, "SET", "set", None, b"a", 500.0),
               fx(400, A, "EVAL>PEXPIRE", "expire", b"a", b"a", 500.0)]
    h = hist(*asks(A, 0, 2, enter=2, leave=850))
    assert check_lease_lapsed(h, renewed, [span(A, 0, 901)], 60_000).valid is True
    h = hist(*asks(A, 0, 2, enter=2, leave=950))  # 900 < 950: the renewed lease ran out inside
    assert check_lease_lapsed(h, renewed, [span(A, 0, 951)], 60_000).valid is False


def test_a_retry_with_a_new_token_orphans_the_landed_set():
    log = [fx(300, A, "SET", "set", None, b"a1"),
           KeyEffect(301, "redis", A, "SET", K, b"a1", b"a1", 4999.0, "refused", b"a2"),
           fx(5300, None, "-", "expired", b"a1", None, None),
           fx(5400, A, "SET", "set", None, b"a3")]
    h = hist(*asks(A, 0, 5401, "a3"))
    v = check_orphaned_lock(h, log, [span(A, 0, 5500)], 60_000)
    assert v.valid is False and v.cause == "abandoned-token"
    assert "asked for the lock again" in v.story


def test_a_retry_with_the_same_token_is_no_orphan():
    log = [fx(300, A, "SET", "set", None, b"a1"),
           KeyEffect(301, "redis", A, "SET", K, b"a1", b"a1", 4999.0, "refused", b"a1"),
           fx(320, A, "EVAL>DEL", "del", b"a1", None, None)]
    h = hist(*asks(A, 0, 302, "a1"))
    assert check_orphaned_lock(h, log, [span(A, 0, 330)], 60_000).valid is True


def test_an_answer_without_a_release_orphans_the_lock_unless_a_fault_lost_it():
    log = [fx(1, A, "SET", "set", None, b"a")]
    h = hist(*asks(A, 0, 2, enter=2, leave=10))
    v = check_orphaned_lock(h, log, [span(A, 0, 12)], 60_000)
    assert v.valid is False and v.cause == "answered-still-holding"
    lost = hist(*asks(A, 0, 2, enter=2, leave=10),
                (9.0, "nemesis", "info", "partition", 50.0, "app1"))
    assert check_orphaned_lock(lost, log, [span(A, 0, 12)], 60_000).valid is True
    crashed = check_orphaned_lock(h, log, [span(A, 0, None, crashed=5.0)], 60_000)
    assert crashed.valid is True  # a crash leaves the lock to its TTL: that is what TTLs are for


def test_a_waiter_asleep_on_a_free_lock_is_stuck_whatever_it_waits_on():
    log = [fx(1, A, "SET", "set", None, b"a", 1000.0),
           fx(20, A, "EVAL>DEL", "del", b"a", None, None)]
    h = hist(*asks(A, 0, 2, enter=2, leave=19), *asks(B, 5, None))  # B never gets it
    v = check_no_stuck_waiter(h, log, [span(A, 0, 21), span(B, 4, None)], 10_000)
    assert v.valid is False and v.cause == "waited-on-free-lock"
    assert "app2/req2" in v.summary
    assert check_no_stuck_waiter(h, log, [span(A, 0, 21), span(B, 4, None)], 10_000,
                                 bound_ms=20_000).valid is True


def test_a_waiter_that_gets_the_free_lock_soon_or_is_partitioned_is_not_stuck():
    log = [fx(1, A, "SET", "set", None, b"a", 1000.0),
           fx(20, A, "EVAL>DEL", "del", b"a", None, None),
           fx(120, B, "SET", "set", None, b"b", 1000.0)]
    h = hist(*asks(A, 0, 2), *asks(B, 5, 121))
    assert check_no_stuck_waiter(h, log, [span(A, 0, 21), span(B, 4, 130)],
                                 10_000).valid is True
    late = [*log[:2], fx(5000, B, "SET", "set", None, b"b", 1000.0)]
    h = hist(*asks(A, 0, 2), *asks(B, 5, 5001))
    reqs = [span(A, 0, 21), span(B, 4, 5010)]
    assert check_no_stuck_waiter(h, late, reqs, 10_000).valid is False
    cut = hist(*asks(A, 0, 2), *asks(B, 5, 5001),
               (10.0, "nemesis", "info", "partition", 4900.0, "app2"))
    assert check_no_stuck_waiter(cut, late, reqs, 10_000).valid is True


def test_fences_must_rise_in_grant_order():
    # A drew 2 while waiting, B drew 3 and won first, A won after it with the lower fence
    log = [KeyEffect(1, "redis", A, "INCR", "fence:" + K, b"1", b"2", None, "count"),
           KeyEffect(2, "redis", B, "INCR", "fence:" + K, b"2", b"3", None, "count"),
           fx(10, B, "SET", "set", None, b"b", 1000.0),
           fx(30, B, "EVAL>DEL", "del", b"b", None, None),
           fx(40, A, "SET", "set", None, b"a", 1000.0)]
    h = hist(*asks(B, 2, 11, "b", 3, enter=11, leave=29), *asks(A, 0, 41, "a", 2, enter=41))
    reqs = [span(A, 0, 60), span(B, 1, 31)]
    v = check_fence_grant_order(h, log, reqs, 10_000)
    assert v.valid is False and v.cause == "fence-below-earlier-grant"
    assert "fence 2" in v.story and "fence 3" in v.story
    in_order = [log[1], log[0], *log[2:]]  # the same grants with the fences swapped
    h2 = hist(*asks(B, 2, 11, "b", 2, enter=11, leave=29), *asks(A, 0, 41, "a", 3, enter=41))
    assert check_fence_grant_order(h2, in_order, reqs, 10_000).valid is True


def test_a_fence_drawn_after_the_holders_lease_ended_is_the_pauses_harm():
    log = [fx(1, A, "SET", "set", None, b"a", 100.0),
           fx(150, B, "SET", "set", None, b"b", 1000.0),
           KeyEffect(151, "redis", B, "INCR", "fence:" + K, b"0", b"1", None, "count"),
           KeyEffect(400, "redis", A, "INCR", "fence:" + K, b"1", b"2", None, "count")]
    h = hist(*asks(A, 0, 401, "a", 2, enter=401), *asks(B, 140, 152, "b", 1, enter=152))
    v = check_fence_grant_order(h, log, [span(A, 0, 500), span(B, 140, 500)], 10_000)
    assert v.valid is True


def test_a_refused_sole_holder_is_fenced_out():
    log = [fx(10, B, "SET", "set", None, b"b", 1000.0),
           fx(30, B, "EVAL>DEL", "del", b"b", None, None),
           fx(40, A, "SET", "set", None, b"a", 1000.0)]
    rows = [*asks(B, 2, 11, "b", 3, enter=11, leave=29),
            (12.0, B, "invoke", "read", 9), (14.0, B, "ok", "read", (5, False)),
            *asks(A, 0, 41, "a", 2, enter=41),
            (42.0, A, "invoke", "read", 8), (44.0, A, "fail", "read", "stale-fence")]
    reqs = [span(A, 0, 60), span(B, 1, 31)]
    v = check_fenced_out_holder(hist(*rows), log, reqs, 10_000)
    assert v.valid is False and v.cause == "refused-sole-holder"
    # refusing a holder whose lease ran out and was granted to B before its write is
    # fencing doing its job
    stale = [fx(1, A, "SET", "set", None, b"a", 100.0),
             fx(150, B, "SET", "set", None, b"b", 1000.0)]
    rows = [*asks(A, 0, 2, "a", 2, enter=2),
            (3.0, A, "invoke", "read", 8), (300.0, A, "fail", "read", "stale-fence"),
            *asks(B, 140, 151, "b", 3, enter=151),
            (152.0, B, "invoke", "read", 9), (154.0, B, "ok", "read", (5, False))]
    assert check_fenced_out_holder(hist(*rows), stale, [span(A, 0, 301), span(B, 140, 200)],
                                   10_000).valid is True


def test_check_all_with_a_hand_built_log_runs_every_ground_truth_judge():
    log = (fx(1, A, "SET", "set", None, b"a", 500.0),)
    h = hist(*asks(A, 0, 2, enter=2, leave=1200))
    truth = GroundTruth(log, (span(A, 0, 1300),), 60_000.0)
    verdicts = check_all(h, truth=truth)
    assert [v.property for v in verdicts.violated][:1] == ["lease-lapsed"]
    assert all(v.cause for v in verdicts if v.valid is False)
