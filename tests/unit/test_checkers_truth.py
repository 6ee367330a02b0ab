"""The ground-truth machinery: causes on every verdict, leases replayed from the log, the
faults that excuse a holder, and a registry whose order and docs cover every property."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from models.checkers import (
    CHECKERS,
    GROUND_TRUTH,
    PRIORITY,
    Verdict,
    check_fencing_monotonic,
    check_mutual_exclusion,
    check_no_duplicate_issue,
    check_no_lost_wakeup,
    check_no_over_issue,
    check_owner_only_release,
    check_stock_conservation,
)
from models.checkers.ground_truth import KeyEffect, RequestSpan, check_request_answered
from models.checkers.tenure import Faults, leases, request_of
from tests.unit.test_checkers import acquire, coupon, crash, cs, hist, init, release, wait

K = "lock:coupon:issue:1"
ROOT = Path(__file__).resolve().parents[2]


def fx(t: float, req: str | None, effect: str, before: bytes | None, after: bytes | None,
       ttl: float | None = 1000.0, key: str = K) -> KeyEffect:
    return KeyEffect(t, "redis", req, effect.upper(), key, before, after, ttl, effect)


# -- causes -----------------------------------------------------------------------------------
def test_verdict_cause_defaults_to_empty_and_old_construction_still_works():
    v = Verdict("mutual-exclusion", True, "fine")
    assert v.cause == "" and v.witness == () and v.story == ""
    assert Verdict("x", False, "s", (), "story", "why").cause == "why"


@pytest.mark.parametrize("name,verdict,cause", [
    ("mutual-exclusion", lambda: check_mutual_exclusion(
        hist(cs("app1/req1", 0, 10, "a"), cs("app2/req2", 5, 6, "b"))), "overlap"),
    ("no-over-issue", lambda: check_no_over_issue(
        hist(init(1), coupon("app1/req1", 1, 1, 1), coupon("app2/req2", 10, 2, 1))),
     "over-issued"),
    ("no-duplicate-issue", lambda: check_no_duplicate_issue(
        hist(init(5), coupon("app1/req1", 1, 7, 5), coupon("app2/req2", 10, 7, 4))),
     "second-coupon"),
    ("stock-conservation", lambda: check_stock_conservation(
        hist(init(9), coupon("app1/req1", 1, 1, 9), coupon("app2/req2", 1.5, 2, 9))),
     "lost-update"),
    ("fencing-monotonic", lambda: check_fencing_monotonic(
        hist(init(5), coupon("app2/req2", 20, 2, 5, fence=2),
             [(30, "app1/req1", "invoke", "issue", (1, 1)), (31, "app1/req1", "ok", "issue")])),
     "stale-fence-accepted"),
    ("owner-only-release", lambda: check_owner_only_release(
        hist(acquire("app1/req1", 0, 1, "a"), acquire("app2/req2", 110, 111, "b"),
             release("app1/req1", 200, 201, "a"))), "released-another-lock"),
    ("no-lost-wakeup", lambda: check_no_lost_wakeup(
        hist(acquire("app1/req1", 0, 1, "a"), wait("app2/req2", 2), crash(30, "app1"),
             [(1500.0, "app2/req9", "invoke", "request", 9)])), "slept-on-free-lock"),
])
def test_every_history_checker_names_its_cause(name, verdict, cause):
    v = verdict()
    assert (v.property, v.valid, v.cause) == (name, False, cause)


def test_request_answered_causes_and_the_bound_after_healing():
    late = [RequestSpan("A", "app1", 0.0, 30_000.0)]
    v = check_request_answered(late, 60_000.0, healed_at=5_000.0, bound_ms=20_000.0)
    assert (v.valid, v.cause) == (False, "answered-late") and "healed at 5000.0" in v.story
    assert check_request_answered(late, 60_000.0, healed_at=15_000.0,
                                  bound_ms=20_000.0).valid is True
    never = [RequestSpan("A", "app1", 0.0, None)]
    v = check_request_answered(never, 60_000.0, bound_ms=20_000.0)
    assert (v.valid, v.cause) == (False, "never-answered")
    # still open at the horizon but inside its bound: no evidence against it
    recent = [RequestSpan("A", "app1", 50_000.0, None)]
    assert check_request_answered(recent, 60_000.0, bound_ms=20_000.0).valid is True
    assert check_request_answered(recent, 60_000.0).valid is False  # no bound: the horizon


def test_time_others_spent_working_does_not_count_against_the_bound():
    slow_queue = [RequestSpan("A", "app1", 0.0, 12_000.0), RequestSpan("B", "app2", 0.0, 24_000.0),
                  RequestSpan("C", "app1", 0.0, 36_000.0)]
    working = [(0.0, 12_000.0), (12_000.0, 24_000.0), (24_000.0, 36_000.0)]
    assert check_request_answered(slow_queue, 60_000.0, bound_ms=20_000.0,
                                  working=working).valid is True
    v = check_request_answered(slow_queue, 60_000.0, bound_ms=20_000.0)
    assert (v.valid, v.cause) == (False, "answered-late")
    # idle stretches add up: 2 x 11 s with nobody at work is over a 20 s bound
    gaps = [(11_000.0, 12_000.0), (23_000.0, 24_000.0)]
    v = check_request_answered([RequestSpan("D", "app1", 0.0, 24_000.0)], 60_000.0,
                               bound_ms=20_000.0, working=gaps)
    assert v.valid is False and "22000.0 ms after 0.0 ms" in v.story


def test_check_all_counts_critical_sections_as_work_until_a_crash():
    from models.checkers import GroundTruth, check_all

    h = hist(cs("app1/req1", 0.0, None, "a"), crash(15_000.0, "app1"),
             [(0.0, "app2/req2", "invoke", "request", 2)])
    spans = (RequestSpan("app1/req1", "app1", 0.0, None, 15_000.0),
             RequestSpan("app2/req2", "app2", 0.0, None))
    (v,) = check_all(h, ["request-answered"], truth=GroundTruth((), spans, 60_000.0))
    # working 0..15 s (then the holder crashed), healed at 15 s: idle 15..60 s
    assert (v.valid, v.cause) == (False, "never-answered")
    (v,) = check_all(h, ["request-answered"], truth=GroundTruth((), spans, 30_000.0))
    assert v.valid is True  # 15 s idle after the crash: inside the bound at the horizon


# -- leases -----------------------------------------------------------------------------------
def test_leases_end_by_expiry_release_foreign_delete_and_overwrite():
    log = [fx(0, "A", "set", None, b"a", 100.0),                 # expires at 100, unobserved
           fx(150, "B", "set", None, b"b"),
           fx(300, "B", "expire", b"b", b"b", 1000.0),           # B renews its own: deadline 1300
           fx(400, "C", "del", b"b", None, None),                # C deletes B's
           fx(500, "C", "set", None, b"c"),
           fx(600, "C", "del", b"c", None, None),                # released by its own request
           fx(700, "D", "set", None, b"d"),
           fx(800, "E", "set", b"d", b"e"),                      # E overwrites D's
           fx(900, "E", "set", b"e", b"e2")]                     # the same holder's new value
    got = [(g.request, g.start, g.end, g.ended) for g in leases(log, 10_000.0)]
    assert got == [("A", 0, 100.0, "expired"), ("B", 150, 400, "deleted"),
                   ("C", 500, 600, "released"), ("D", 700, 800, "overwritten"),
                   ("E", 800, 1900.0, "expired")]
    b = leases(log, 10_000.0)[1]
    assert [e.time for e in b.renewals] == [300]


def test_a_lease_is_live_as_long_as_redis_said_so():
    # the next command saw the key still there (before == value): Redis's word wins
    log = [fx(0, "A", "set", None, b"a", 100.0), fx(100.5, "B", "set", b"a", b"b")]
    (a, b) = leases(log, 1000.0)
    assert (a.ended, a.end) == ("overwritten", 100.5) and b.request == "B"
    # it saw the key absent: the lease had expired by its deadline
    log = [fx(0, "A", "set", None, b"a", 100.0), fx(120, "B", "set", None, b"b")]
    first = leases(log, 1000.0)[0]
    assert (first.ended, first.end) == ("expired", 100.0)


def test_no_ttl_leases_stay_open_and_counters_are_nobodys():
    log = [fx(0, "A", "set", None, b"a", None),
           fx(1, "A", "count", None, b"1", None, key="fence:x"),
           fx(2, "B", "count", b"1", b"2", None, key="fence:x")]
    (a,) = leases(log, 500.0)
    assert (a.ended, a.end, a.deadline) == ("open", 500.0, math.inf)


def test_refusals_attach_to_the_lease_that_refused_them():
    log = [fx(0, "A", "set", None, b"a"),
           KeyEffect(5, "redis", "A", "SET", K, b"a", b"a", 995.0, "refused", b"a2")]
    (a,) = leases(log, 10_000.0)
    assert [e.wanted for e in a.refused] == [b"a2"]


def test_request_of_maps_spawned_tasks_to_their_request():
    names = {"app1/req3", "app2/req1"}
    assert request_of("app1/req3/watchdog", names) == "app1/req3"
    assert request_of("app1/req3", names) == "app1/req3"
    assert request_of("nemesis", names) is None and request_of("app1/req30", names) is None


# -- faults -----------------------------------------------------------------------------------
def test_fault_windows_use_each_faults_own_length():
    h = hist([(10.0, "nemesis", "info", "pause", 100.0, "app1"),
              (20.0, "nemesis", "info", "pause", 500.0, "app1"),
              (110.0, "nemesis", "info", "resume", None, "app1"),   # ends the short one only
              (600.0, "nemesis", "info", "delay", (50.0, 200.0), "app2"),
              (900.0, "nemesis", "info", "crash", None, "app2"),
              (950.0, "nemesis", "info", "restart", None, "app2"),
              (1000.0, "nemesis", "info", "clock", (300.0, 0.0), "app1"),   # a jump: no excuse
              (1100.0, "nemesis", "info", "clock", (0.0, -0.1), "app2"),    # slower timers
              (1200.0, "nemesis", "info", "partition", 100.0, "redis")])
    f = Faults(h)
    assert f.frozen("app1").within(0, 600) == pytest.approx(510.0)  # 10..520 merged
    assert f.touching("app2", 700, 800).kind == "delay"            # 600 + 200 + 50
    assert f.touching("app2", 860, 890) is None
    assert f.touching("app2", 920, 930).kind == "crash"
    assert f.touching("app1", 5000, 6000) is None                   # timers ignore a jump
    assert f.touching("app2", 5000, 6000).kind == "clock"           # a slower clock stays
    assert f.touching("app1", 1250, 1260).kind == "partition"       # Redis's reaches all
    assert f.last_heal == 1300.0


# -- registry and docs --------------------------------------------------------------------------
def test_every_property_is_ranked_and_bug_classes_come_before_their_harm():
    assert set(CHECKERS) <= set(PRIORITY)
    rank = PRIORITY.index
    for bug in ("foreign-release", "foreign-renewal", "resurrected-lock", "immortal-lock",
                "orphaned-lock", "fence-grant-order", "lease-lapsed"):
        for harm in ("stock-conservation", "mutual-exclusion", "owner-only-release",
                     "request-answered", "no-stuck-waiter"):
            assert rank(bug) < rank(harm), (bug, harm)
    assert rank("fence-grant-order") < rank("fenced-out-holder") < rank("fencing-monotonic")
    assert rank("no-stuck-waiter") < rank("no-lost-wakeup") < rank("request-answered")


def test_every_checker_has_a_one_line_doc_and_the_readme_lists_it():
    readme = (ROOT / "README.md").read_text()
    rows = set(re.findall(r"^\| `([a-z-]+)` \| ", readme, flags=re.M))
    docs = (ROOT / "docs" / "ground-truth.md").read_text()
    for name, fn in CHECKERS.items():
        first = (fn.__doc__ or "").strip().splitlines()[0]
        assert first.endswith("."), f"{name}: `locksim list` shows only {first!r}"
        assert name in rows, f"README's properties table misses {name}"
        if name in GROUND_TRUTH:
            assert f"### {name}" in docs, f"docs/ground-truth.md misses {name}"
