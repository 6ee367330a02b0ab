"""The public corpus: every design registers, runs a fault-free world, and the twins stay quiet."""

from __future__ import annotations

import pytest

from models.checkers import check_all
from models.faults import DEFAULT_KINDS
from models.locks import LOCKS
from models.locks.zoo import BUGGY, CORPUS, CORRECT
from sim.search.explore import Job, run_schedule, schedule
from sim.world import run


def test_one_design_per_public_bug_class_and_twins():
    assert len(BUGGY) == 11 and len(CORRECT) >= 3
    assert set(CORPUS) <= set(LOCKS)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_fault_free_run_is_clean(name):
    sc = schedule(name, (), 1, 0).with_(faults=())
    verdicts = check_all(run(sc).history)
    # no-TTL and the rest hold when nothing goes wrong; only liveness could differ
    assert not [v.property for v in verdicts if v.valid is False], name


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_twins_never_break_ownership(name):
    for index in range(40):
        outcome = run_schedule(Job(name, DEFAULT_KINDS, 1, index))
        assert "owner-only-release" not in outcome.violated, (name, index)


def test_unconditional_del_is_caught_as_foreign_release():
    found = {p for i in range(120)
             for p in run_schedule(Job("zoo-unconditional-del", DEFAULT_KINDS, 1, i)).violated}
    assert {"foreign-release", "owner-only-release"} <= found
