"""The field report's system in simulation: calibration, and the 6 s pause."""

from __future__ import annotations

import pytest

from models.checkers import check_all
from models.faults import Pause
from models.metrics import metrics
from models.scenario import Scenario
from sim.world import run

COUPON_RULES = ("no-over-issue", "stock-conservation", "no-duplicate-issue")


@pytest.fixture(scope="module")
def fault_free():
    return run(Scenario())


def test_fault_free_run_matches_the_reports_table(fault_free):
    m = metrics(fault_free.history)
    assert m.issued == 957
    assert 60.0 <= m.throughput_rps <= 100.0
    assert 6.0 <= m.hold_mean_ms <= 10.0
    assert 60.0 <= m.attempts_per_success <= 150.0
    assert m.publishes == 957
    assert m.max_node_share_pct <= 55.0
    verdicts = check_all(fault_free.history)
    assert [v.property for v in verdicts if v.valid is False] == []


PAUSE = (Pause(3000.0, 6000.0, "holder"),)


def _violated(result):
    return {v.property for v in check_all(result.history) if v.valid is False}


@pytest.mark.parametrize("variant", ["open-load", "wait-timeout"])
def test_six_second_pause_breaks_seed_but_not_seed_fenced(variant):
    base = Scenario(faults=PAUSE)
    if variant == "open-load":  # users keep arriving during the pause
        base = base.with_(load="open", rate_rps=80.0)
    else:  # the report's closed load, waiters bounded by 1 s
        base = base.with_(lock_params=(("wait_timeout_ms", 1000.0),))
    seed = _violated(run(base))
    assert seed & set(COUPON_RULES), seed
    assert "mutual-exclusion" in seed
    fenced = _violated(run(base.with_(lock="seed-fenced")))
    assert not fenced & set(COUPON_RULES), fenced
    assert "fencing-monotonic" not in fenced


def test_six_second_pause_with_the_reports_own_load_only_stalls():
    """Closed load, no wait timeout: every VU waits on pub/sub, nobody retakes the
    expired lock (it publishes nothing), so the pause costs liveness, not safety."""
    violated = _violated(run(Scenario(faults=PAUSE)))
    assert violated == {"no-lost-wakeup"}
