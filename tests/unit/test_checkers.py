"""Every checker on hand-built histories: one that holds, one that breaks, and near misses."""

from __future__ import annotations

import time
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.checkers import (
    CHECKERS,
    Verdict,
    check_all,
    check_fencing_monotonic,
    check_mutual_exclusion,
    check_no_duplicate_issue,
    check_no_lost_wakeup,
    check_no_over_issue,
    check_owner_only_release,
    check_stock_conservation,
)
from models.history import History, Recorder

K = "lock:coupon:issue:1"
Row = tuple


# -- builders ------------------------------------------------------------------------------------
def hist(*groups: Iterable[Row]) -> History:
    """Rows ``(time, process, type, f[, value[, node]])``, sorted stably by time.

    The node defaults to the process's prefix (``app1/req3`` -> ``app1``), so a
    test lists each process's rows in its own order and lets time interleave them.
    """
    rows = [row for group in groups for row in group]
    r = Recorder()
    for row in sorted(rows, key=lambda x: x[0]):
        t, proc, typ, f, *rest = row
        value = rest[0] if rest else None
        node = rest[1] if len(rest) > 1 else (proc.split("/")[0] if "/" in proc else "")
        r.record(t, proc, typ, f, value, node)
    return r.history().validate()


def init(stock: int) -> list[Row]:
    return [(0.0, "storage", "ok", "init", stock)]


def acquire(proc: str, t0: float, t1: float, token: str, ttl: int = 100,
            fence: int | None = None, key: str = K) -> list[Row]:
    return [(t0, proc, "invoke", "acquire", key), (t0, proc, "invoke", "attempt", token),
            (t1, proc, "ok", "attempt", token), (t1, proc, "ok", "acquire", (token, fence, ttl))]


def cs(proc: str, t0: float, t1: float | None, token: str, fence: int | None = None) -> list[Row]:
    rows = [(t0, proc, "ok", "enter", (token, fence))]
    if t1 is not None:
        rows.append((t1, proc, "ok", "leave", (token, fence)))
    return rows


def release(proc: str, t0: float, t1: float, token: str, result: int = 1) -> list[Row]:
    return [(t0, proc, "invoke", "release", token), (t1, proc, "ok", "release", (token, result))]


def extend(proc: str, t0: float, t1: float, token: str, result: int = 1,
           ttl: int = 100) -> list[Row]:
    return [(t0, proc, "invoke", "extend", token),
            (t1, proc, "ok", "extend", (token, result, ttl))]


def wait(proc: str, t0: float, t1: float | None = None, outcome: str = "ok",
         key: str = K) -> list[Row]:
    rows = [(t0, proc, "invoke", "wait", key)]
    if t1 is not None:
        rows.append((t1, proc, outcome, "wait", "timeout" if outcome == "info" else None))
    return rows


def coupon(proc: str, t: float, user: int, stock: int, fence: int | None = None,
           write: bool = True) -> list[Row]:
    """read (t..t+1) -> issue (t+1..t+2) -> stock write (t+2..t+3), all accepted."""
    rows = [(t, proc, "invoke", "read", user), (t + 1, proc, "ok", "read", (stock, False)),
            (t + 1, proc, "invoke", "issue", (user, fence)), (t + 2, proc, "ok", "issue")]
    if write:
        rows += [(t + 2, proc, "invoke", "stock", (stock - 1, fence)),
                 (t + 3, proc, "ok", "stock")]
    return rows


def crash(t: float, node: str) -> list[Row]:
    return [(t, "nemesis", "info", "crash", None, node)]


def procs(v: Verdict) -> set[str]:
    return {op.process for op in v.witness}


# -- mutual exclusion ----------------------------------------------------------------------------
def test_mutual_exclusion_holds_for_sequential_sections():
    h = hist(cs("app1/req1", 1, 5, "a"), cs("app2/req2", 6, 9, "b"), cs("app1/req3", 10, 11, "c"))
    v = check_mutual_exclusion(h)
    assert v.valid is True and v.witness == () and "3 critical sections" in v.summary


def test_mutual_exclusion_back_to_back_sections_touching_at_one_instant():
    h = hist(cs("app1/req1", 1, 10.0, "a"), cs("app2/req2", 10.0, 12, "b"))
    assert check_mutual_exclusion(h).valid is True


def test_mutual_exclusion_overlap_is_reported_with_story():
    h = hist(cs("app1/req3", 105.0, 6112.0, "tok-a"), cs("app2/req7", 5104.2, 5110.0, "tok-b"),
             cs("app2/req9", 6200.0, 6210.0, "tok-c"))
    v = check_mutual_exclusion(h)
    assert v.valid is False
    assert procs(v) == {"app1/req3", "app2/req7"}
    assert [op.f for op in v.witness] == ["enter", "enter", "leave"]
    assert "app1/req3 entered at 105.0 ms and left at 6112.0 ms" in v.story
    assert "app2/req7 entered at 5104.2 ms while app1/req3 was still inside" in v.story
    assert "5104.2" in v.summary


def test_mutual_exclusion_reports_the_first_overlap():
    h = hist(cs("app1/req1", 0, 100, "a"), cs("app2/req2", 50, 60, "b"),
             cs("app2/req3", 20, 30, "c"))
    v = check_mutual_exclusion(h)
    assert v.valid is False and "app2/req3" in v.summary and "app2/req2" not in procs(v)


def test_mutual_exclusion_finds_overlap_hidden_behind_same_process():
    # app1/req1's long section is the longest; its own later section must not mask app2's
    h = hist(cs("app1/req1", 0, 10, "a"), cs("app2/req2", 11, 50, "b"),
             cs("app1/req1", 51, 100, "c"), cs("app3/req4", 60, 61, "d"))
    v = check_mutual_exclusion(h)
    assert v.valid is False and procs(v) == {"app1/req1", "app3/req4"}


def test_mutual_exclusion_unfinished_section_lasts_to_the_end():
    h = hist(cs("app1/req1", 10, None, "a"), cs("app2/req2", 50, 60, "b"))
    v = check_mutual_exclusion(h)
    assert v.valid is False and "never left" in v.story and procs(v) == {"app1/req1",
                                                                         "app2/req2"}


def test_mutual_exclusion_crashed_holder_is_not_inside_any_more():
    h = hist(cs("app1/req1", 10, None, "a"), crash(20, "app1"), cs("app2/req2", 50, 60, "b"))
    assert check_mutual_exclusion(h).valid is True
    # ... but a crash of another node does not end it
    h = hist(cs("app1/req1", 10, None, "a"), crash(20, "app2"), cs("app2/req2", 50, 60, "b"))
    v = check_mutual_exclusion(h)
    assert v.valid is False


def test_mutual_exclusion_instant_sections():
    # a zero-length section strictly inside another is an overlap; at its start is not
    assert check_mutual_exclusion(hist(cs("app1/req1", 0, 10, "a"),
                                       cs("app2/req2", 5, 5, "b"))).valid is False
    assert check_mutual_exclusion(hist(cs("app2/req2", 0, 0, "b"),
                                       cs("app1/req1", 0, 10, "a"))).valid is True


def test_mutual_exclusion_no_sections():
    assert check_mutual_exclusion(hist(init(3))).valid is True


def _brute_force_overlap(sections: list[tuple[str, float, float]]) -> bool:
    """Each starts strictly before the other ends (touching instants are no proof)."""
    return any(a[0] != b[0] and a[1] < b[2] and b[1] < a[2]
               for a in sections for b in sections if a is not b)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 30), st.integers(0, 10)),
                max_size=8))
def test_mutual_exclusion_sweep_matches_brute_force(raw):
    rows, sections, busy = [], [], {}
    for who, start, length in raw:
        proc = f"app1/req{who}"
        if busy.get(proc, -1) > start:  # a process has one section at a time
            continue
        busy[proc] = start + length
        rows += cs(proc, float(start), float(start + length), f"t{len(sections)}")
        sections.append((proc, float(start), float(start + length)))
    expected = _brute_force_overlap(sections)
    assert (check_mutual_exclusion(hist(rows)).valid is False) == expected


# -- coupons -------------------------------------------------------------------------------------
def test_no_over_issue_holds_at_exactly_the_stock():
    h = hist(init(2), coupon("app1/req1", 10, 1, 2), coupon("app2/req2", 20, 2, 1))
    v = check_no_over_issue(h)
    assert v.valid is True and v.summary == "2 issued of a stock of 2"


def test_no_over_issue_violated():
    h = hist(init(2), coupon("app1/req1", 10, 1, 2), coupon("app2/req2", 20, 2, 1),
             coupon("app2/req3", 30, 3, 1))
    v = check_no_over_issue(h)
    assert v.valid is False and v.summary == "3 coupons issued from a stock of 2"
    assert procs(v) == {"storage", "app2/req3"} and "user 3" in v.story


def test_no_over_issue_ignores_rejected_and_unknown_issues():
    rows = [(30, "app2/req3", "invoke", "issue", (3, 1)),
            (31, "app2/req3", "fail", "issue", "stale-fence"),
            (32, "app2/req4", "invoke", "issue", (4, 1)),
            (33, "app2/req4", "info", "issue", "crashed")]
    h = hist(init(1), coupon("app1/req1", 10, 1, 1), rows)
    assert check_no_over_issue(h).valid is True


def test_no_over_issue_needs_an_init():
    assert check_no_over_issue(hist(coupon("app1/req1", 10, 1, 2))).valid is None


def test_no_duplicate_issue():
    ok = hist(init(5), coupon("app1/req1", 10, 1, 5), coupon("app2/req2", 20, 2, 4))
    assert check_no_duplicate_issue(ok).valid is True
    bad = hist(init(5), coupon("app1/req1", 10, 7, 5), coupon("app2/req2", 20, 2, 4),
               coupon("app2/req3", 30, 7, 3))
    v = check_no_duplicate_issue(bad)
    assert v.valid is False and "user 7" in v.summary
    assert procs(v) == {"app1/req1", "app2/req3"} and len(v.witness) == 4
    assert "app1/req1" in v.story and "app2/req3" in v.story


def test_no_duplicate_issue_ignores_a_rejected_second_issue():
    rows = [(30, "app2/req3", "invoke", "issue", (7, 1)),
            (31, "app2/req3", "fail", "issue", "stale-fence")]
    assert check_no_duplicate_issue(hist(init(5), coupon("app1/req1", 10, 7, 5), rows)).valid


def test_stock_conservation_holds():
    h = hist(init(10), coupon("app1/req1", 10, 1, 10), coupon("app2/req2", 20, 2, 9))
    v = check_stock_conservation(h)
    assert v.valid is True and "2 issued + final stock 8 == initial 10" in v.summary


def test_stock_conservation_without_any_issue():
    assert check_stock_conservation(hist(init(10))).valid is True


def test_lost_update_with_plentiful_stock():
    # both holders read 100 (overlapping sections), both write 99: one decrement lost
    h = hist(init(100), coupon("app1/req3", 10, 1, 100), coupon("app2/req7", 10.5, 2, 100))
    assert check_no_over_issue(h).valid is True  # plenty of stock: no over-issue ...
    v = check_stock_conservation(h)  # ... but the books do not balance
    assert v.valid is False and v.summary == "2 issued + final stock 99 != initial stock 100"
    reads = [op for op in v.witness if op.f == "read" and op.type == "ok"]
    assert [op.value for op in reads] == [(100, False), (100, False)]
    assert [op.value for op in v.witness if op.f == "read" and op.type == "invoke"] == [1, 2]
    assert {op.process for op in reads} == {"app1/req3", "app2/req7"}
    writes = [op for op in v.witness if op.f == "stock" and op.type == "invoke"]
    assert [op.value for op in writes] == [(99, None), (99, None)]
    assert "lost update" in v.story and "app1/req3" in v.story and "app2/req7" in v.story
    assert "read stock 100 (invoked at 10.0, answered at 11.0 ms)" in v.story


def test_stock_conservation_issue_never_followed_by_a_write():
    h = hist(init(10), coupon("app1/req1", 10, 1, 10, write=False), crash(12.5, "app1"),
             coupon("app2/req2", 20, 2, 10))
    v = check_stock_conservation(h)
    assert v.valid is False and "never followed by an accepted stock write" in v.story
    assert "app1/req1" in procs(v)


def test_stock_conservation_tolerates_a_write_of_unknown_outcome():
    # the stock write timed out: it may have landed, so the books can balance
    rows = [*coupon("app1/req1", 10, 1, 10, write=False),
            (12, "app1/req1", "invoke", "stock", (9, None)), (15, "app1/req1", "info", "stock")]
    v = check_stock_conservation(hist(init(10), rows))
    assert v.valid is True and "unknown outcomes" in v.summary


def test_stock_conservation_final_stock_is_the_last_completed_write():
    # one write certainly after the other: the later one is the final stock
    rows = [(10, "app1/req1", "invoke", "read", 1), (11, "app1/req1", "ok", "read", (10, False)),
            (11, "app1/req1", "invoke", "issue", (1, None)), (12, "app1/req1", "ok", "issue"),
            (12, "app2/req2", "invoke", "stock", (9, None)), (13, "app2/req2", "ok", "stock"),
            (14, "app1/req1", "invoke", "stock", (8, None)), (15, "app1/req1", "ok", "stock")]
    v = check_stock_conservation(hist(init(10), rows))
    assert v.valid is False and "final stock 8" in v.summary


def test_stock_conservation_concurrent_writes_either_may_be_last():
    # invoked in one order, completed in the other, overlapping: either may have landed last
    rows = [(10, "app1/req1", "invoke", "read", 1), (11, "app1/req1", "ok", "read", (10, False)),
            (11, "app1/req1", "invoke", "issue", (1, None)), (12, "app1/req1", "ok", "issue"),
            (12, "app1/req1", "invoke", "stock", (8, None)),
            (13, "app2/req2", "invoke", "stock", (9, None)),
            (14, "app2/req2", "ok", "stock"), (15, "app1/req1", "ok", "stock")]
    assert check_stock_conservation(hist(init(10), rows)).valid is True
    rows[-3] = (13, "app2/req2", "invoke", "stock", (7, None))  # neither 8 nor 7 balances
    assert check_stock_conservation(hist(init(10), rows)).valid is False


def test_stock_conservation_reads_a_new_stock_from_the_completion():
    # an atomic decrement on the server: the value is known only from the reply
    rows = [(10, "r1", "invoke", "issue", (1, None)), (10, "r1", "invoke", "stock", None),
            (12, "r1", "ok", "issue"), (12, "r1", "ok", "stock", (9,)),
            (20, "r2", "invoke", "issue", (2, None)), (20, "r2", "invoke", "stock", None),
            (22, "r2", "ok", "issue"), (22, "r2", "ok", "stock", (9,))]
    v = check_stock_conservation(hist(init(10), rows))
    assert v.valid is False and "final stock 9" in v.summary


def test_stock_conservation_needs_an_init():
    assert check_stock_conservation(hist(coupon("app1/req1", 10, 1, 2))).valid is None


# -- fencing -------------------------------------------------------------------------------------
def test_fencing_not_applicable_without_fences():
    v = check_fencing_monotonic(hist(init(5), coupon("app1/req1", 10, 1, 5)))
    assert v.valid is None


def test_fencing_monotonic_holds_with_equal_and_rising_fences():
    h = hist(init(5), coupon("app1/req1", 10, 1, 5, fence=1), coupon("app2/req2", 20, 2, 4, 2),
             coupon("app1/req3", 30, 3, 3, fence=3))
    v = check_fencing_monotonic(h)
    assert v.valid is True and "6 fenced writes" in v.summary


def test_fencing_violated_by_a_stale_write():
    # app1/req1 (fence 1) was paused; app2/req2 (fence 2) wrote; then app1/req1 wrote
    h = hist(init(5), coupon("app2/req2", 20, 2, 5, fence=2),
             [(30, "app1/req1", "invoke", "issue", (1, 1)), (31, "app1/req1", "ok", "issue")])
    v = check_fencing_monotonic(h)
    assert v.valid is False and v.summary == "fence 1 accepted after fence 2"
    assert procs(v) == {"app1/req1", "app2/req2"}
    assert "app2/req2" in v.story and "lower fence 1" in v.story


def test_fencing_a_write_sent_before_the_higher_fence_is_not_stale():
    # app1/req1 sent its fence-1 write at 15, was paused, and read the reply at 40:
    # the storage may well have applied it before the fence-2 write (20..22)
    h = hist(init(5), coupon("app2/req2", 20, 2, 5, fence=2),
             [(15, "app1/req1", "invoke", "issue", (1, 1)), (40, "app1/req1", "ok", "issue")])
    assert check_fencing_monotonic(h).valid is True


def test_fencing_rejected_writes_do_not_count_and_order_is_by_completion():
    rows = [(30, "app1/req1", "invoke", "issue", (1, 1)),
            (31, "app1/req1", "fail", "issue", "stale-fence"),
            # invoked before the fence-2 write but completed before it too: fine
            (18, "app2/req4", "invoke", "stock", (3, 1)), (19, "app2/req4", "ok", "stock")]
    h = hist(init(5), coupon("app2/req2", 20, 2, 5, fence=2), rows)
    assert check_fencing_monotonic(h).valid is True


# -- owner-only release ----------------------------------------------------------------------
def test_token_checked_release_holds():
    h = hist(acquire("app1/req1", 0, 1, "a"), release("app1/req1", 5, 6, "a"),
             acquire("app2/req2", 6, 7, "b"), release("app2/req2", 10, 11, "b"))
    v = check_owner_only_release(h)
    assert v.valid is True and "2 successful" in v.summary


def test_plain_del_release_of_someone_elses_lock():
    # app1/req1's lease (ttl 100) ran out while it was paused; app2/req2 took the lock;
    # app1/req1 woke up and a plain DEL removed app2/req2's key (result 1)
    h = hist(acquire("app1/req1", 0, 1, "tok-a"), acquire("app2/req2", 110, 111, "tok-b"),
             release("app1/req1", 200, 201, "tok-a", result=1))
    v = check_owner_only_release(h)
    assert v.valid is False
    assert procs(v) == {"app1/req1", "app2/req2"}
    assert "app1/req1" in v.summary and "app2/req2" in v.summary
    assert "returned 1" in v.story and "101.0 ms" in v.story  # the lease bound: 1 + 100


def test_token_checked_release_of_an_expired_lock_returns_zero():
    h = hist(acquire("app1/req1", 0, 1, "tok-a"), acquire("app2/req2", 110, 111, "tok-b"),
             release("app1/req1", 200, 201, "tok-a", result=0))
    assert check_owner_only_release(h).valid is True


def test_release_exactly_at_lease_expiry_is_not_flagged():
    # the lease runs to 101 (ok at 1 + ttl 100). The release starts at 101 and returns 1:
    # it ran while the key was still app1/req1's; app2/req2's SET landed after it.
    # (A rule using the release's completion and the acquire's invoke would cry wolf.)
    h = hist(acquire("app1/req1", 0, 1, "tok-a"), acquire("app2/req2", 101, 102, "tok-b"),
             release("app1/req1", 101, 103, "tok-a", result=1))
    assert check_owner_only_release(h).valid is True


def test_release_racing_the_next_set_is_not_flagged():
    # B's SET window [150, 210] overlaps the release window [200, 201]: order unknown
    h = hist(acquire("app1/req1", 0, 1, "tok-a"), acquire("app2/req2", 150, 210, "tok-b"),
             release("app1/req1", 200, 201, "tok-a", result=1))
    assert check_owner_only_release(h).valid is True


def test_extend_of_someone_elses_lock():
    h = hist(acquire("app1/req1", 0, 1, "tok-a"), acquire("app2/req2", 110, 111, "tok-b"),
             extend("app1/watchdog1", 150, 151, "tok-a", result=1))
    v = check_owner_only_release(h)
    assert v.valid is False and "extension" in v.summary and "app1/watchdog1" in procs(v)


def test_releases_of_different_keys_do_not_interfere():
    h = hist(acquire("app1/req1", 0, 1, "tok-a", key="lock:x"),
             acquire("app2/req2", 110, 111, "tok-b", key="lock:y"),
             release("app1/req1", 200, 201, "tok-a", result=1))
    assert check_owner_only_release(h).valid is True


# -- lost wake-up ----------------------------------------------------------------------------------
def test_waiter_woken_by_the_release():
    h = hist(acquire("app1/req1", 0, 1, "a"), wait("app2/req2", 2, 51),
             release("app1/req1", 49, 50, "a"), acquire("app2/req2", 51, 52, "b"),
             release("app2/req2", 60, 61, "b"))
    v = check_no_lost_wakeup(h)
    assert v.valid is True and "1 waits" in v.summary


def test_lost_wakeup_after_expiry_without_publish():
    # the holder crashed: its lease (ttl 100 from 1.0) expired at 101 and nobody published
    h = hist(acquire("app1/req1", 0, 1, "tok-a"), wait("app2/req2", 2), crash(30, "app1"),
             [(1500.0, "app2/req9", "invoke", "request", 9)])
    v = check_no_lost_wakeup(h)
    assert v.valid is False
    assert "app2/req2" in v.summary and "since 101.0 ms" in v.summary
    assert "app2/req2 started waiting at 2.0 ms" in v.story
    assert "still waiting at the history's end, 1500.0 ms" in v.story
    assert "expired by 101.0 ms" in v.story and "app1/req1" in v.story
    assert {"app1/req1", "app2/req2"} <= procs(v)


def test_lost_wakeup_bound_is_inclusive_and_adjustable():
    base = [*acquire("app1/req1", 0, 1, "tok-a"), *wait("app2/req2", 2)]
    just = hist(base, [(1101.0, "app2/req9", "invoke", "request", 9)])  # free 101 .. 1101
    assert check_no_lost_wakeup(just).valid is False
    short = hist(base, [(1100.5, "app2/req9", "invoke", "request", 9)])
    assert check_no_lost_wakeup(short).valid is True
    assert check_no_lost_wakeup(short, bound_ms=500).valid is False


def test_wait_timeout_bounds_the_damage():
    h = hist(acquire("app1/req1", 0, 1, "tok-a"), wait("app2/req2", 2, 601, outcome="info"),
             acquire("app2/req2", 601, 602, "tok-b"), release("app2/req2", 610, 611, "tok-b"))
    assert check_no_lost_wakeup(h).valid is True  # free 101..601 = 500 ms < 1000
    v = check_no_lost_wakeup(h, bound_ms=400)
    assert v.valid is False and "gave up at 601.0 ms" in v.story


def test_waiter_that_subscribes_after_the_publish():
    # app2/req2's SET failed, the holder released (and published) before app2/req2 began
    # to wait: it sleeps while the lock is free
    h = hist(acquire("app1/req1", 0, 1, "a"),
             [(2, "app2/req2", "invoke", "acquire", K), (2, "app2/req2", "invoke", "attempt", "b"),
              (3, "app2/req2", "fail", "attempt")],
             release("app1/req1", 4, 5, "a"), wait("app2/req2", 6),
             [(2000.0, "app1/req3", "invoke", "request", 3)])
    v = check_no_lost_wakeup(h)
    assert v.valid is False and "released token a by 5.0 ms" in v.story


def test_watchdog_keeps_the_lease_alive_while_the_waiter_waits():
    # the holder works for 3 s; extensions every 50 ms keep its ttl-100 lease live
    rows = acquire("app1/req1", 0, 1, "a")
    for k in range(60):
        rows += extend("app1/watchdog1", 50.0 * (k + 1), 50.0 * (k + 1) + 0.5, "a")
    h = hist(rows, wait("app2/req2", 2, 3001), release("app1/req1", 3000, 3000.5, "a"),
             acquire("app2/req2", 3001, 3002, "b"), release("app2/req2", 3010, 3011, "b"))
    assert check_no_lost_wakeup(h).valid is True
    # the watchdog's extension at 1000 answered 0: the lease is gone from then on
    rows = [r for r in rows if r[0] < 1000] + extend("app1/watchdog1", 1000, 1000.5, "a", 0)
    h = hist(rows, wait("app2/req2", 2), [(3000.0, "app1/req9", "invoke", "request", 9)])
    v = check_no_lost_wakeup(h)
    assert v.valid is False and "watchdog found token a gone" in v.story


def test_paused_waiter_is_not_blamed():
    # the lock is free from 101 on, but app2 (the waiter's node) is frozen 50 .. 1500
    h = hist(acquire("app1/req1", 0, 1, "a"), wait("app2/req2", 2, 1502),
             [(50.0, "nemesis", "info", "pause", 1450.0, "app2"),
              (1500.0, "nemesis", "info", "resume", None, "app2")],
             acquire("app2/req2", 1502, 1503, "b"), release("app2/req2", 1510, 1511, "b"))
    assert check_no_lost_wakeup(h).valid is True


def test_attempt_of_unknown_outcome_may_hold_the_lock():
    # app1/req1's SET timed out at 5: it may have set the key (ttl 100 seen elsewhere)
    h = hist([(0, "app1/req1", "invoke", "acquire", K), (0, "app1/req1", "invoke", "attempt", "a"),
              (5, "app1/req1", "info", "attempt", "timeout")],
             acquire("app3/req3", 1000, 1001, "c"), release("app3/req3", 1002, 1003, "c"),
             wait("app2/req2", 2, 1003))
    assert check_no_lost_wakeup(h).valid is True  # free only 105 .. 1000 (< 1000 ms)
    assert check_no_lost_wakeup(h, bound_ms=890).valid is False


def test_no_waits_no_problem():
    assert check_no_lost_wakeup(hist(init(1))).valid is True


# -- registry --------------------------------------------------------------------------------------
def test_registry_names():
    assert list(CHECKERS) == ["mutual-exclusion", "no-over-issue", "stock-conservation",
                              "no-duplicate-issue", "owner-only-release", "fencing-monotonic",
                              "no-lost-wakeup", "foreign-release", "foreign-renewal",
                              "resurrected-lock", "immortal-lock", "orphaned-lock",
                              "fence-grant-order", "lease-lapsed", "fenced-out-holder",
                              "no-stuck-waiter", "request-answered", "belief-exclusion",
                              "validity-exclusion"]


def test_check_all_runs_the_chosen_checkers_in_order():
    h = hist(init(3), coupon("app1/req1", 10, 1, 3))
    all_ = check_all(h)
    assert [v.property for v in all_] == list(CHECKERS)
    # the ground-truth checkers have no command log here: no evidence, not a pass
    assert [v.valid for v in all_] == [True] * 5 + [None, True] + [None] * 10 + [True, True]
    assert all("no evidence" in v.summary for v in all_[7:17])
    two = check_all(list(h), ["no-lost-wakeup", "no-over-issue"])
    assert [v.property for v in two] == ["no-lost-wakeup", "no-over-issue"]


def test_check_all_passes_parameters():
    h = hist(acquire("app1/req1", 0, 1, "a"), wait("app2/req2", 2),
             [(700.0, "app1/req9", "invoke", "request", 9)])
    (v,) = check_all(h, ["no-lost-wakeup"])
    assert v.valid is True
    (v,) = check_all(h, ["no-lost-wakeup"], {"no-lost-wakeup": {"bound_ms": 500}})
    assert v.valid is False


def test_check_all_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown checker 'mutex'; valid: mutual-exclusion, "):
        check_all(hist(init(1)), ["mutex"])
    with pytest.raises(ValueError, match="parameters for unknown"):
        check_all(hist(init(1)), params={"nope": {}})


def test_verdicts_are_immutable():
    v = check_no_over_issue(hist(init(1)))
    with pytest.raises(AttributeError):
        v.valid = False  # type: ignore[misc]


# -- scale ------------------------------------------------------------------------------------
def _big(requests: int, waiters: int = 3) -> History:
    """A contended run: each request waits, takes the lock, issues, releases (~25 ops each)."""
    r = Recorder()
    r.record(0, "storage", "ok", "init", requests)
    t, stock = 1.0, requests
    for n in range(requests):
        proc, node, tok = f"app{n % 2 + 1}/req{n}", f"app{n % 2 + 1}", f"t{n}"
        for w in range(waiters):
            other = f"app{(n + 1) % 2 + 1}/w{n}.{w}"
            r.record(t, other, "invoke", "attempt", f"x{n}.{w}", node)
            r.record(t, other, "fail", "attempt", None, node)
            r.record(t, other, "invoke", "wait", K, node)
            r.record(t + 5, other, "ok", "wait", None, node)
        r.record(t, proc, "invoke", "acquire", K, node)
        r.record(t, proc, "invoke", "attempt", tok, node)
        r.record(t + 0.1, proc, "ok", "attempt", tok, node)
        r.record(t + 0.1, proc, "ok", "acquire", (tok, n, 5000), node)
        r.record(t + 0.1, proc, "ok", "enter", (tok, n), node)
        r.record(t + 0.2, proc, "invoke", "read", n, node)
        r.record(t + 1, proc, "ok", "read", (stock, False), node)
        r.record(t + 1, proc, "invoke", "issue", (n, n), node)
        r.record(t + 2, proc, "ok", "issue", None, node)
        r.record(t + 2, proc, "invoke", "stock", (stock - 1, n), node)
        r.record(t + 3, proc, "ok", "stock", None, node)
        r.record(t + 3, proc, "ok", "leave", (tok, n), node)
        r.record(t + 3, proc, "invoke", "release", tok, node)
        r.record(t + 4, proc, "ok", "release", (tok, 1), node)
        stock -= 1
        t += 5
    return r.history()


def test_checkers_scale_to_large_histories():
    h = _big(5000)
    assert len(h) > 100_000
    started = time.perf_counter()
    verdicts = check_all(h)
    elapsed = time.perf_counter() - started
    assert [v.valid for v in verdicts] == [True] * 7 + [None] * 10 + [True] * 2, \
        [v.summary for v in verdicts]
    assert elapsed < 30, f"checkers took {elapsed:.1f} s on {len(h)} ops"


# -- the free-stretch index against brute force --------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(1, 20)), max_size=10),
       st.lists(st.tuples(st.integers(0, 60), st.integers(0, 15)), max_size=4),
       st.integers(0, 70), st.integers(0, 40))
def test_longest_free_overlap_matches_brute_force(raw_gaps, raw_pauses, w_start, w_len):
    from models.checkers.liveness import _Gaps, _Paused

    gaps, cursor = [], 0
    for skip, length in raw_gaps:  # disjoint, sorted stretches
        start = cursor + skip
        gaps.append((float(start), float(start + length), None))
        cursor = start + length + 1
    paused = _Paused([(float(s), float(s + d)) for s, d in raw_pauses])
    w_end = w_start + w_len
    got = _Gaps(gaps, paused).longest_overlap(float(w_start), float(w_end))

    def awake(s: float, e: float) -> float:  # unpaused time in [s, e], sampled per 0.5 ms
        steps = round((e - s) * 2)
        return sum(0.5 for k in range(steps)
                   if not any(ps <= s + 0.5 * k + 0.25 < ps + d for ps, d in raw_pauses))

    best = 0.0
    for s, e, _ in gaps:
        lo, hi = max(s, w_start), min(e, w_end)
        if hi > lo:
            best = max(best, awake(lo, hi))
    assert (got[0] if got else 0.0) == pytest.approx(best)


def test_owner_only_release_skips_tokens_with_a_set_of_unknown_outcome():
    # tok-a's first SET timed out; it may land late and make the key tok-a's again
    p = "app1/req1"
    rows = [(0, p, "invoke", "acquire", K), (0, p, "invoke", "attempt", "tok-a"),
            (0.5, p, "info", "attempt", "timeout"), (0.5, p, "invoke", "attempt", "tok-a"),
            (1, p, "ok", "attempt", "tok-a"), (1, p, "ok", "acquire", ("tok-a", None, 100))]
    h = hist(rows, acquire("app2/req2", 110, 111, "tok-b"),
             release("app1/req1", 200, 201, "tok-a", result=1))
    assert check_owner_only_release(h).valid is True


def test_owner_only_release_counts_a_request_that_took_its_key_again_with_the_same_token():
    """Redisson's undo-and-retry (or any retry loop keeping its token): app1/req1 sets tok-a,
    loses it (app2/req2 takes and releases the key), then sets tok-a again; its release is
    on its own lock. Without the second SET the same release hits app2/req2's lock."""
    p = "app1/req1"
    first = [(0, p, "invoke", "acquire", K), (0, p, "invoke", "attempt", "tok-a"),
             (1, p, "ok", "attempt", "tok-a")]
    again = [(130, p, "invoke", "attempt", "tok-a"), (131, p, "ok", "attempt", "tok-a"),
             (131, p, "ok", "acquire", ("tok-a", None, 100))]
    other = acquire("app2/req2", 110, 111, "tok-b") + release("app2/req2", 120, 121, "tok-b")
    mine = release(p, 200, 201, "tok-a")
    assert check_owner_only_release(hist(first, again, other, mine)).valid is True
    late = [(t + 100 if t >= 130 else t, *rest) for t, *rest in again]  # now after the release
    stolen = acquire("app2/req2", 110, 111, "tok-b")
    verdict = check_owner_only_release(hist(first, late, stolen, mine))
    assert verdict.valid is False and "app2/req2's lock" in verdict.story


def test_verdicts_compose_valid_violated_first_and_priority():
    from models.checkers import Verdict, Verdicts

    ok = Verdict("mutual-exclusion", True, "")
    unknown = Verdict("fencing-monotonic", None, "")
    bad = Verdict("no-lost-wakeup", False, "")
    worse = Verdict("stock-conservation", False, "")
    assert Verdicts([ok]).valid is True
    assert Verdicts([ok, unknown]).valid is None
    vs = Verdicts([ok, bad, unknown, worse])
    assert vs.valid is False and isinstance(vs, tuple) and len(vs) == 4
    assert [v.property for v in vs.violated] == ["stock-conservation", "no-lost-wakeup"]
    assert vs.first("fencing-monotonic") is unknown and vs.first("nope") is None
    assert vs.by_priority()[0] is worse


def test_check_all_returns_verdicts():
    from models.checkers import Verdicts

    assert isinstance(check_all(History([])), Verdicts)
