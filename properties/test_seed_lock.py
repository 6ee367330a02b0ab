"""The report's lock under GC pauses: what each design promises, property by property.

``seed`` must be caught losing a stock update and shrunk to a small story;
``seed-fenced`` must keep every coupon rule on the same budget, while it may,
and does, still let two holders overlap in time (no lock prevents that).
"""

from __future__ import annotations

from hypothesis import find, given, settings

from sim.search.strategies import assert_holds, judged, scenarios

COUPON_RULES = ("no-over-issue", "stock-conservation", "no-duplicate-issue")
BUDGET = settings(max_examples=2000)


def _find(lock: str, prop: str):
    """Hypothesis finds and shrinks; delta debugging then finishes what its passes left
    (Hypothesis stops shrinking on time and call budgets, so its result alone may vary)."""
    from sim.search.shrink import shrink

    found = find(scenarios(lock, faults=("gc-pause",)),
                 lambda s: not judged(s, [prop]).holds(prop),
                 settings=settings(settings.default, max_examples=2000, database=None,
                                   derandomize=True))
    return shrink(found, prop)


def _explored(lock: str, prop: str):
    """What ``locksim check --lock LOCK --faults gc-pause --schedules 2000 --seed 1`` does:
    the first schedule violating ``prop``, shrunk. Deterministic (schedules by id)."""
    from sim.search.shrink import find

    return find(lock, ["gc-pause"], 1, 2000, prop)


def test_seed_loses_a_stock_update_and_shrinks_small():
    scenario = _explored("seed", "stock-conservation")
    assert len(scenario.faults) <= 3 and scenario.requests <= 3
    once, again = judged(scenario), judged(scenario)
    assert not once.holds("stock-conservation")
    assert once.result.trace_hash == again.result.trace_hash


def test_seed_fenced_still_overlaps_in_time():
    scenario = _explored("seed-fenced", "mutual-exclusion")
    assert len(scenario.faults) <= 3 and scenario.requests <= 3
    assert judged(scenario).holds(*COUPON_RULES)  # overlap in time, yet no coupon rule broken


def test_hypothesis_finds_the_lost_update_too():
    """Hypothesis' own search over ``scenarios`` (what users compose) finds it within
    2,000 examples; how far its shrink gets varies with the modules loaded (Hypothesis
    draws constants from them), so the size bound is the explorer's test above."""
    scenario = _find("seed", "stock-conservation")
    assert not judged(scenario).holds("stock-conservation")


@given(scenarios("seed-fenced", faults=("gc-pause",)))
def test_seed_fenced_keeps_the_coupon_rules(scenario):
    assert_holds(scenario, *COUPON_RULES, "fencing-monotonic")


@given(scenarios("seed-fenced", faults=("gc-pause", "delay", "crash")))
def test_seed_fenced_keeps_the_coupon_rules_under_mixed_faults(scenario):
    assert_holds(scenario, *COUPON_RULES, "fencing-monotonic")


def test_exhaustively_the_seed_lock_misses_a_wakeup_and_subscribing_first_does_not():
    """Every combination of a tiny world's first 10 message latencies (fastest or slowest)."""
    from sim.search.exhaustive import exhaust, tiny

    after = exhaust(tiny("seed"), depth=10)
    before = exhaust(tiny("seed", lock_params=(("subscribe", "before"),)), depth=10)
    assert after.covered and before.covered
    assert after.violations.get("no-lost-wakeup", 0) > 0
    assert before.violations == {}
